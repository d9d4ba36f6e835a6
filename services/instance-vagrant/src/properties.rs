//! The Vagrant instance plugin's Properties, parsed and checked without touching anything.
//!
//! ```json
//! {"Provider": "docker",                  // docker (default, tested) | virtualbox
//!  "Image": "infrakit-demo/busybox:1",    // docker: required, must already be on the engine
//!  "Box": "debian/bookworm64",            // virtualbox: required, must already be added
//!  "Memory": 256,                         // MiB
//!  "CPUs": 0.5,                           // docker: fractions allowed; virtualbox: whole CPUs
//!  "Network": "ik-net",                   // docker: a network to join (needed for static IPs)
//!  "Command": ["sleep", "3600"],          // docker: run after the Init script (or instead)
//!  "Env": {"MODE": "prod"},               // docker: environment of the container
//!  "Labels": {"team": "web"},             // docker: extra container labels
//!  "Template": "/etc/infrakit/Vagrantfile.tmpl"}   // replaces the built-in Vagrantfile
//! ```
//!
//! Field names are exact (as in every InfraKit Properties); an unknown one is refused with the
//! nearest known name. Every problem is reported at once, each at its JSON path.

use infrakit_model::Violations;
use infrakit_model::json_path::{index, key, type_name};
use infrakit_model::object::{Object, one_of_fix};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The fields the Vagrant instance plugin understands.
pub const FIELDS: &[&str] = &[
    "Provider", "Image", "Box", "Memory", "CPUs", "Network", "Command", "Env", "Labels", "Template",
];

/// Fields that only the docker provider understands.
const DOCKER_ONLY: &[&str] = &["Image", "Network", "Command", "Env", "Labels"];

/// The smallest memory limit Docker accepts, in MiB.
pub const MIN_MEMORY_MIB: u64 = 6;

/// The prefix of the plugin's own container labels; user labels and tags may not use it.
pub const RESERVED_PREFIX: &str = "infrakit.instance-vagrant";

/// The Vagrant provider that runs the machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Provider {
    /// Vagrant's built-in docker provider: the machine is a container (the tested default).
    #[default]
    Docker,
    /// VirtualBox: the machine is a VM made from a box (rendered, but not tested here).
    Virtualbox,
}

/// Validated Properties.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VagrantProperties {
    /// The provider.
    pub provider: Provider,
    /// The docker image (docker).
    pub image: Option<String>,
    /// The box (virtualbox).
    pub box_name: Option<String>,
    /// Memory in MiB.
    pub memory_mib: Option<u64>,
    /// CPUs (fractional for docker).
    pub cpus: Option<f64>,
    /// The docker network to join.
    pub network: Option<String>,
    /// The container's command (after the Init script, if any).
    pub command: Vec<String>,
    /// The container's environment.
    pub env: BTreeMap<String, String>,
    /// Extra container labels.
    pub labels: BTreeMap<String, String>,
    /// A user Vagrantfile template replacing the built-in one.
    pub template: Option<PathBuf>,
}

// === impl Provider ===

impl Provider {
    /// The name Vagrant knows the provider by (`vagrant up --provider=NAME`).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Docker => "docker",
            Provider::Virtualbox => "virtualbox",
        }
    }

    /// Parses a provider name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "docker" => Some(Provider::Docker),
            "virtualbox" => Some(Provider::Virtualbox),
            _ => None,
        }
    }
}

/// Parses Properties found at JSON path `at` (e.g. `$.properties`), collecting every violation.
pub fn parse(v: &Value, at: &str) -> Result<VagrantProperties, Violations> {
    let mut out = VagrantProperties::default();
    let mut bad = Violations::new();
    let Some(obj) = Object::optional(v, at, "write {\"Image\": \"web:1\"}", &mut bad) else {
        if bad.is_empty() {
            bad.push(
                key(at, "Image"),
                "is required",
                "name an image that is on the engine, e.g. {\"Image\": \"web:1\"}",
            );
        }
        return Err(bad);
    };
    let suggested = obj.reject_unknown_of(FIELDS, "the Vagrant instance plugin", &mut bad);
    let obj = obj.map();
    for (k, val) in obj {
        let path = key(at, k);
        match k.as_str() {
            "Provider" => match val.as_str().map(|s| (s, Provider::parse(s))) {
                Some((_, Some(p))) => out.provider = p,
                Some((s, None)) => bad.push(
                    &path,
                    format!("{s:?} is not a supported provider"),
                    one_of_fix(s, &["docker", "virtualbox"]),
                ),
                None => bad.push(
                    &path,
                    format!("must be a string, found {}", type_name(val)),
                    "write \"docker\" or \"virtualbox\"",
                ),
            },
            "Image" => out.image = reference(val, &path, &mut bad, "\"web:1.2\""),
            "Box" => out.box_name = reference(val, &path, &mut bad, "\"debian/bookworm64\""),
            "Memory" => match val.as_u64() {
                Some(m) if m >= MIN_MEMORY_MIB => out.memory_mib = Some(m),
                _ => bad.push(
                    &path,
                    format!("must be a whole number of MiB >= {MIN_MEMORY_MIB}"),
                    "write a number such as 512",
                ),
            },
            "CPUs" => match val.as_f64() {
                Some(c) if c.is_finite() && c >= 0.01 => out.cpus = Some(c),
                _ => bad.push(
                    &path,
                    "must be a number of CPUs >= 0.01",
                    "write a number such as 1 or 0.5",
                ),
            },
            "Network" => match val {
                Value::String(s) if s == "host" || s == "none" || s.starts_with("container:") => {
                    bad.push(
                        &path,
                        format!("{s:?} cannot be used: Vagrant sets the container's host name"),
                        "use \"bridge\" or a user-defined network",
                    );
                }
                Value::String(s) if !s.trim().is_empty() => out.network = Some(s.clone()),
                _ => bad.push(
                    &path,
                    "must be the name of a docker network",
                    "write the name of a network from `docker network ls`",
                ),
            },
            "Command" => out.command = strings(val, &path, &mut bad),
            "Env" => out.env = map(val, &path, &mut bad, false),
            "Labels" => out.labels = map(val, &path, &mut bad, true),
            "Template" => match val {
                Value::String(s) if s.starts_with('/') => out.template = Some(PathBuf::from(s)),
                _ => bad.push(
                    &path,
                    "must be the absolute path of a Vagrantfile template on the plugin's host",
                    "write a path such as \"/etc/infrakit/Vagrantfile.tmpl\"",
                ),
            },
            _ => {} // Reported by reject_unknown_of.
        }
    }
    provider_checks(&out, obj, at, &suggested, &mut bad);
    bad.into_result(out)
}

