//! `infrakit-flavor-vanilla`: the plain flavor. Its Properties add boot script lines, tags and
//! attachments to every instance of a group. Every instance is healthy unless Properties give a
//! `HealthCheck` command, whose exit status is then the verdict.
//!
//! Layout:
//! - [`check`]: running a `HealthCheck` command for one instance.
//! - [`properties`]: parsing and validating the Properties, collecting every violation.
//! - [`service`]: the `infrakit.flavor.v1.Flavor` gRPC service.

pub mod check;
pub mod properties;
pub mod service;

pub use service::Vanilla;

/// The plugin kind (and default name).
pub const KIND: &str = "flavor-vanilla";
