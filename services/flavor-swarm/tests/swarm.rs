//! Integration tests of `infrakit-flavor-swarm` against the real Docker engine and a real swarm:
//! the local engine as the first manager (initialised by each test, left again at its end), and
//! docker-in-docker containers from `infrakit/dind:local` (`bash tests/setup/dind-image.sh`) as the
//! instances that join, started directly or through the real Docker instance plugin and group
//! controller. Everything a test creates is removed when it ends, also when it fails. Without an
//! engine they fail; `INFRAKIT_SKIP_DOCKER=1` skips them explicitly.

// Tests fail loudly: unwrap and expect are how a broken expectation is reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The harness is shared by the topic modules of this one test crate.
#![allow(unreachable_pub)]
// Polling helpers block between checks; they never wait a fixed time for readiness.
#![allow(clippy::disallowed_methods)]

mod support;

mod dind;
mod group;
mod host;
