//! `infrakit-instance-process`: an instance plugin whose instances are local processes. Each
//! instance runs its command (or the spec's Init script) with `/bin/sh` in its own process group,
//! under `<dir>/<id>/work`, with its output appended to `<dir>/<id>/output.log`. The processes
//! are independent of the plugin: stopping or restarting the plugin leaves them running, and a
//! restarted plugin re-adopts them from their records.
//!
//! Layout:
//! - [`properties`]: the instance Properties (`Command`, `Env`, `StopGracePeriod`, `Restart`),
//!   checked with JSON paths.
//! - [`record`]: the per-instance directory and its `instance.json`.
//! - [`procfs`]: `/proc/<pid>/stat` (start times against pid reuse, process groups).
//! - [`spawn`]: starting a process with the instance's cwd, log and environment.
//! - [`stop`]: SIGTERM then SIGKILL to a whole process group.
//! - [`slot`]: one live instance in memory.
//! - [`supervisor`]: one task per instance: exits, restarts with backoff, gone reports.
//! - [`store`]: the live instances, Provision/Label/Destroy, re-adoption at start, events.
//! - [`service`]: the `infrakit.instance.v1.Instance` gRPC service.
//!
//! # Guarantees
//! - Provision returns as soon as the process is spawned and is idempotent by the
//!   `infrakit.provision.token` tag.
//! - Destroy stops the whole process group (SIGTERM, SIGKILL after `StopGracePeriod`) and
//!   removes the instance's directory; an unknown ID succeeds.
//! - A re-adopted process is checked against the start time recorded at spawn, so a reused pid
//!   is never mistaken for an instance (nor signalled).
//!
//! # Caveats
//! - A process that leaves its process group (`setsid`, daemons that double-fork into a new
//!   session) is out of the plugin's reach.
//! - If the plugin is killed in the instant between spawning a process and recording its pid,
//!   that process is not known to the next run (the window is one small file write).

pub mod procfs;
pub mod properties;
pub mod record;
pub mod service;
pub mod slot;
pub mod spawn;
pub mod stop;
pub mod store;
pub mod supervisor;

pub use service::ProcessInstance;
pub use store::Store;

/// The plugin kind (and default name).
pub const KIND: &str = "instance-process";
