//! `infrakit-instance-vagrant`: an instance plugin whose instances are Vagrant machines, one
//! directory per instance holding a generated Vagrantfile. Vagrant's built-in **docker**
//! provider is the default (and what the tests run); a **virtualbox** Vagrantfile is rendered
//! when asked for.
//!
//! Unlike the original InfraKit plugin, which ran `vagrant up` inside the Provision call for
//! minutes, Provision here writes the directory, lists the instance (PENDING, `State: creating`)
//! and returns; `vagrant up` runs in the background and its progress (the last lines of its
//! output) shows in DescribeInstances' properties.
//!
//! Layout:
//! - [`properties`]: the instance Properties (`Image`, `Box`, `Memory`, `CPUs`, ...), checked
//!   with JSON paths.
//! - [`naming`]: instance IDs (from the provision token), logical IDs as host names or IPs.
//! - [`plan`]: a whole Provision request checked before anything is created.
//! - [`template`]: Vagrantfile templates with `{{NAME}}` placeholders rendered as Ruby literals.
//! - [`vagrantfile`]: the values of the placeholders: labels, command, `docker run` arguments.
//! - [`record`]: the files of an instance's directory.
//! - [`store`]: the instances directory and its in-memory index, with change events.
//! - [`vagrant`]: running `vagrant` (no network, output logged and tailed, interruptible).
//! - [`docker`]: the few questions asked of the Docker engine (image, network, containers).
//! - [`ops`]: provision in the background, destroy, cleanup, resuming after a restart.
//! - [`monitor`]: observing the machines (exited, removed behind the plugin's back, leftovers).
//! - [`service`]: the `infrakit.instance.v1.Instance` gRPC service.
//!
//! # Guarantees
//! - No network access is attempted: images are never pulled (`--pull never`, and Provision
//!   checks the image first), Vagrant's version check is off, synced folders are disabled, and
//!   the docker provider needs no box.
//! - Provision is idempotent by the `infrakit.provision.token` tag.
//! - Tags live in the instance's directory (`tags.json`) and survive restarts.

pub mod docker;
pub mod monitor;
pub mod naming;
pub mod ops;
pub mod plan;
pub mod properties;
pub mod record;
pub mod service;
pub mod store;
pub mod template;
pub mod vagrant;
pub mod vagrantfile;

pub use service::VagrantInstance;
pub use store::Store;

/// The plugin kind (and default name).
pub const KIND: &str = "instance-vagrant";
