//! Parsing a spec from JSON, collecting every violation with its JSON path and a fix.

use super::fields::{SpecFields, read_object, read_whole};
use super::{
    Allocation, Backoff, GroupSpec, HealthPolicy, MAX_SIZE, PluginSection, RemediationPolicy,
    UpdatePolicy,
};
use infrakit_model::json_path::{index, type_name};
use infrakit_model::object::Object;
use infrakit_model::{PluginName, Violations};
use serde_json::Value;
use std::collections::HashMap;

/// Parses a whole spec; `Err` holds every violation found.
pub(super) fn parse_spec(value: &Value) -> Result<GroupSpec, Violations> {
    let mut out = Violations::new();
    let spec = read_spec(value, &mut out);
    match spec {
        Some(spec) if out.is_empty() => Ok(spec),
        _ => Err(out),
    }
}

fn read_spec(value: &Value, out: &mut Violations) -> Option<GroupSpec> {
    let top = read_object(
        value,
        "$",
        "{\"ID\": \"workers\", \"Properties\": {...}}",
        out,
    )?;
    top.reject_unknown(&["ID", "Properties"], out);
    let id = read_id(&top, out);
    let props = match top.get("Properties") {
        Some(v) => read_object(
            v,
            &top.at("Properties"),
            "{\"Allocation\": ..., \"Instance\": ..., \"Flavor\": ...}",
            out,
        ),
        None => {
            out.push(
                "$.Properties",
                "is missing",
                "add \"Properties\" with Allocation, Instance and Flavor",
            );
            None
        }
    };
    let props = props?;
    props.reject_unknown(
        &[
            "Allocation",
            "Instance",
            "Flavor",
            "Updating",
            "Health",
            "Remediation",
        ],
        out,
    );
    let allocation = read_allocation(&props, out);
    let instance = read_plugin_section(&props, "Instance", "instance-file", out);
    let flavor = read_plugin_section(&props, "Flavor", "flavor-vanilla", out);
    let updating = read_optional(&props, "Updating", out, read_updating).unwrap_or_default();
    let health = read_optional(&props, "Health", out, read_health).unwrap_or_default();
    let remediation =
        read_optional(&props, "Remediation", out, read_remediation).unwrap_or_default();
    let (id, allocation, instance, flavor) = (id?, allocation?, instance?, flavor?);
    let config_hash = crate::hash::hash_sections(&instance, &flavor);
    let logical_index = match &allocation {
        Allocation::LogicalIds(ids) => ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect(),
        Allocation::Size(_) => HashMap::new(),
    };
    Some(GroupSpec {
        id,
        allocation,
        instance,
        flavor,
        updating,
        health,
        remediation,
        config_hash,
        logical_index,
    })
}

fn read_id(top: &Object<'_>, out: &mut Violations) -> Option<String> {
    let path = top.at("ID");
    let Some(v) = top.get("ID") else {
        out.push(
            path,
            "is missing",
            "add \"ID\": \"workers\" (the group's name)",
        );
        return None;
    };
    let Some(id) = v.as_str() else {
        out.push(
            path,
            format!("must be a string, found {}", type_name(v)),
            "write the ID in quotes, such as \"workers\"",
        );
        return None;
    };
    let problem = if id.trim().is_empty() {
        Some("must not be blank")
    } else if id.len() > 64 {
        Some("is longer than 64 characters")
    } else if id.starts_with(['.', '-']) {
        Some("must not start with '.' or '-'")
    } else if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        Some("may only hold letters, digits, '.', '_' and '-'")
    } else {
        None
    };
    match problem {
        Some(p) => {
            out.push(
                path,
                p,
                "use a short name of letters, digits, '.', '_' and '-', such as \"workers\"",
            );
            None
        }
        None => Some(id.to_string()),
    }
}

fn read_allocation(props: &Object<'_>, out: &mut Violations) -> Option<Allocation> {
    let path = props.at("Allocation");
    let blank_fix = "add \"Size\": 3 for interchangeable instances, or \"LogicalIDs\": [\"a\", \"b\"] for named ones";
    let Some(v) = props.get("Allocation") else {
        out.push(
            path,
            "must not be blank: it needs Size or LogicalIDs",
            blank_fix,
        );
        return None;
    };
    let alloc = read_object(v, &path, "{\"Size\": 3}", out)?;
    alloc.reject_unknown(&["Size", "LogicalIDs"], out);
    match (alloc.get("Size"), alloc.get("LogicalIDs")) {
        (None, None) => {
            out.push(
                path,
                "must not be blank: it needs Size or LogicalIDs",
                blank_fix,
            );
            None
        }
        (Some(_), Some(_)) => {
            out.push(
                path,
                "uses two allocation methods (Size and LogicalIDs); only one may be used",
                "remove Size to keep the named LogicalIDs, or LogicalIDs to keep the Size",
            );
            None
        }
        (Some(size), None) => {
            read_whole(size, &alloc.at("Size"), MAX_SIZE, out).map(Allocation::Size)
        }
        (None, Some(ids)) => {
            read_logical_ids(ids, &alloc.at("LogicalIDs"), out).map(Allocation::LogicalIds)
        }
    }
}

