//! The group spec: InfraKit's `{"ID", "Properties": {...}}` JSON, parsed and validated into a
//! [`GroupSpec`] that cannot be wrong.
//!
//! ```json
//! {"ID": "workers",
//!  "Properties": {
//!    "Allocation":  {"Size": 5},                 // or {"LogicalIDs": ["a", "b"]}
//!    "Instance":    {"Plugin": "instance-file", "Properties": {...}},
//!    "Flavor":      {"Plugin": "flavor-vanilla", "Properties": {...}},
//!    "Updating":    {"MaxSurge": "10%", "MaxUnavailable": 0, "HealthyFor": "0s",
//!                    "Deadline": "10m", "AutoRollback": true},
//!    "Health":      {"GracePeriod": "30s", "UnhealthyAfter": "10s"},
//!    "Remediation": {"MaxUnhealthy": "34%", "Backoff": {"Initial": "1s", "Max": "5m"}}}}
//! ```
//!
//! # Defaults
//!
//! Every field of `Updating`, `Health` and `Remediation` is optional. Durations are strings
//! such as `"500ms"`, `"30s"`, `"10m"`, `"1h30m"`; quantities are a count (`2`) or a
//! percentage of the desired size (`"25%"`).
//!
//! | field | default | meaning | peers' defaults |
//! |---|---|---|---|
//! | `Updating.MaxSurge` | `"10%"`, rounded **up** (so at least 1) | instances created beyond the desired size during a rolling update | CAPI 1, GCE MIG 1 per zone, AWS ASG 0 (terminates first) |
//! | `Updating.MaxUnavailable` | `0`, rounded **down** | how far the count of available instances may drop below the desired size during a rolling update | CAPI 0, GCE MIG 1 per zone, AWS ASG 10% (MinHealthyPercentage 90) |
//! | `Updating.HealthyFor` | `"0s"` | how long a new instance must stay healthy before it counts as available (set it if your health check can pass before the service is ready) | CAPI minReadySeconds 0, Nomad min_healthy_time 10s |
//! | `Updating.Deadline` | `"10m"` | the longest a rolling update may go without progress (one more new instance available or one more old instance gone); then it halts | Nomad progress_deadline 10m; ASG, MIG and CAPI have none |
//! | `Updating.AutoRollback` | `true` | on a halt, roll back to the last configuration that was fully rolled out and healthy, with the same pacing | AWS ASG false, Nomad auto_revert false |
//! | `Health.GracePeriod` | `"30s"` | a new instance is never replaced for being unhealthy before it has existed this long | AWS ASG 0s (API) or 300s (console), GCE MIG 0s |
//! | `Health.UnhealthyAfter` | `"10s"` | an instance must be reported unhealthy without a break for this long before it is replaced | EC2 status checks "a few minutes" |
//! | `Remediation.MaxUnhealthy` | `"34%"`, rounded **down** but at least 1 | the most instances unhealthy or being replaced at once (every member unhealthy now counts, and every replacement until it is available); when more than this are, none is replaced until every instance is available again or the spec is committed again (the cause is likely not the instances), and the status says "short circuit". `0` turns replacement of unhealthy instances off | CAPI MachineHealthCheck 100% (no limit), Azure VMSS 5% |
//! | `Remediation.Backoff.Initial` | `"1s"` | the first wait after a failed provision or destroy, and between waves of replacements while instances keep failing; doubles each time | Nomad reschedule delay 30s |
//! | `Remediation.Backoff.Max` | `"5m"` | the longest such wait | Nomad max_delay 1h |
//!
//! When `MaxSurge` and `MaxUnavailable` both resolve to 0 for the current size (a small group
//! with percentages), the surge becomes 1 so that an update can always progress. Writing both
//! as a literal 0 is refused.
//!
//! # Names
//!
//! Names end up in tags, file names and host names, so they are held to a safe set:
//!
//! - the group `ID`: 1 to 64 ASCII letters, digits, `.`, `_` and `-`, not starting with `.`
//!   or `-` (so never `.`, `..` or a hidden file name);
//! - each of `Allocation.LogicalIDs`: 1 to 253 ASCII letters, digits, `.`, `_`, `:` and `-`
//!   (room for host names, IPv4 and IPv6 addresses), unique, and not `.` or `..`.
//!
//! So neither may hold `/`, NUL, spaces or control characters.
//!
//! InfraKit's `Updating.Duration` ("stay healthy this long") is accepted as `HealthyFor`;
//! `Updating.Count` (consecutive healthy polls) has no poll interval to map to and is refused
//! with a fix.

mod fields;
mod parse;
#[cfg(test)]
mod tests;

