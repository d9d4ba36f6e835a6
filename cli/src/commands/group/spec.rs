//! The group spec file, InfraKit's `{"ID": "...", "Properties": {...}}`, to and from the SPI's
//! `GroupSpec` (whose Properties are JSON bytes). Field names match ignoring case, as in
//! InfraKit; unknown fields are errors with a suggestion. The Properties themselves are
//! checked by the plugin, which reports every violation at its JSON path.

use crate::spec::{canonical, properties_bytes, properties_value, unknown_field};
use infrakit_model::Violations;
use infrakit_model::json_path::{key, type_name};
use infrakit_spi::group::v1::GroupSpec;
use serde::Serialize;
use serde_json::Value;

const SPEC_FIELDS: [&str; 2] = ["ID", "Properties"];

/// Builds a `GroupSpec` from InfraKit's JSON shape. A spec without `ID` takes `default_id`
/// (the plugin name's subtype), if any.
pub fn group_spec_from_json(v: &Value, default_id: Option<&str>) -> Result<GroupSpec, Violations> {
    let mut problems = Violations::new();
    let mut spec = GroupSpec::default();
    let Some(obj) = v.as_object() else {
        problems.push(
            "$",
            format!("must be an object, found {}", type_name(v)),
            r#"write e.g. {"ID": "cattle", "Properties": {"Allocation": {"Size": 5}, ...}}"#,
        );
        return Err(problems);
    };
    for (k, val) in obj {
        let path = key("$", k);
        match canonical(k, &SPEC_FIELDS) {
            Some("ID") => match val {
                Value::String(s) => spec.id = s.clone(),
                Value::Null => {}
                other => problems.push(
                    path,
                    format!("must be a string, found {}", type_name(other)),
                    "write the group ID as a string, e.g. \"cattle\"",
                ),
            },
            Some("Properties") => match val {
                Value::Object(_) => spec.properties = properties_bytes(val),
                other => problems.push(
                    path,
                    format!("must be an object, found {}", type_name(other)),
                    r#"write e.g. {"Allocation": {"Size": 5}, "Instance": {...}, "Flavor": {...}}"#,
                ),
            },
            _ => problems.0.push(unknown_field(&path, k, &SPEC_FIELDS)),
        }
    }
    if spec.id.is_empty() {
        match default_id {
            Some(id) if !id.is_empty() => spec.id = id.to_string(),
            _ => problems.push(
                "$.ID",
                "is missing",
                "name the group, e.g. \"ID\": \"cattle\"",
            ),
        }
    }
    if !obj
        .keys()
        .any(|k| canonical(k, &SPEC_FIELDS) == Some("Properties"))
    {
        problems.push(
            "$.Properties",
            "is missing",
            r#"add e.g. {"Allocation": {"Size": 5}, "Instance": {...}, "Flavor": {...}}"#,
        );
    }
    problems.into_result(spec)
}

/// A committed spec in InfraKit's shape, `{"ID", "Properties"}`, Properties parsed.
#[derive(Debug, Serialize)]
pub struct SpecView {
    /// The group ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// The Properties (`null` when empty; a string when they are not JSON).
    #[serde(rename = "Properties")]
    pub properties: Value,
}

/// The summary `ikctl group inspect` shows for one group; missing fields are `-`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpecSummary {
    /// The group ID.
    pub id: String,
    /// The size (cattle) or the logical IDs joined with commas (pets).
    pub allocation: String,
    /// `Instance.Plugin`.
    pub instance_plugin: String,
    /// `Flavor.Plugin`.
    pub flavor_plugin: String,
}

/// The view of an SPI spec.
pub fn spec_view(s: &GroupSpec) -> SpecView {
    SpecView {
        id: s.id.clone(),
        properties: properties_value(&s.properties),
    }
}

/// Reads the allocation and the plugins out of a spec's Properties, tolerating anything.
pub fn summary(s: &GroupSpec) -> SpecSummary {
    let props = properties_value(&s.properties);
    let alloc = field(&props, "Allocation");
    let allocation = match (field(alloc, "Size"), field(alloc, "LogicalIDs")) {
        (Value::Number(n), _) => n.to_string(),
        (_, Value::Array(ids)) => ids
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(","),
        _ => "-".to_string(),
    };
    let plugin = |section: &str| match field(field(&props, section), "Plugin") {
        Value::String(p) if !p.is_empty() => p.clone(),
        _ => "-".to_string(),
    };
    SpecSummary {
        id: s.id.clone(),
        allocation,
        instance_plugin: plugin("Instance"),
        flavor_plugin: plugin("Flavor"),
    }
}

/// The value of `name` in an object, matched exactly or ignoring case; `null` otherwise.
fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    let Some(obj) = v.as_object() else {
        return &NULL;
    };
    obj.get(name)
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .unwrap_or(&NULL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_the_spi_spec_with_properties_as_json_bytes() {
        let v = json!({"id": "cattle", "Properties": {"Allocation": {"Size": 5}}});
        let s = group_spec_from_json(&v, None).unwrap();
        assert_eq!(s.id, "cattle");
        let props: Value = serde_json::from_slice(&s.properties).unwrap();
        assert_eq!(props, json!({"Allocation": {"Size": 5}}));
    }

    #[test]
    fn the_subtype_is_the_default_id_only() {
        let v = json!({"Properties": {}});
        assert_eq!(
            group_spec_from_json(&v, Some("workers")).unwrap().id,
            "workers"
        );
        let v = json!({"ID": "cattle", "Properties": {}});
        assert_eq!(
            group_spec_from_json(&v, Some("workers")).unwrap().id,
            "cattle"
        );
    }

    #[test]
    fn every_problem_is_reported_at_its_path() {
        let v = json!({"Propertis": {}, "Size": 3});
        let err = group_spec_from_json(&v, None).unwrap_err().to_string();
        assert!(
            err.contains("$.Propertis: is not a known field (fix: did you mean \"Properties\"?)"),
            "{err}"
        );
        assert!(err.contains("$.Size: is not a known field"), "{err}");
        assert!(err.contains("$.ID: is missing"), "{err}");
        assert!(err.contains("$.Properties: is missing"), "{err}");
        let err = group_spec_from_json(&json!({"ID": 3, "Properties": []}), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("$.ID: must be a string, found a number"),
            "{err}"
        );
        assert!(
            err.contains("$.Properties: must be an object, found an array"),
            "{err}"
        );
        assert!(group_spec_from_json(&json!([1]), None).is_err());
    }

    #[test]
    fn summary_reads_size_or_logical_ids_and_plugins_tolerantly() {
        let cattle = GroupSpec {
            id: "cattle".into(),
            properties: br#"{"Allocation":{"Size":5},"Instance":{"Plugin":"instance-file"},"flavor":{"plugin":"flavor-vanilla"}}"#.to_vec(),
        };
        assert_eq!(
            summary(&cattle),
            SpecSummary {
                id: "cattle".into(),
                allocation: "5".into(),
                instance_plugin: "instance-file".into(),
                flavor_plugin: "flavor-vanilla".into(),
            }
        );
        let pets = GroupSpec {
            id: "zk".into(),
            properties: br#"{"Allocation":{"LogicalIDs":["10.0.0.1","10.0.0.2"]}}"#.to_vec(),
        };
        let s = summary(&pets);
        assert_eq!(
            (s.allocation.as_str(), s.instance_plugin.as_str()),
            ("10.0.0.1,10.0.0.2", "-")
        );
        let junk = GroupSpec {
            id: "x".into(),
            properties: b"not json".to_vec(),
        };
        assert_eq!(summary(&junk).allocation, "-");
    }
}
