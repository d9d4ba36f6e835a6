//! `infrakit-instance-terraform`: an instance plugin that provisions through Terraform. Each
//! instance is one `<id>.tf.json` file in one working directory per plugin; Terraform applies
//! the directory in the background, in batches, one run at a time.
//!
//! Layout:
//! - [`properties`]: the instance Properties (`resource`, `extra`, `check`, `mapping`), checked
//!   with JSON paths; [`mapping`]: where tags and the Init go for each resource type.
//! - [`names`]: IDs, file and resource names, placeholders, escaping for Terraform.
//! - [`render`]: an instance as Terraform JSON: the file that creates it, the `removed` blocks
//!   that destroy it (with its destroy-time provisioners), a pet's kept resources.
//! - [`record`]: the sidecar that makes a restarted plugin know every instance and its phase.
//! - [`tfjson`]: reading `terraform show -json` and the `-json` diagnostics.
//! - [`judge`]: what a plan or a state says about one instance (created, lost, failed,
//!   destroyed), as pure functions; [`batch`]: when the next cycle runs.
//! - [`disk`]: atomic file writes; [`store`]: the directory plus the in-memory index and events.
//! - [`terraform`]: running the command, the directory lock; [`engine`]: the background cycle.
//! - [`service`]: the `infrakit.instance.v1.Instance` gRPC service.
//!
//! # Guarantees
//! - No RPC waits for Terraform: Provision writes the file and returns; the instance is listed
//!   as PENDING until Terraform has created it, TERMINATING until it has destroyed it.
//! - One Terraform command runs at a time per directory (a lock file, with a timeout), and a
//!   burst of calls becomes one apply.
//! - Destroy runs the resources' destroy-time provisioners (`removed` blocks), also for an
//!   instance whose file was deleted by hand or whose resource left the state.
//! - A restarted plugin finishes what the previous one left pending; an apply that was running
//!   when it stopped is never interrupted.

pub mod batch;
pub mod disk;
pub mod engine;
pub mod judge;
pub mod mapping;
pub mod names;
pub mod properties;
pub mod record;
pub mod render;
pub mod service;
pub mod store;
pub mod terraform;
pub mod tfjson;

pub use engine::{Engine, Timing};
pub use service::TerraformInstance;
pub use store::Store;

/// The plugin kind (and default name).
pub const KIND: &str = "instance-terraform";
