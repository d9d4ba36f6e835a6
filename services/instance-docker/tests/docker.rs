//! Integration tests of `infrakit-instance-docker` against the real Docker engine: the real
//! binaries on unix sockets, images built from local files in each test (nothing is pulled), and
//! everything a test creates removed when it ends, also when it fails. Without an engine they
//! fail; `INFRAKIT_SKIP_DOCKER=1` skips them explicitly.

// Tests fail loudly: unwrap and expect are how a broken expectation is reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The harness is shared by the topic modules of this one test crate.
#![allow(unreachable_pub)]
// Polling helpers block between checks; they never wait a fixed time for readiness.
#![allow(clippy::disallowed_methods)]

mod support;

mod fence;
mod group;
mod lifecycle;
mod tls;
mod watch;
