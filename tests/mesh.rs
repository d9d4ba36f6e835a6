//! Integration tests: the real binaries over real sockets. Build them first with
//! `cargo build --workspace --bins`; `.ci/setup` installs grpcurl and Python's grpcio-tools.

// Tests fail loudly: unwrap and expect are how a broken expectation is reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The harness is shared by the topic modules of this one test crate.
#![allow(unreachable_pub)]

mod support;

mod compose;
mod compose_ha;
mod discovery;
mod file_plugin;
mod group;
mod group_support;
mod grpcurl;
mod ikctl;
mod ikctl_group;
mod ikctl_replicas;
mod keepalive;
mod listener;
mod logs;
mod plugin_host;
mod python_client;
mod readme;
mod reflection;
