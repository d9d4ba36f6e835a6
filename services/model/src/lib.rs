//! Pure types shared by every InfraKit crate: no async, no gRPC, and no I/O but [`atomic`]
//! (the one file writer every crate shares).
//!
//! Layout:
//! - [`atomic`]: replacing a file atomically and durably, mode 0600 by default.
//! - [`violation`]: a bad input, named by its JSON path, with the fix.
//! - [`name`]: plugin names `lookup[/subtype]`.
//! - [`suggest`]: "did you mean" suggestions.
//! - [`properties`]: opaque plugin Properties whose `Debug` never shows their content.
//! - [`tags`]: the tag names the group controller writes on instances.
//! - [`object`]: reading a JSON object at a path; unknown fields with a did-you-mean.
//! - [`json_path`]: building JSON paths such as `$.Properties.Allocation.Size`; shape checks.
//! - [`duration`]: durations as specs, Properties and flags write them (`"1m30s"`).

pub mod atomic;
pub mod duration;
pub mod json_path;
pub mod name;
pub mod object;
pub mod properties;
pub mod suggest;
pub mod tags;
pub mod violation;

pub use name::PluginName;
pub use properties::Properties;
pub use violation::{Violation, Violations};
