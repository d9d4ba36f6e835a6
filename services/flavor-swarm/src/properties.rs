//! The swarm flavor's Properties, parsed and checked without touching the engine.
//!
//! ```json
//! {"Role": "worker",                        // or "manager"; or address the plugin as flavor-swarm/manager
//!  "JoinAddresses": ["10.0.0.2:2377"],      // default: the swarm's managers, as the swarm reports them
//!  "AdvertiseAddr": "eth0",                 // docker swarm join --advertise-addr (default: the engine's choice)
//!  "EngineLabels": {"zone": "a"},           // extra engine labels written to daemon.json
//!  "Init": ["apt-get install -y docker.io"],// boot script lines run before the join
//!  "JoinTimeout": "5m",                     // Healthy: UNKNOWN until joined, UNHEALTHY after this
//!  "DrainTimeout": "20s"}                   // Drain: how long drained tasks may take to stop (max 50s)
//! ```
//!
//! Every field is optional. Field names are exact; an unknown one is refused with the nearest
//! known name. Every problem is reported at once, each at its JSON path.

use crate::units;
use infrakit_model::Violations;
use infrakit_model::duration::Syntax;
use infrakit_model::json_path::{index, key, object, strings, type_name};
use infrakit_model::object::Object;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The fields the swarm flavor understands.
pub const FIELDS: &[&str] = &[
    "Role",
    "JoinAddresses",
    "AdvertiseAddr",
    "EngineLabels",
    "Init",
    "JoinTimeout",
    "DrainTimeout",
];

/// How long an instance may take to join before Healthy calls it UNHEALTHY, by default.
pub const DEFAULT_JOIN_TIMEOUT: Duration = Duration::from_secs(300);

/// How long Drain waits for a drained node's tasks to stop, by default.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// The longest `DrainTimeout`: the group controller gives each Drain 60 s, and demoting a
/// manager and removing the node need time too.
pub const MAX_DRAIN_TIMEOUT: Duration = Duration::from_secs(50);

/// The role an instance takes in the swarm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    /// Runs tasks; joins with the worker token.
    #[default]
    Worker,
    /// Also runs the swarm's Raft store; joins with the manager token, must be Reachable.
    Manager,
}

/// Validated Properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmProperties {
    /// The role (from the subtype or `Role`).
    pub role: Role,
    /// Where instances join (`host:port`); empty: the swarm's managers.
    pub join_addresses: Vec<String>,
    /// `--advertise-addr` for `docker swarm join`.
    pub advertise_addr: Option<String>,
    /// Extra engine labels.
    pub engine_labels: BTreeMap<String, String>,
    /// Boot script lines run before the join.
    pub init: Vec<String>,
    /// How long an instance may take to join.
    pub join_timeout: Duration,
    /// How long Drain waits for the node's tasks to stop.
    pub drain_timeout: Duration,
}

impl Default for SwarmProperties {
    fn default() -> Self {
        Self {
            role: Role::Worker,
            join_addresses: Vec::new(),
            advertise_addr: None,
            engine_labels: BTreeMap::new(),
            init: Vec::new(),
            join_timeout: DEFAULT_JOIN_TIMEOUT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
        }
    }
}

// === impl Role ===

impl Role {
    /// The role for a subtype (`worker`, `manager`), if it names one.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "worker" => Some(Self::Worker),
            "manager" => Some(Self::Manager),
            _ => None,
        }
    }

    /// `worker` or `manager`, as Docker writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::Manager => "manager",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses Properties found at JSON path `at` for a plugin addressed with `subtype` (`""`,
