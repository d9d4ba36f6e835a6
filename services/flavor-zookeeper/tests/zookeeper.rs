//! Tests of the real `infrakit-flavor-zookeeper` binary over gRPC, with Debian's real ZooKeeper:
//! - `flavor`: Validate and Prepare errors; three members from Prepare's Init scripts run by the
//!   test, Healthy from UNKNOWN to HEALTHY, a killed member UNHEALTHY, Drain's quorum guard.
//! - `group`: the real group controller and process instance plugin run an ensemble of pets:
//!   it forms, heals a killed member with the same identity, and rolls a settings change one
//!   member at a time while a kazoo client keeps writing, losing no acknowledged write.

// Tests fail loudly: unwrap and expect are how a broken expectation is reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The harness is shared by the topic modules of this one test crate.
#![allow(unreachable_pub)]
// Polling helpers block between checks; they never wait a fixed time for readiness.
#![allow(clippy::disallowed_methods)]

mod support;

mod flavor;
mod group;
