//! `infrakit-flavor-vanilla`: the plain flavor. Its Properties add boot script lines, tags and
//! attachments to every instance of a group; every instance is reported healthy.
//!
//! Layout:
//! - [`properties`]: parsing and validating the Properties, collecting every violation.
//! - [`service`]: the `infrakit.flavor.v1.Flavor` gRPC service.

pub mod properties;
pub mod service;

pub use service::Vanilla;

/// The plugin kind (and default name).
pub const KIND: &str = "flavor-vanilla";