/// `worker` or `manager`; the caller refuses other subtypes), collecting every violation.
pub fn parse(v: &Value, at: &str, subtype: Option<Role>) -> Result<SwarmProperties, Violations> {
    let mut out = SwarmProperties {
        role: subtype.unwrap_or_default(),
        ..Default::default()
    };
    let mut bad = Violations::new();
    let Some(obj) = Object::optional(v, at, "write {\"Role\": \"worker\"}", &mut bad) else {
        return bad.into_result(out);
    };
    obj.reject_unknown_of(FIELDS, "the swarm flavor", &mut bad);
    for (k, val) in obj.fields() {
        let path = obj.at(k);
        match k {
            "Role" => role(val, &path, subtype, &mut bad, &mut out),
            "JoinAddresses" => {
                for (i, a) in strings(val, &path, &mut bad, "[\"10.0.0.2:2377\"]")
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                {
                    if units::is_join_address(a) {
                        out.join_addresses.push(a.clone());
                    } else {
                        bad.push(
                            index(&path, i),
                            format!("{a:?} is not a host:port address"),
                            "write a manager's address and swarm port, e.g. \"10.0.0.2:2377\"",
                        );
                    }
                }
            }
            "AdvertiseAddr" => match val {
                Value::String(s) if units::is_advertise_addr(s) => {
                    out.advertise_addr = Some(s.clone());
                }
                Value::Null => {}
                _ => bad.push(
                    &path,
                    "is not an address or interface name",
                    "write an IP address, an interface name or IP:port, e.g. \"eth0\"",
                ),
            },
            "EngineLabels" => engine_labels(val, &path, &mut bad, &mut out),
            "Init" => match val {
                Value::String(s) => out.init.push(s.clone()),
                Value::Null => {}
                Value::Array(_) => {
                    out.init = strings(val, &path, &mut bad, "[\"line 1\"]").unwrap_or_default();
                }
                other => bad.push(
                    &path,
                    format!(
                        "must be a list of lines or a string, found {}",
                        type_name(other)
                    ),
                    "write [\"line 1\", \"line 2\"]",
                ),
            },
            "JoinTimeout" => {
                if let Some(d) = duration(val, &path, &mut bad) {
                    if d.is_zero() {
                        bad.push(&path, "is zero", "give instances time to boot, e.g. \"5m\"");
                    } else {
                        out.join_timeout = d;
                    }
                }
            }
            "DrainTimeout" => {
                if let Some(d) = duration(val, &path, &mut bad) {
                    if d > MAX_DRAIN_TIMEOUT {
                        bad.push(
                            &path,
                            format!("is {}s, longer than 50s", d.as_secs()),
                            "the group controller waits 60 s for a Drain; use at most \"50s\"",
                        );
                    } else {
                        out.drain_timeout = d;
                    }
                }
            }
            _ => {} // Reported by reject_unknown_of.
        }
    }
    bad.into_result(out)
}

fn role(
    val: &Value,
    path: &str,
    subtype: Option<Role>,
    bad: &mut Violations,
    out: &mut SwarmProperties,
) {
    let r = match val {
        Value::Null => return,
        Value::String(s) => Role::from_name(s),
        _ => None,
    };
    match (r, subtype) {
        (None, _) => bad.push(path, "is not a role", "write \"worker\" or \"manager\""),
        (Some(r), Some(s)) if r != s => bad.push(
            path,
            format!("is \"{r}\" but the plugin was addressed as <name>/{s}"),
            format!("remove Role, or address the plugin as <name>/{r} (e.g. flavor-swarm/{r})"),
        ),
        (Some(r), _) => out.role = r,
    }
}

fn engine_labels(val: &Value, path: &str, bad: &mut Violations, out: &mut SwarmProperties) {
    let Some(labels) = bad
        .record(object(val, path, "write {\"zone\": \"a\"}"))
        .flatten()
    else {
        return;
    };
    for (k, v) in labels {
        let lpath = key(path, k);
        if k.starts_with("infrakit.") {
            bad.push(
                &lpath,
                "uses the reserved prefix 'infrakit.'",
                "rename the label",
            );
        } else if !units::is_label_key(k) {
            bad.push(
                &lpath,
                "is not a label name",
                "use letters, digits, '.', '-', '_' and '/', e.g. \"zone\"",
            );
        }
        match v {
            Value::String(s) if !s.contains(['\n', '\r']) => {
                out.engine_labels.insert(k.clone(), s.clone());
            }
            Value::String(_) => bad.push(&lpath, "contains a line break", "use one line"),
            other => bad.push(
                &lpath,
                format!("must be a string, found {}", type_name(other)),
                "quote the value",
            ),
        }
    }
}

fn duration(val: &Value, path: &str, bad: &mut Violations) -> Option<Duration> {
    match val {
        Value::Null => None,
        Value::String(s) => match infrakit_model::duration::parse(s, Syntax::WHOLE) {
            Ok(d) => Some(d),
            Err(_) => {
                bad.push(
                    path,
                    format!("{s:?} is not a duration"),
                    "write a duration such as \"30s\" or \"5m\"",
                );
                None
            }
        },
        other => {
            bad.push(
                path,
                format!("must be a duration, found {}", type_name(other)),
                "write a duration such as \"30s\" or \"5m\"",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests;
