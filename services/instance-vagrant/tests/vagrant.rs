//! Integration tests of `infrakit-instance-vagrant` against the real Vagrant (docker provider)
//! and the real Docker engine: the real binaries on unix sockets, an image built from local
//! files in each test (nothing is pulled, Vagrant never goes online), and everything a test
//! creates removed when it ends, also when it fails. Without Vagrant or an engine they fail;
//! `INFRAKIT_SKIP_VAGRANT=1` or `INFRAKIT_SKIP_DOCKER=1` skips them explicitly.

// Tests fail loudly: unwrap and expect are how a broken expectation is reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The harness is shared by the topic modules of this one test crate.
#![allow(unreachable_pub)]
// Polling helpers block between checks; they never wait a fixed time for readiness.
#![allow(clippy::disallowed_methods)]

mod support;

mod failures;
mod fence;
mod gone;
mod group;
mod lifecycle;
mod pets;
