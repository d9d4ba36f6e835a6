//! Integration tests of `infrakit-instance-process`: the real plugin binary on a real unix
//! socket, driven over gRPC, running real processes. Every process a test starts is killed when
//! the test ends, also when it fails (see `support::Env`).

// Tests fail loudly: unwrap and expect are how a broken expectation is reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The harness is shared by the topic modules of this one test crate.
#![allow(unreachable_pub)]
// Polling helpers block between checks; they never wait a fixed time for readiness.
#![allow(clippy::disallowed_methods)]

mod support;

mod destroy;
mod exits;
mod fence;
mod group;
mod lifecycle;
mod restart;
