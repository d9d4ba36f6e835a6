//! The Docker instance plugin's Properties, parsed and checked without touching the engine.
//!
//! ```json
//! {"Image": "web:1.2",                      // required; must already be on the engine (never pulled)
//!  "Command": ["serve", "--port", "80"],    // replaces the image's CMD
//!  "Entrypoint": ["/bin/web"],              // replaces the image's ENTRYPOINT
//!  "Env": {"MODE": "prod"} or ["MODE=prod"],
//!  "Labels": {"team": "web"},               // extra container labels (not tags)
//!  "Ports": ["8080:80/tcp"],                // docker run -p syntax, no ranges
//!  "Mounts": [{"Type": "volume", "Source": "data", "Target": "/data", "ReadOnly": false}],
//!  "Volumes": ["data:/data", "/srv:/srv:ro", "/scratch"],   // docker run -v syntax
//!  "Network": "bridge",                     // or host, none, or a network's name
//!  "RestartPolicy": "no",                   // no (default) | on-failure[:N] | always | unless-stopped
//!  "Resources": {"CPUs": 0.5, "Memory": "256m"},
//!  "Hostname": "web" or "HostnameFromLogicalID": true,
//!  "StopTimeout": "10s",                    // SIGTERM, then SIGKILL after this long (max 50s)
//!  "Privileged": false,                     // docker run --privileged
//!  "CapAdd": ["NET_ADMIN"], "CapDrop": ["MKNOD"],   // docker run --cap-add / --cap-drop
//!  "SecurityOpt": ["seccomp=unconfined"]}   // docker run --security-opt
//! ```
//!
//! Field names are exact (as in every InfraKit Properties); an unknown one is refused with the
//! nearest known name. Every problem is reported at once, each at its JSON path.

use crate::units::{self, Mount, Port};
use fields::{env, labels, mounts, resources, restart};
use infrakit_model::Violations;
use infrakit_model::json_path::{index, key, strings, type_name};
use infrakit_model::object::Object;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The fields the Docker instance plugin understands.
pub const FIELDS: &[&str] = &[
    "Image",
    "Command",
    "Entrypoint",
    "Env",
    "Labels",
    "Ports",
    "Mounts",
    "Volumes",
    "Network",
    "RestartPolicy",
    "Resources",
    "Hostname",
    "HostnameFromLogicalID",
    "StopTimeout",
    "Privileged",
    "CapAdd",
    "CapDrop",
    "SecurityOpt",
];

/// The fields of `Resources`.
pub const RESOURCE_FIELDS: &[&str] = &["CPUs", "Memory"];

/// The fields of one `Mounts` entry.
pub const MOUNT_FIELDS: &[&str] = &["Type", "Source", "Target", "ReadOnly"];

/// The longest `StopTimeout`: the group controller gives each Destroy 60 s.
pub const MAX_STOP_TIMEOUT_SECS: u64 = 50;

/// The smallest memory limit the engine accepts (6 MiB).
pub const MIN_MEMORY: i64 = 6 << 20;

/// Restart policies, as `docker run --restart` names them.
pub const RESTART_POLICIES: &[&str] = &["no", "on-failure", "always", "unless-stopped"];

/// What Docker does when the container's main process ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Restart {
    /// Nothing: the container stays exited and is reported FAILED, so the group replaces it.
    #[default]
    No,
    /// Restart after a non-zero exit, at most this many times (unlimited when absent).
    OnFailure(Option<u32>),
    /// Always restart.
    Always,
    /// Restart unless stopped by hand.
    UnlessStopped,
}

/// How the container's host name is chosen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Hostname {
    /// Docker's default (the short container ID).
    #[default]
    Default,
    /// This name.
    Fixed(String),
    /// The instance's logical ID (pets); Docker's default for cattle.
    FromLogicalId,
}