use crate::quantity::{Quantity, Rounding};
use infrakit_model::duration;
use infrakit_model::{PluginName, Violations};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// The largest `Allocation.Size` (and number of `LogicalIDs`) accepted.
pub const MAX_SIZE: u32 = 100_000;

/// A validated group spec.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupSpec {
    id: String,
    allocation: Allocation,
    instance: PluginSection,
    flavor: PluginSection,
    updating: UpdatePolicy,
    health: HealthPolicy,
    remediation: RemediationPolicy,
    config_hash: String,
    /// Pets: logical ID → position, built once so that planning does not rebuild it.
    logical_index: HashMap<String, usize>,
}

/// How many instances a group has and how they are named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Allocation {
    /// Cattle: this many interchangeable instances.
    Size(u32),
    /// Pets: one instance per logical ID (unique, of the safe character set in the
    /// [module docs](self)), in this order.
    LogicalIds(Vec<String>),
}

/// The `Instance` or `Flavor` section: which plugin, and its opaque Properties.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginSection {
    /// The plugin, `lookup[/subtype]`.
    pub plugin: PluginName,
    /// The plugin's Properties, passed through untouched (`null` when absent).
    pub properties: Value,
}

/// `Updating`: the pacing of rolling updates. Defaults in the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpdatePolicy {
    /// `MaxSurge`: instances created beyond the desired size during an update (rounded up).
    pub max_surge: Quantity,
    /// `MaxUnavailable`: how far available instances may drop below the desired size (rounded down).
    pub max_unavailable: Quantity,
    /// `HealthyFor`: how long a new instance must stay healthy before it counts as available.
    pub healthy_for: Duration,
    /// `Deadline`: the longest an update may go without progress before it halts.
    pub deadline: Duration,
    /// `AutoRollback`: roll back to the last good configuration when an update halts.
    pub auto_rollback: bool,
}

/// `Health`: when an unhealthy instance is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthPolicy {
    /// `GracePeriod`: a new instance is not replaced for being unhealthy before this age.
    pub grace_period: Duration,
    /// `UnhealthyAfter`: how long an instance must be unhealthy without a break to be replaced.
    pub unhealthy_after: Duration,
}

/// `Remediation`: how many unhealthy instances are replaced at once, and the backoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemediationPolicy {
    /// `MaxUnhealthy`: the most instances replaced for being unhealthy at once (rounded down,
    /// at least 1 unless literally 0, which turns replacement off).
    pub max_unhealthy: Quantity,
    /// `Backoff`: waits after failures.
    pub backoff: Backoff,
}

/// `Remediation.Backoff`: a capped exponential backoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// `Initial`: the first wait.
    pub initial: Duration,
    /// `Max`: the longest wait.
    pub max: Duration,
}

// === impl GroupSpec ===

impl GroupSpec {
    /// Parses and validates a spec, reporting every violation at once, each with its JSON path
    /// and a fix.
    pub fn from_json(value: &Value) -> Result<Self, Violations> {
        parse::parse_spec(value)
    }

    /// The group ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The allocation.
    pub fn allocation(&self) -> &Allocation {
        &self.allocation
    }

    /// The `Instance` section.
    pub fn instance(&self) -> &PluginSection {
        &self.instance
    }

    /// The `Flavor` section.
    pub fn flavor(&self) -> &PluginSection {
        &self.flavor
    }

    /// The `Updating` policy.
    pub fn updating(&self) -> &UpdatePolicy {
        &self.updating
    }

    /// The `Health` policy.
    pub fn health(&self) -> &HealthPolicy {
        &self.health
    }

    /// The `Remediation` policy.
    pub fn remediation(&self) -> &RemediationPolicy {
        &self.remediation
    }

    /// The config hash of the Instance and Flavor sections (see [`crate::hash`]).
    pub fn config_hash(&self) -> &str {
        &self.config_hash
    }

    /// The number of instances wanted: the size, or the number of logical IDs.
    pub fn desired(&self) -> u32 {
        match &self.allocation {
            Allocation::Size(n) => *n,
            Allocation::LogicalIds(ids) => u32::try_from(ids.len()).unwrap_or(u32::MAX),
        }
    }

    /// Pets: the position of each logical ID in the spec (empty for cattle).
    pub(crate) fn logical_index(&self) -> &HashMap<String, usize> {
        &self.logical_index
    }

    /// The logical IDs of a pet group, `None` for cattle.
    pub fn logical_ids(&self) -> Option<&[String]> {
        match &self.allocation {
            Allocation::Size(_) => None,
            Allocation::LogicalIds(ids) => Some(ids),
        }
    }

