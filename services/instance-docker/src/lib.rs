//! `infrakit-instance-docker`: an instance plugin whose instances are Docker containers on one
//! engine, reached with bollard over the engine's unix socket (or TCP, with TLS).
//!
//! Layout:
//! - [`properties`]: the instance Properties (`Image`, `Command`, `Ports`, ...), checked with
//!   JSON paths; [`units`]: the small string formats they use (`"256m"`, `"8080:80/tcp"`).
//! - [`labels`]: instance ↔ container mapping: names (the instance ID), tags as labels,
//!   ownership, states.
//! - [`container`]: the container-create body, including how the flavor's Init runs.
//! - [`overlay`]: tag changes Docker cannot store on a container, persisted in the state
//!   directory.
//! - [`engine`]: connecting (API version negotiated) and engine errors as gRPC statuses.
//! - [`events`]: the engine's event stream as WatchInstances events.
//! - [`ops`]: the engine-side work behind the calls (list, inspect, create, start, destroy).
//! - [`service`]: the `infrakit.instance.v1.Instance` gRPC service.
//!
//! # Guarantees
//! - Only containers labelled `infrakit.instance-docker=<this plugin's name>` are ever listed,
//!   labelled or destroyed; everything else on the engine is left alone.
//! - Images are never pulled: Validate and Provision fail, naming `Image`, when it is missing.
//! - Provision is idempotent by the `infrakit.provision.token` tag.

pub mod container;
pub mod engine;
pub mod events;
pub mod labels;
pub mod ops;
pub mod overlay;
pub mod properties;
pub mod service;
pub mod units;

pub use service::DockerInstance;

/// The plugin kind (and default name).
pub const KIND: &str = "instance-docker";
