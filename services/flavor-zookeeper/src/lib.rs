//! `infrakit-flavor-zookeeper`: InfraKit flavor plugin that makes a group of pets a ZooKeeper
//! ensemble. The group's logical IDs are the members' addresses; Prepare gives each member an
//! Init script that writes its `myid` and `zoo.cfg` (the whole ensemble's `server.N` list) and
//! `exec`s ZooKeeper; Healthy asks the member itself with four-letter words; Drain keeps a
//! serving member while the others could not keep a quorum without it.
//!
//! Layout:
//! - [`properties`]: parsing and validating the Properties, collecting every violation.
//! - [`ensemble`]: the members from the group's allocation (addresses, `myid`s, `server.N`).
//! - [`config`]: one member's `zoo.cfg`.
//! - [`script`]: one member's Init script.
//! - [`probe`]: four-letter words over TCP, and reading their answers.
//! - [`health`]: the verdict from a member's answers, its age and its history.
//! - [`drain`]: the quorum guard run before a member is removed.
//! - [`service`]: the `infrakit.flavor.v1.Flavor` gRPC service.

pub mod config;
pub mod drain;
pub mod ensemble;
pub mod health;
pub mod probe;
pub mod properties;
pub mod script;
pub mod service;

pub use service::Zookeeper;

/// The plugin kind (and default name).
pub const KIND: &str = "flavor-zookeeper";
