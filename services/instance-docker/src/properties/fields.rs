//! Parsers for the individual Properties fields, each collecting its violations.

use super::{
    DockerProperties, MIN_MEMORY, MOUNT_FIELDS, RESOURCE_FIELDS, RESTART_POLICIES, Restart,
};
use crate::units::{self, Mount, MountKind};
use infrakit_model::Violations;
use infrakit_model::json_path::{index, key, strings, type_name};
use infrakit_model::object::{Object, one_of_fix};
use serde_json::Value;
use std::collections::BTreeMap;

pub(super) fn env(v: &Value, path: &str, bad: &mut Violations) -> Vec<String> {
    let mut out = Vec::new();
    let check_key = |k: &str, p: &str, bad: &mut Violations| {
        if k.is_empty() || k.contains('=') {
            bad.push(
                p,
                "has an empty name or a name with '='",
                "write \"NAME=value\"",
            );
            false
        } else {
            true
        }
    };
    match v {
        Value::Null => {}
        Value::Object(map) => {
            for (k, val) in map {
                let p = key(path, k);
                match val {
                    Value::String(s) => {
                        if check_key(k, &p, bad) {
                            out.push(format!("{k}={s}"));
                        }
                    }
                    other => bad.push(
                        p,
                        format!("must be a string, found {}", type_name(other)),
                        "quote the value",
                    ),
                }
            }
        }
        Value::Array(_) => {
            for (i, s) in strings(v, path, bad, "")
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                let p = index(path, i);
                match s.split_once('=') {
                    Some((k, _)) if check_key(k, &p, bad) => out.push(s.clone()),
                    Some(_) => {}
                    None => bad.push(p, format!("{s:?} has no '='"), "write \"NAME=value\""),
                }
            }
        }
        other => bad.push(
            path,
            format!("must be an object or a list, found {}", type_name(other)),
            "write {\"NAME\": \"value\"} or [\"NAME=value\"]",
        ),
    }
    out
}

pub(super) fn labels(v: &Value, path: &str, bad: &mut Violations) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match v {
        Value::Null => {}
        Value::Object(map) => {
            for (k, val) in map {
                let p = key(path, k);
                if k.is_empty() {
                    bad.push(&p, "is an empty label name", "give the label a name");
                } else if k.starts_with("infrakit.") {
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
        }
        other => bad.push(
            path,
            format!("must be an object, found {}", type_name(other)),
            "write {\"team\": \"web\"}",
        ),
    }
    out
}

pub(super) fn mounts(v: &Value, path: &str, bad: &mut Violations, out: &mut Vec<Mount>) {
    let items = match v {
        Value::Null => return,
        Value::Array(items) => items,
        other => {
            bad.push(
                path,
                format!("must be a list, found {}", type_name(other)),
                "write [{\"Type\": \"volume\", \"Source\": \"data\", \"Target\": \"/data\"}]",
            );
            return;
        }
    };
    for (i, item) in items.iter().enumerate() {
        let p = index(path, i);
        let before = bad.0.len();
        let fix = "write {\"Type\": \"bind\", \"Source\": \"/srv\", \"Target\": \"/srv\"}";
        let Some(m) = Object::read(item, &p, fix, bad) else {
            continue;
        };
        m.reject_unknown_of(MOUNT_FIELDS, "a mount", bad);
        let m = m.map();
        let kind = match m.get("Type").and_then(Value::as_str) {
            Some("bind") => Some(MountKind::Bind),
            Some("volume") | None => Some(MountKind::Volume),
            Some("tmpfs") => Some(MountKind::Tmpfs),
            Some(other) => {
                bad.push(
                    key(&p, "Type"),
                    format!("{other:?} is not a mount type"),
                    one_of_fix(other, &["bind", "volume", "tmpfs"]),
                );
                None
            }
        };
        let text = |f: &str, bad: &mut Violations| -> Option<String> {
            match m.get(f) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => {
                    bad.push(
                        key(&p, f),
                        format!("must be a string, found {}", type_name(other)),
                        "quote it",
                    );
                    None
                }
            }
        };
        let source = text("Source", bad);
        let target = text("Target", bad);
        let read_only = match m.get("ReadOnly") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                bad.push(
                    key(&p, "ReadOnly"),
                    format!("must be true or false, found {}", type_name(other)),
                    "write true",
                );
                false
            }
        };
        match &target {
            Some(t) if t.starts_with('/') => {}
            _ => bad.push(
                key(&p, "Target"),
                "must be an absolute path in the container",
                "write e.g. \"/data\"",
            ),
        }
        match (kind, source.as_deref()) {
            (Some(MountKind::Bind), Some(s)) if s.starts_with('/') => {}
            (Some(MountKind::Bind), _) => bad.push(
                key(&p, "Source"),
                "must be an absolute host path for a bind mount",
                "write e.g. \"/srv/data\"",
            ),
            (Some(MountKind::Volume), Some(s)) if !units::is_volume_name(s) => bad.push(
                key(&p, "Source"),
                format!("{s:?} is not a volume name"),
                "use letters, digits, '_', '.' and '-', or omit it for an anonymous volume",
            ),
            (Some(MountKind::Tmpfs), Some(_)) => bad.push(
                key(&p, "Source"),
                "has no meaning for a tmpfs mount",
                "remove it",
            ),
            _ => {}
        }
        if let (Some(kind), Some(target), true) = (kind, target, bad.0.len() == before) {
            out.push(Mount {
                kind,
                source,
                target,
                read_only,
            });
        }
    }
}

