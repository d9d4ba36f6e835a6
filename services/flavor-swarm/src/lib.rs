//! `infrakit-flavor-swarm`: the Docker Swarm flavor. Prepare renders a boot script that labels an
//! instance's Docker engine and joins it to a swarm as a worker or a manager (tokens and manager
//! addresses read from a manager's engine); Healthy finds the instance's swarm node by that label
//! and judges it; Drain demotes, drains and removes the node.
//!
//! Layout:
//! - [`properties`]: the flavor Properties (`Role`, `JoinAddresses`, `JoinTimeout`, ...), checked
//!   with JSON paths; [`units`]: the string formats they use (addresses, label names).
//! - [`link`]: how an instance is matched to its node (tag and engine label names, the link ID).
//! - [`script`]: the boot script (pure); [`prepare`]: the finished instance spec (pure).
//! - [`engine`]: connecting to the manager's engine (API version negotiated), errors as statuses.
//! - [`nodes`]: reading join tokens, manager addresses and nodes from the manager.
//! - [`health`]: the verdict on a node (pure) and what is remembered between Healthy calls.
//! - [`drain`]: demote, drain and remove a node.
//! - [`service`]: the `infrakit.flavor.v1.Flavor` gRPC service.
//!
//! # Guarantees
//! - Prepare is deterministic: the link ID comes from the request (group, provision sequence and
//!   token, logical ID), the rest from the swarm's current tokens and managers.
//! - Only nodes carrying this flavor's labels (`infrakit.link`, `infrakit.group`) are ever
//!   changed or removed, never the manager the plugin talks to.
//! - Draining an instance whose node is already gone succeeds.

pub mod drain;
pub mod engine;
pub mod health;
pub mod link;
pub mod nodes;
pub mod prepare;
pub mod properties;
pub mod script;
pub mod service;
pub mod units;

pub use service::SwarmFlavor;

/// The plugin kind (and default name).
pub const KIND: &str = "flavor-swarm";