fn read_logical_ids(v: &Value, path: &str, out: &mut Violations) -> Option<Vec<String>> {
    let Some(items) = v.as_array() else {
        out.push(
            path,
            format!("must be an array of strings, found {}", type_name(v)),
            "write [\"a\", \"b\"]",
        );
        return None;
    };
    if items.is_empty() {
        out.push(
            path,
            "is empty",
            "list at least one logical ID, or use \"Size\" instead",
        );
        return None;
    }
    if items.len() > MAX_SIZE as usize {
        out.push(
            path,
            format!("holds more than {MAX_SIZE} logical IDs"),
            "split the group",
        );
        return None;
    }
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(items.len());
    let mut ids = Vec::with_capacity(items.len());
    let before = out.0.len();
    for (i, item) in items.iter().enumerate() {
        let item_path = index(path, i);
        match item.as_str() {
            None => out.push(
                item_path,
                format!("must be a string, found {}", type_name(item)),
                "write the logical ID in quotes",
            ),
            Some(s) if s.trim().is_empty() => out.push(
                item_path,
                "must not be blank",
                "give every logical ID a name, or remove the entry",
            ),
            Some(s) if s.trim() != s => out.push(
                item_path,
                "has spaces around it",
                format!("write {:?}", s.trim()),
            ),
            Some(s) => match (logical_id_problem(s), seen.insert(s, i)) {
                (Some(problem), _) => out.push(item_path, problem, LOGICAL_ID_FIX),
                (None, Some(first)) => out.push(
                    item_path,
                    format!("repeats the logical ID {s:?} (first at [{first}])"),
                    "list every logical ID once",
                ),
                (None, None) => ids.push(s.to_string()),
            },
        }
    }
    (out.0.len() == before).then_some(ids)
}

/// The longest logical ID accepted: a DNS name's length, since logical IDs are often host
/// names or addresses.
const MAX_LOGICAL_ID: usize = 253;

const LOGICAL_ID_FIX: &str =
    "use 1 to 253 letters, digits, '.', '_', ':' and '-', such as \"db-1\" or \"10.0.0.11\"";

/// What is wrong with a logical ID, if anything. Logical IDs become tag values, flavor
/// template data, and file or host names in plugins, so only a safe set is accepted: ASCII
/// letters, digits, `.`, `_`, `:` (IPv6 addresses) and `-`; 1 to 253 characters; not `.` or
/// `..` (which name directories). So no `/`, NUL, space or control character.
fn logical_id_problem(id: &str) -> Option<String> {
    if id.len() > MAX_LOGICAL_ID {
        return Some(format!(
            "is {} characters long, more than {MAX_LOGICAL_ID}",
            id.chars().count()
        ));
    }
    if id == "." || id == ".." {
        return Some(format!("{id:?} names a directory, not an instance"));
    }
    let bad = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))?;
    Some(format!(
        "{id:?} holds {bad:?}, which a logical ID may not hold"
    ))
}

fn read_plugin_section(
    props: &Object<'_>,
    name: &str,
    example: &str,
    out: &mut Violations,
) -> Option<PluginSection> {
    let path = props.at(name);
    let Some(v) = props.get(name) else {
        out.push(
            path,
            "is missing",
            format!("add \"{name}\": {{\"Plugin\": \"{example}\", \"Properties\": {{}}}}"),
        );
        return None;
    };
    let section = read_object(
        v,
        &path,
        "{\"Plugin\": \"...\", \"Properties\": {...}}",
        out,
    )?;
    section.reject_unknown(&["Plugin", "Properties"], out);
    let properties = section.get("Properties").cloned().unwrap_or(Value::Null);
    let plugin_path = section.at("Plugin");
    let plugin = match section.get("Plugin") {
        None => {
            out.push(
                plugin_path,
                "is missing",
                format!("add \"Plugin\": \"{example}\""),
            );
            None
        }
        Some(Value::String(s)) => match PluginName::parse(s) {
            Ok(p) => Some(p),
            Err(e) => {
                out.push(
                    plugin_path,
                    format!("{s:?} is not a plugin name: {}", e.problem),
                    format!("use a plugin name such as \"{example}\" or \"aws/ec2-instance\""),
                );
                None
            }
        },
        Some(other) => {
            out.push(
                plugin_path,
                format!("must be a string, found {}", type_name(other)),
                format!("write \"{example}\""),
            );
            None
        }
    };
    Some(PluginSection {
        plugin: plugin?,
        properties,
    })
}

