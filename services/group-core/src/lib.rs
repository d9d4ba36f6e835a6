//! The pure decision logic of the InfraKit group controller: spec validation, the config
//! hash, and planning. No I/O, no async, no clock: time is a parameter, and the driver in
//! `infrakit-group` executes the actions this crate decides.
//!
//! ```no_run
//! use infrakit_group_core::{GroupSpec, GroupState, Observed, Time, plan};
//!
//! let spec = GroupSpec::from_json(&serde_json::json!({
//!     "ID": "workers",
//!     "Properties": {
//!         "Allocation": {"Size": 3},
//!         "Instance": {"Plugin": "instance-file", "Properties": {"Note": "v1"}},
//!         "Flavor": {"Plugin": "flavor-vanilla"}
//!     }
//! })).expect("a valid spec");
//! let p = plan(&spec, &Observed::default(), &GroupState::default(), Time::from_secs(1));
//! assert_eq!(p.actions.len(), 3); // three provisions, each with a unique token
//! // persist p.state, then execute p.actions
//! ```
//!
//! Layout:
//! - [`spec`]: the group spec JSON, parsed and validated into a [`GroupSpec`] with every
//!   violation at once; the defaults table.
//! - [`hash`]: the config hash of the Instance and Flavor sections.
//! - [`observe`]: the driver's complete snapshot of the group's instances ([`Observed`]).
//! - [`state`]: what the controller remembers and persists ([`GroupState`]): expectations,
//!   the update in progress, failures and backoff, the last good configuration.
//! - [`outcome`]: what became of an action, and how it changes the state ([`Outcome`]).
//! - [`plan`](mod@plan): [`plan()`](fn@plan::plan) and [`plan_degraded`], the [`Action`]s and the
//!   [`Status`]; inside, one file per concern (view, healing, cattle, pets, update, victims,
//!   pause, degraded).
//! - [`commit`]: [`plan_commit`], the plan of a commit (also with pretend).
//! - [`quantity`]: counts or percentages of the desired size.
//! - [`time`]: the [`Time`] instant and the duration syntax.

pub mod commit;
pub mod hash;
pub mod observe;
pub mod outcome;
pub mod plan;
pub mod quantity;
pub mod spec;
pub mod state;
pub mod time;

#[cfg(test)]
mod fixtures;

pub use commit::{CommitPlan, plan_commit};
pub use hash::config_hash;
pub use observe::{Health, InstanceState, Observed, ObservedInstance};
pub use outcome::Outcome;
pub use plan::{
    Action, DestroyReason, Drain, Phase, Plan, Status, degraded_retry, plan, plan_degraded,
};
pub use spec::GroupSpec;
pub use state::{GroupState, PauseRecord, recovered, retry_after};
pub use time::Time;