    /// The same spec with another size, for SetSize. Refused for pets (whose size is their
    /// list of logical IDs) and above [`MAX_SIZE`]. The config hash does not change, so a
    /// resize never rolls anything.
    pub fn with_size(&self, size: u32) -> Result<Self, Violations> {
        let path = "$.Properties.Allocation.Size";
        if matches!(self.allocation, Allocation::LogicalIds(_)) {
            return Err(Violations::from(infrakit_model::Violation::new(
                "$.Properties.Allocation",
                "the group has LogicalIDs, so its size is the number of logical IDs",
                "commit a spec with the LogicalIDs you want instead",
            )));
        }
        if size > MAX_SIZE {
            return Err(Violations::from(infrakit_model::Violation::new(
                path,
                format!("{size} is larger than the maximum of {MAX_SIZE}"),
                format!("use a size of at most {MAX_SIZE}, or split the group"),
            )));
        }
        Ok(Self {
            allocation: Allocation::Size(size),
            logical_index: HashMap::new(),
            ..self.clone()
        })
    }

    /// This spec with the Instance and Flavor sections of `other` (and so its config hash);
    /// ID, allocation and policies stay. This is how a rollback restores the last good
    /// configuration without undoing a resize.
    pub fn with_config_of(&self, other: &GroupSpec) -> Self {
        Self {
            instance: other.instance.clone(),
            flavor: other.flavor.clone(),
            config_hash: other.config_hash.clone(),
            ..self.clone()
        }
    }

    /// The canonical JSON form, with every default written out, for InspectGroups and for
    /// storage. Parsing it gives back an equal spec.
    pub fn to_json(&self) -> Value {
        let allocation = match &self.allocation {
            Allocation::Size(n) => json!({ "Size": n }),
            Allocation::LogicalIds(ids) => json!({ "LogicalIDs": ids }),
        };
        json!({
            "ID": self.id,
            "Properties": {
                "Allocation": allocation,
                "Instance": self.instance.to_json(),
                "Flavor": self.flavor.to_json(),
                "Updating": self.updating.to_json(),
                "Health": {
                    "GracePeriod": duration::format(self.health.grace_period),
                    "UnhealthyAfter": duration::format(self.health.unhealthy_after),
                },
                "Remediation": {
                    "MaxUnhealthy": self.remediation.max_unhealthy.to_json(),
                    "Backoff": {
                        "Initial": duration::format(self.remediation.backoff.initial),
                        "Max": duration::format(self.remediation.backoff.max),
                    },
                },
            },
        })
    }
}

// === impl PluginSection ===

impl PluginSection {
    /// The JSON form `{"Plugin": "...", "Properties": ...}`, also the input of the config hash.
    pub fn to_json(&self) -> Value {
        json!({ "Plugin": self.plugin.to_string(), "Properties": self.properties })
    }
}

// === impl UpdatePolicy ===

impl UpdatePolicy {
    /// `(max surge, max unavailable)` for a group of `desired` instances: surge rounds up,
    /// unavailable rounds down, and if both come to 0 the surge becomes 1.
    pub fn budget(&self, desired: u32) -> (u32, u32) {
        let surge = self.max_surge.resolve(desired, Rounding::Up);
        let unavailable = self.max_unavailable.resolve(desired, Rounding::Down);
        if surge == 0 && unavailable == 0 {
            (1, 0)
        } else {
            (surge, unavailable)
        }
    }

    fn to_json(self) -> Value {
        json!({
            "MaxSurge": self.max_surge.to_json(),
            "MaxUnavailable": self.max_unavailable.to_json(),
            "HealthyFor": duration::format(self.healthy_for),
            "Deadline": duration::format(self.deadline),
            "AutoRollback": self.auto_rollback,
        })
    }
}

impl Default for UpdatePolicy {
    fn default() -> Self {
        Self {
            max_surge: Quantity::Percent(10),
            max_unavailable: Quantity::Count(0),
            healthy_for: Duration::ZERO,
            deadline: Duration::from_secs(600),
            auto_rollback: true,
        }
    }
}

// === impl HealthPolicy ===

impl Default for HealthPolicy {
    fn default() -> Self {
        Self {
            grace_period: Duration::from_secs(30),
            unhealthy_after: Duration::from_secs(10),
        }
    }
}

// === impl RemediationPolicy ===

impl RemediationPolicy {
    /// The most instances replaced for being unhealthy at once in a group of `desired`:
    /// rounded down but at least 1, and 0 only when written as a literal 0.
    pub fn cap(&self, desired: u32) -> u32 {
        if self.max_unhealthy.is_zero() {
            0
        } else {
            self.max_unhealthy.resolve(desired, Rounding::Down).max(1)
        }
    }
}

impl Default for RemediationPolicy {
    fn default() -> Self {
        Self {
            max_unhealthy: Quantity::Percent(34),
            backoff: Backoff::default(),
        }
    }
}

// === impl Backoff ===

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}
