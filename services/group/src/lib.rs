//! `infrakit-group`: the default Group plugin. It keeps each committed group converged to its
//! spec, heals it, and rolls it to new configurations, deciding with the pure planner in
//! `infrakit-group-core` and acting through the instance and flavor plugins over gRPC.
//!
//! Layout:
//! - [`store`]: committed specs and controller state on disk (atomic writes), so a restarted
//!   controller resumes every group and every unfinished update.
//! - [`plugins`]: gRPC clients of the instance and flavor plugins, found by name.
//! - [`observer`]: builds the complete observation of a group (DescribeInstances + Healthy).
//! - [`executor`]: carries out planned actions with bounded parallelism.
//! - [`events`]: the group event log and its broadcast.
//! - [`worker`]: one reconcile loop per group: observe, plan, persist, act.
//! - [`manager`]: the set of groups and the operations on them.
//! - [`service`]: the `infrakit.group.v1.Group` gRPC service.
//! - [`convert`]: planner types to protobuf messages.

pub mod convert;
pub mod events;
pub mod executor;
pub mod manager;
pub mod observer;
pub mod plugins;
pub mod service;
pub mod store;
pub mod worker;

/// The plugin kind; its default name is `group`.
pub const KIND: &str = "group";

/// Now, on the wall clock the planner's [`infrakit_group_core::Time`] is measured on.
pub fn now() -> infrakit_group_core::Time {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    infrakit_group_core::Time::from_millis(ms)
}