/// Validated Properties.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DockerProperties {
    /// The image reference, e.g. `web:1.2`.
    pub image: String,
    /// Replaces the image's CMD.
    pub command: Option<Vec<String>>,
    /// Replaces the image's ENTRYPOINT.
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=VALUE` entries.
    pub env: Vec<String>,
    /// Extra container labels.
    pub labels: BTreeMap<String, String>,
    /// Published ports.
    pub ports: Vec<Port>,
    /// Mounts, from `Mounts` and `Volumes`.
    pub mounts: Vec<Mount>,
    /// The network mode or network name.
    pub network: Option<String>,
    /// The restart policy.
    pub restart: Restart,
    /// CPU limit in billionths of a CPU.
    pub nano_cpus: Option<i64>,
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// The host name rule.
    pub hostname: Hostname,
    /// Seconds between SIGTERM and SIGKILL when the container is stopped.
    pub stop_timeout: Option<u64>,
    /// Every capability, every device, no seccomp or AppArmor confinement (`--privileged`).
    pub privileged: bool,
    /// Capabilities added (`--cap-add`, e.g. `NET_ADMIN` or `ALL`).
    pub cap_add: Vec<String>,
    /// Capabilities dropped (`--cap-drop`).
    pub cap_drop: Vec<String>,
    /// Security options (`--security-opt`, e.g. `seccomp=unconfined`).
    pub security_opt: Vec<String>,
}

/// Parses Properties found at JSON path `at` (e.g. `$.properties`), collecting every violation.
pub fn parse(v: &Value, at: &str) -> Result<DockerProperties, Violations> {
    let mut out = DockerProperties::default();
    let mut bad = Violations::new();
    let example = "write {\"Image\": \"web:1\"}";
    let Some(obj) = Object::optional(v, at, example, &mut bad) else {
        if bad.is_empty() {
            bad.push(
                key(at, "Image"),
                "is required",
                "name an image that is on the engine, e.g. {\"Image\": \"web:1\"}",
            );
        }
        return Err(bad);
    };
    let suggested = obj.reject_unknown_of(FIELDS, "the Docker instance plugin", &mut bad);
    let obj = obj.map();
    for (k, val) in obj {
        let path = key(at, k);
        match k.as_str() {
            "Image" => match val {
                Value::String(s) if !s.trim().is_empty() && !s.chars().any(char::is_whitespace) => {
                    out.image = s.clone();
                }
                Value::String(_) => bad.push(
                    &path,
                    "is not an image reference",
                    "write a reference such as \"web:1.2\"",
                ),
                other => bad.push(
                    &path,
                    format!("must be a string, found {}", type_name(other)),
                    "write a reference such as \"web:1.2\"",
                ),
            },
            "Command" => out.command = strings(val, &path, &mut bad, "[\"sleep\", \"3600\"]"),
            "Entrypoint" => {
                out.entrypoint = strings(val, &path, &mut bad, "[\"/bin/web\", \"--serve\"]");
            }
            "Env" => out.env = env(val, &path, &mut bad),
            "Labels" => out.labels = labels(val, &path, &mut bad),
            "Ports" => {
                for (i, s) in strings(val, &path, &mut bad, "[\"8080:80/tcp\"]")
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                {
                    match units::port(s) {
                        Ok(p) => out.ports.push(p),
                        Err((problem, fix)) => bad.push(index(&path, i), problem, fix),
                    }
                }
            }
            "Mounts" => mounts(val, &path, &mut bad, &mut out.mounts),
            "Volumes" => {
                for (i, s) in strings(val, &path, &mut bad, "[\"data:/data\"]")
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                {
                    match units::volume(s) {
                        Ok(m) => out.mounts.push(m),
                        Err((problem, fix)) => bad.push(index(&path, i), problem, fix),
                    }
                }
            }
            "Network" => match val {
                Value::String(s) if !s.is_empty() => out.network = Some(s.clone()),
                Value::Null => {}
                other => bad.push(
                    &path,
                    format!("must be a network name, found {}", type_name(other)),
                    "write \"bridge\", \"host\", \"none\" or the name of a network",
                ),
            },
            "RestartPolicy" => {
                if let Some(r) = restart(val, &path, &mut bad) {
                    out.restart = r;
                }
            }
            "Resources" => resources(val, &path, &mut bad, &mut out),
            "Hostname" => match val {
                Value::String(s) if units::is_hostname(s) => {
                    out.hostname = Hostname::Fixed(s.clone());
                }
                Value::Null => {}
                _ => bad.push(
                    &path,
                    "is not a host name",
                    "use 1 to 63 letters, digits, '-' and '.', e.g. \"web-1\"",
                ),
            },
            "HostnameFromLogicalID" => match val {
                Value::Bool(_) | Value::Null => {}
                other => bad.push(
                    &path,
                    format!("must be true or false, found {}", type_name(other)),
                    "write true",
                ),
            },
            "Privileged" => match val {
                Value::Bool(b) => out.privileged = *b,
                Value::Null => {}
                other => bad.push(
                    &path,
                    format!("must be true or false, found {}", type_name(other)),
                    "write true",
                ),
            },
            "CapAdd" | "CapDrop" => {
                let caps = strings(val, &path, &mut bad, "[\"NET_ADMIN\"]").unwrap_or_default();
                for (i, c) in caps.iter().enumerate() {
                    if !units::is_capability(c) {
                        bad.push(
                            index(&path, i),
                            format!("{c:?} is not a capability name"),
                            "write a name such as \"NET_ADMIN\", \"CAP_SYS_ADMIN\" or \"ALL\"",
                        );
                    }
                }
                if k == "CapAdd" {
                    out.cap_add = caps;
                } else {
                    out.cap_drop = caps;
                }
            }
            "SecurityOpt" => {
                let opts =
                    strings(val, &path, &mut bad, "[\"seccomp=unconfined\"]").unwrap_or_default();
                for (i, o) in opts.iter().enumerate() {
                    if o.trim().is_empty() {
                        bad.push(
                            index(&path, i),
                            "is empty",
                            "write an option such as \"seccomp=unconfined\" or \"no-new-privileges\"",
                        );
                    }
                }
                out.security_opt = opts;
            }
            "StopTimeout" => {
                let secs = match val {
                    Value::String(s) => units::whole_seconds(s),
                    Value::Number(n) => n.as_u64().ok_or_else(|| {
                        (
                            format!("{n} is not a whole number of seconds"),
                            "write a duration such as \"10s\"".to_string(),
                        )
                    }),
                    Value::Null => continue,
                    other => Err((
                        format!("must be a duration, found {}", type_name(other)),
                        "write a duration such as \"10s\"".to_string(),
                    )),
                };
                match secs {
                    Ok(s) if s > MAX_STOP_TIMEOUT_SECS => bad.push(
                        &path,
                        format!("is {s}s, longer than {MAX_STOP_TIMEOUT_SECS}s"),
                        "the group controller waits 60 s for a Destroy; use at most \"50s\"",
                    ),
                    Ok(s) => out.stop_timeout = Some(s),
                    Err((problem, fix)) => bad.push(&path, problem, fix),
                }
            }
            _ => {} // Reported by reject_unknown_of.
        }
    }
    if obj.get("HostnameFromLogicalID") == Some(&Value::Bool(true)) {
        if matches!(out.hostname, Hostname::Fixed(_)) {
            bad.push(
                key(at, "HostnameFromLogicalID"),
                "conflicts with Hostname",
                "keep only one of Hostname and HostnameFromLogicalID",
            );
        }
        out.hostname = Hostname::FromLogicalId;
    }
    if !obj.contains_key("Image") && !suggested.contains(&"Image") {
        bad.push(
            key(at, "Image"),
            "is required",
            "name an image that is on the engine, e.g. \"web:1\"",
        );
    }
    cross_checks(&out, obj, at, &mut bad);
    bad.into_result(out)
}

/// Checks between fields.
fn cross_checks(out: &DockerProperties, obj: &Map<String, Value>, at: &str, bad: &mut Violations) {
    let mode = out.network.as_deref().unwrap_or("");
    let isolated = mode == "host" || mode == "none" || mode.starts_with("container:");
    if isolated && out.hostname != Hostname::Default {
        let field = if obj.contains_key("Hostname") {
            "Hostname"
        } else {
            "HostnameFromLogicalID"
        };
        bad.push(
            key(at, field),
            format!("cannot be set with Network {mode:?}"),
            "remove it, or use another network",
        );
    }
    if isolated && !out.ports.is_empty() {
        bad.push(
            key(at, "Ports"),
            format!("cannot be published with Network {mode:?}"),
            "remove Ports, or use \"bridge\" or a user-defined network",
        );
    }
    let mut targets = BTreeMap::new();
    for m in &out.mounts {
        if targets.insert(m.target.as_str(), ()).is_some() {
            bad.push(
                at,
                format!("mounts {:?} twice (in Mounts or Volumes)", m.target),
                "mount each container path once",
            );
        }
    }
}

mod fields;

#[cfg(test)]
mod tests;