fn read_optional<T>(
    props: &Object<'_>,
    name: &str,
    out: &mut Violations,
    read: fn(&Object<'_>, &mut Violations) -> T,
) -> Option<T> {
    let v = props.get(name)?;
    let obj = read_object(v, &props.at(name), "{...}", out)?;
    Some(read(&obj, out))
}

fn read_updating(obj: &Object<'_>, out: &mut Violations) -> UpdatePolicy {
    obj.reject_unknown(
        &[
            "MaxSurge",
            "MaxUnavailable",
            "HealthyFor",
            "Deadline",
            "AutoRollback",
            "Duration",
            "Count",
        ],
        out,
    );
    let mut p = UpdatePolicy::default();
    if let Some(q) = obj.quantity("MaxSurge", out) {
        p.max_surge = q;
    }
    if let Some(q) = obj.quantity("MaxUnavailable", out) {
        p.max_unavailable = q;
    }
    if let Some(d) = obj.duration("HealthyFor", out) {
        p.healthy_for = d;
    }
    if obj.get("Duration").is_some() && obj.get("HealthyFor").is_some() {
        out.push(
            obj.at("Duration"),
            "says the same as HealthyFor",
            "remove Duration (InfraKit's name for it) and keep HealthyFor",
        );
    } else if let Some(d) = obj.duration("Duration", out) {
        p.healthy_for = d;
    }
    if obj.get("Count").is_some() {
        out.push(
            obj.at("Count"),
            "InfraKit's count of consecutive healthy polls is not supported: this controller does not poll at a fixed interval",
            "use \"HealthyFor\": \"30s\" (how long a new instance must stay healthy)",
        );
    }
    if let Some(d) = obj.duration("Deadline", out) {
        if d.is_zero() {
            out.push(
                obj.at("Deadline"),
                "must be longer than 0s",
                "use a deadline such as \"10m\"",
            );
        }
        p.deadline = d;
    }
    if let Some(b) = obj.boolean("AutoRollback", out) {
        p.auto_rollback = b;
    }
    if p.max_surge.is_zero() && p.max_unavailable.is_zero() {
        out.push(
            obj.path(),
            "MaxSurge and MaxUnavailable are both 0, so a rolling update could never replace anything",
            "set MaxSurge to 1 (create before destroy) or MaxUnavailable to 1 (destroy before create)",
        );
    }
    p
}

fn read_health(obj: &Object<'_>, out: &mut Violations) -> HealthPolicy {
    obj.reject_unknown(&["GracePeriod", "UnhealthyAfter"], out);
    let mut p = HealthPolicy::default();
    if let Some(d) = obj.duration("GracePeriod", out) {
        p.grace_period = d;
    }
    if let Some(d) = obj.duration("UnhealthyAfter", out) {
        p.unhealthy_after = d;
    }
    p
}

fn read_remediation(obj: &Object<'_>, out: &mut Violations) -> RemediationPolicy {
    obj.reject_unknown(&["MaxUnhealthy", "Backoff"], out);
    let mut p = RemediationPolicy::default();
    if let Some(q) = obj.quantity("MaxUnhealthy", out) {
        p.max_unhealthy = q;
    }
    let example = "{\"Initial\": \"1s\", \"Max\": \"5m\"}";
    if let Some(v) = obj.get("Backoff")
        && let Some(b) = read_object(v, &obj.at("Backoff"), example, out)
    {
        p.backoff = read_backoff(&b, out);
    }
    p
}

fn read_backoff(obj: &Object<'_>, out: &mut Violations) -> Backoff {
    obj.reject_unknown(&["Initial", "Max"], out);
    let mut b = Backoff::default();
    if let Some(d) = obj.duration("Initial", out) {
        if d.is_zero() {
            out.push(
                obj.at("Initial"),
                "must be longer than 0s",
                "use a wait such as \"1s\"",
            );
        }
        b.initial = d;
    }
    if let Some(d) = obj.duration("Max", out) {
        b.max = d;
    }
    if b.max < b.initial && !b.initial.is_zero() {
        out.push(
            obj.at("Max"),
            "is shorter than Initial",
            "make Max at least as long as Initial",
        );
    }
    b
}