/// Checks that the fields fit the chosen provider.
fn provider_checks(
    out: &VagrantProperties,
    obj: &Map<String, Value>,
    at: &str,
    suggested: &[&str],
    bad: &mut Violations,
) {
    match out.provider {
        Provider::Docker => {
            if !obj.contains_key("Image") && !suggested.contains(&"Image") {
                bad.push(
                    key(at, "Image"),
                    "is required by the docker provider",
                    "name an image that is on the engine, e.g. \"web:1\"",
                );
            }
            if obj.contains_key("Box") {
                bad.push(
                    key(at, "Box"),
                    "is not used by the docker provider (it runs Image)",
                    "remove Box, or set \"Provider\": \"virtualbox\"",
                );
            }
        }
        Provider::Virtualbox => {
            if !obj.contains_key("Box") && !suggested.contains(&"Box") {
                bad.push(
                    key(at, "Box"),
                    "is required by the virtualbox provider",
                    "name a box already added with `vagrant box add`",
                );
            }
            for f in DOCKER_ONLY {
                if obj.contains_key(*f) {
                    bad.push(
                        key(at, f),
                        "applies to the docker provider only",
                        "remove it, or set \"Provider\": \"docker\"",
                    );
                }
            }
            if out.cpus.is_some_and(|c| c.fract() != 0.0) {
                bad.push(
                    key(at, "CPUs"),
                    "must be a whole number for the virtualbox provider",
                    "write a number such as 2",
                );
            }
        }
    }
}

/// A non-empty string without white space (an image or box reference).
fn reference(v: &Value, path: &str, bad: &mut Violations, example: &str) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() && !s.chars().any(char::is_whitespace) => Some(s.clone()),
        _ => {
            bad.push(
                path,
                format!("must be a reference, found {}", describe(v)),
                format!("write a reference such as {example}"),
            );
            None
        }
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(_) => "an empty or spaced string".to_string(),
        other => type_name(other).to_string(),
    }
}

/// A list of strings.
fn strings(v: &Value, path: &str, bad: &mut Violations) -> Vec<String> {
    let Value::Array(items) = v else {
        bad.push(
            path,
            format!("must be a list of strings, found {}", type_name(v)),
            "write [\"sleep\", \"3600\"]",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(s) => out.push(s.clone()),
            other => bad.push(
                index(path, i),
                format!("must be a string, found {}", type_name(other)),
                "quote it",
            ),
        }
    }
    out
}

/// An object of strings; `labels` also reserves the plugin's prefix.
fn map(v: &Value, path: &str, bad: &mut Violations, labels: bool) -> BTreeMap<String, String> {
    let Value::Object(m) = v else {
        bad.push(
            path,
            format!("must be an object, found {}", type_name(v)),
            "write {\"NAME\": \"value\"}",
        );
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for (k, val) in m {
        let p = key(path, k);
        if k.is_empty() || k.contains('=') {
            bad.push(
                &p,
                "is empty or contains '='",
                "use a name such as \"team\"",
            );
        } else if labels && k.starts_with("infrakit.") {
            bad.push(
                &p,
                "uses the reserved prefix 'infrakit.' (tags and the plugin's own labels)",
                "rename the label",
            );
        }
        match val {
            Value::String(s) => {
                out.insert(k.clone(), s.clone());
            }
            other => bad.push(
                p,
                format!("must be a string, found {}", type_name(other)),
                "quote the value",
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests;
