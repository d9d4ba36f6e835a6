//! `infrakit-testkit`: what the plugins' integration tests share.
//!
//! Every integration test of a plugin runs the REAL binaries on real unix sockets and talks gRPC
//! to them. This crate holds the harness those tests used to copy from one another:
//!
//! - [`Mesh`]: one test's world: a short temporary directory (socket paths must stay under 107
//!   bytes) with a plugins directory, and the processes the test started, killed when it is
//!   dropped. [`Mesh::start`] runs a plugin binary as `--name NAME` and waits until its socket
//!   answers `grpc.health` with SERVING; [`Mesh::start_group`] and [`Mesh::start_vanilla`] run
//!   the group controller and the vanilla flavor for a group test.
//! - [`Proc`]: a started process with its stderr log, killed (with its process group when it
//!   leads one) when dropped.
//! - [`Blocking`]: a generated gRPC client with the runtime its channel lives on, for blocking
//!   test code; [`Instance`], [`Flavor`] and [`GroupHarness`] add the calls tests make most
//!   (Provision, Describe, Destroy, Watch, the states by ID; CommitGroup, DescribeGroup,
//!   DestroyGroup, waiting until a group converged).
//! - [`bin`]: a workspace binary next to the test executable; [`eventually`]: polling a
//!   condition with a deadline, never a fixed sleep for readiness.
//! - [`Instance::assert_fences`] and [`assert_fence_refused`]: the fence check every instance
//!   plugin passes (a deposed group owner's calls are refused, also after a restart).
//! - [`docker`] and [`procfs`]: the Docker CLI and `/proc` helpers several crates clean up with.
//!
//! What is specific to one crate (its backend tool, its cleanup by label or environment, its
//! ports) stays in that crate's `tests/support`: an `Env` struct holding a [`Mesh`] in a field
//! `mesh` (with [`deref_mesh!`] so that tests call the mesh's methods on it) and a `Drop` that
//! calls [`Mesh::kill_all`] before removing what the backend made.
//!
//! ```ignore
//! let mut env = Env::new("group")?; // wraps Mesh::new("ikd")
//! env.start_plugin();               // Mesh::start of the plugin under test
//! env.start_vanilla();
//! env.start_group(&["--health-interval", "200ms"]);
//! let mut g = env.group();
//! g.commit(&spec);
//! g.wait_converged("web", 3, PATIENCE);
//! ```
//!
//! The tests are blocking (`#[test]`), as are these helpers: each client owns a small tokio
//! runtime and blocks on its calls.

// This is test support: a failed expectation panics with a message, as tests report failures.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Blocking polls sleep between checks of a condition; they never wait a fixed time for
// readiness (see `eventually`).
#![allow(clippy::disallowed_methods)]

mod bin;
mod client;
pub mod docker;
pub mod etcd;
mod fence;
mod group;
mod instance;
mod mesh;
mod pki;
mod port;
mod proc;
pub mod procfs;
mod wait;

pub use bin::{bin, bin_dir};
pub use client::{Blocking, Flavor, channel, runtime, serving, violation_paths};
pub use fence::assert_fence_refused;
pub use group::GroupHarness;
pub use instance::{Instance, fence, instance_spec, props, spec, tags, with_token};
pub use mesh::Mesh;
pub use pki::write_test_pki;
pub use port::free_port;
pub use proc::Proc;
pub use rustix::process::Signal;
pub use wait::{eventually, skip};
