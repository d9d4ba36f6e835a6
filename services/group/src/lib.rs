//! `infrakit-group`: the default Group plugin. It keeps each committed group converged to its
//! spec, heals it, and rolls it to new configurations, deciding with the pure planner in
//! `infrakit-group-core` and acting through the instance and flavor plugins over gRPC.
//!
//! Layout:
//! - [`ports`]: the seam: the instance and flavor plugins, the store and the clock as small
//!   traits, so the driver is tested with fakes under tokio's paused time.
//! - [`grpc`]: the production plugin ports (gRPC clients found by name).
//! - [`store`]: the production store: one JSON file per group, written atomically.
//! - `observer`: builds the complete observation of a group (DescribeInstances + Healthy).
//! - `ops`: one planned action carried out as an operation of its own.
//! - `worker`: one loop per group: observe, plan, store, start operations, record outcomes.
//! - [`manager`]: the set of groups and the operations on them.
//! - [`error`]: the controller's errors, mapped to gRPC codes at the service edge.
//! - [`events`]: the group event log and its broadcast.
//! - [`service`]: the `infrakit.group.v1.Group` gRPC service.
//! - `convert`: planner types to protobuf messages.

mod convert;
pub mod error;
pub mod events;
mod feeds;
pub mod grpc;
pub mod ha;
pub mod manager;
mod observer;
mod ops;
pub mod ports;
pub mod service;
pub mod store;
mod worker;

#[cfg(test)]
mod tests;

/// The plugin kind; its default name is `group`.
pub const KIND: &str = "group";

/// Now, on the system's wall clock, as the planner's [`infrakit_group_core::Time`].
pub(crate) fn wall_clock() -> infrakit_group_core::Time {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    infrakit_group_core::Time::from_millis(ms)
}
