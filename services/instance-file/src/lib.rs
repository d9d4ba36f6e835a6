//! `infrakit-instance-file`: an instance plugin whose instances are JSON files, one per instance,
//! in a directory. Deleting a file is how a dead machine is simulated; the plugin notices at once
//! (inotify) and reports the instance gone through `WatchInstances`.
//!
//! Layout:
//! - [`record`]: the on-disk format of one instance.
//! - [`store`]: the directory plus an in-memory index kept in sync with it, and change events.
//! - [`sync`]: filesystem notifications and a periodic rescan feeding the store.
//! - [`service`]: the `infrakit.instance.v1.Instance` gRPC service.
//! - [`listing`]: DescribeInstances encoded straight from the index, without a description
//!   per instance in memory first.

pub mod listing;
pub mod record;
pub mod service;
pub mod store;
pub mod sync;

pub use service::FileInstance;
pub use store::Store;

/// The plugin kind (and default name).
pub const KIND: &str = "instance-file";