pub(super) fn restart(v: &Value, path: &str, bad: &mut Violations) -> Option<Restart> {
    let s = match v {
        Value::Null => return None,
        Value::String(s) => s.as_str(),
        other => {
            bad.push(
                path,
                format!("must be a string, found {}", type_name(other)),
                "write \"no\", \"on-failure\", \"on-failure:3\", \"always\" or \"unless-stopped\"",
            );
            return None;
        }
    };
    let (name, count) = match s.split_once(':') {
        Some((n, c)) => (n, Some(c)),
        None => (s, None),
    };
    let r = match (name, count) {
        ("no", None) => Restart::No,
        ("always", None) => Restart::Always,
        ("unless-stopped", None) => Restart::UnlessStopped,
        ("on-failure", None) => Restart::OnFailure(None),
        ("on-failure", Some(c)) => match c.parse::<u32>() {
            Ok(n) => Restart::OnFailure(Some(n)),
            Err(_) => {
                bad.push(
                    path,
                    format!("{s:?} has a retry count that is not a whole number"),
                    "write e.g. \"on-failure:3\"",
                );
                return None;
            }
        },
        _ => {
            bad.push(
                path,
                format!("{s:?} is not a restart policy"),
                one_of_fix(name, RESTART_POLICIES),
            );
            return None;
        }
    };
    Some(r)
}

pub(super) fn resources(v: &Value, path: &str, bad: &mut Violations, out: &mut DockerProperties) {
    let fix = "write {\"CPUs\": 0.5, \"Memory\": \"256m\"}";
    let Some(map) = Object::optional(v, path, fix, bad) else {
        return;
    };
    map.reject_unknown_of(RESOURCE_FIELDS, "Resources", bad);
    for (k, val) in map.fields() {
        let p = map.at(k);
        match k {
            "CPUs" => match val.as_f64() {
                Some(c) if (0.01..=1024.0).contains(&c) => {
                    out.nano_cpus = Some((c * 1e9).round() as i64);
                }
                _ if val.is_null() => {}
                _ => bad.push(
                    &p,
                    "must be a number of CPUs from 0.01 up",
                    "write e.g. 0.5 (half a CPU) or 2",
                ),
            },
            "Memory" => {
                let parsed = match val {
                    Value::String(s) => units::memory(s),
                    Value::Number(n) => n.as_i64().filter(|b| *b >= 0).ok_or_else(|| {
                        (
                            format!("{n} is not a number of bytes"),
                            "write a size such as \"256m\"".to_string(),
                        )
                    }),
                    Value::Null => continue,
                    other => Err((
                        format!("must be a size, found {}", type_name(other)),
                        "write a size such as \"256m\"".to_string(),
                    )),
                };
                match parsed {
                    Ok(b) if b < MIN_MEMORY => bad.push(
                        &p,
                        format!("is {b} bytes, below Docker's minimum of 6 MiB"),
                        "write at least \"6m\"",
                    ),
                    Ok(b) => out.memory = Some(b),
                    Err((problem, fix)) => bad.push(&p, problem, fix),
                }
            }
            _ => {} // Reported by reject_unknown_of.
        }
    }
}
