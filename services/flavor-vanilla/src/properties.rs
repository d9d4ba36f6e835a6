//! The vanilla flavor's Properties:
//!
//! ```json
//! {"Init": ["line", "..."] or "script", "Tags": {"k": "v"}, "Attachments": [{"ID": "a", "Type": "t"}],
//!  "HealthCheck": "shell command"}
//! ```
//!
//! Every field is optional. Without `HealthCheck` every instance is healthy; with it, Healthy
//! runs the command with `sh -c` (environment: `INFRAKIT_INSTANCE_ID`, `INFRAKIT_LOGICAL_ID`,
//! `INFRAKIT_GROUP`, and every tag as `INFRAKIT_TAG_<NAME>` with non-alphanumerics as `_`):
//! exit status 0 is HEALTHY, any other UNHEALTHY, and no answer within 10 s is UNHEALTHY. Unknown fields are refused with a did-you-mean. Tags whose name starts
//! with `infrakit.` are reserved for the group controller.

use infrakit_model::Violations;
use infrakit_model::json_path::{index, key, type_name};
use infrakit_model::object::Object;
use serde_json::Value;
use std::collections::BTreeMap;

/// The fields the vanilla flavor understands.
pub const FIELDS: &[&str] = &["Init", "Tags", "Attachments", "HealthCheck"];

/// Validated vanilla Properties.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VanillaProperties {
    /// Lines appended to the instance's boot script.
    pub init: Vec<String>,
    /// Tags merged into the instance's tags.
    pub tags: BTreeMap<String, String>,
    /// Attachments appended to the instance's attachments, as (ID, Type).
    pub attachments: Vec<(String, String)>,
    /// A shell command whose exit status is the instance's health.
    pub health_check: Option<String>,
}

/// Parses Properties at JSON path `at`, collecting every violation.
pub fn parse(v: &Value, at: &str) -> Result<VanillaProperties, Violations> {
    let mut out = VanillaProperties::default();
    let mut bad = Violations::new();
    let Some(obj) = Object::optional(v, at, "write {\"Init\": [...], \"Tags\": {...}}", &mut bad)
    else {
        return bad.into_result(out);
    };
    obj.reject_unknown_of(FIELDS, "the vanilla flavor", &mut bad);
    for (k, val) in obj.fields() {
        let path = obj.at(k);
        match k {
            "Init" => match val {
                Value::String(s) => out.init.push(s.clone()),
                Value::Array(lines) => {
                    for (i, l) in lines.iter().enumerate() {
                        match l {
                            Value::String(s) => out.init.push(s.clone()),
                            other => bad.push(
                                index(&path, i),
                                format!("must be a string, found {}", type_name(other)),
                                "quote the line",
                            ),
                        }
                    }
                }
                Value::Null => {}
                other => bad.push(
                    &path,
                    format!(
                        "must be a list of lines or a string, found {}",
                        type_name(other)
                    ),
                    "write [\"line 1\", \"line 2\"]",
                ),
            },
            "Tags" => match val {
                Value::Object(tags) => {
                    for (tk, tv) in tags {
                        let tpath = key(&path, tk);
                        if tk.is_empty() {
                            bad.push(&tpath, "is an empty tag name", "give the tag a name");
                        } else if tk.starts_with("infrakit.") {
                            bad.push(
                                &tpath,
                                "uses the reserved prefix 'infrakit.'",
                                "rename the tag",
                            );
                        }
                        match tv {
                            Value::String(s) => {
                                out.tags.insert(tk.clone(), s.clone());
                            }
                            other => bad.push(
                                &tpath,
                                format!("must be a string, found {}", type_name(other)),
                                "quote the value",
                            ),
                        }
                    }
                }
                Value::Null => {}
                other => bad.push(
                    &path,
                    format!("must be an object, found {}", type_name(other)),
                    "write {\"tier\": \"web\"}",
                ),
            },
            "Attachments" => match val {
                Value::Array(items) => {
                    for (i, a) in items.iter().enumerate() {
                        let apath = index(&path, i);
                        match (
                            a.get("ID").and_then(Value::as_str),
                            a.get("Type").and_then(Value::as_str),
                        ) {
                            (Some(id), Some(t)) if a.as_object().is_some_and(|o| o.len() == 2) => {
                                out.attachments.push((id.to_string(), t.to_string()));
                            }
                            _ => bad.push(
                                apath,
                                "must be an object with string fields ID and Type only",
                                "write {\"ID\": \"vol-1\", \"Type\": \"ebs\"}",
                            ),
                        }
                    }
                }
                Value::Null => {}
                other => bad.push(
                    &path,
                    format!("must be a list, found {}", type_name(other)),
                    "write [{\"ID\": \"vol-1\", \"Type\": \"ebs\"}]",
                ),
            },
            "HealthCheck" => match val {
                Value::String(c) if !c.trim().is_empty() => out.health_check = Some(c.clone()),
                Value::Null => {}
                other => bad.push(
                    &path,
                    format!(
                        "must be a non-empty shell command, found {}",
                        type_name(other)
                    ),
                    "write \"test -e /run/ready\"",
                ),
            },
            _ => {} // Reported by reject_unknown.
        }
    }
    bad.into_result(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_field() {
        let p = parse(
            &json!({"Init": ["a", "b"], "Tags": {"tier": "web"}, "Attachments": [{"ID": "v", "Type": "ebs"}]}),
            "$",
        )
        .unwrap();
        assert_eq!(p.init, vec!["a", "b"]);
        assert_eq!(p.tags["tier"], "web");
        assert_eq!(p.attachments, vec![("v".to_string(), "ebs".to_string())]);
        assert_eq!(
            parse(&json!({"Init": "one"}), "$").unwrap().init,
            vec!["one"]
        );
        assert_eq!(
            parse(&Value::Null, "$").unwrap(),
            VanillaProperties::default()
        );
    }

    #[test]
    fn reports_every_violation_with_its_path() {
        let err = parse(
            &json!({"Inti": [], "Init": [1], "Tags": {"infrakit.group": "x", "n": 2}, "Attachments": [{"ID": "v"}]}),
            "$.Properties",
        )
        .unwrap_err();
        let paths: Vec<&str> = err.0.iter().map(|v| v.path.as_str()).collect();
        assert!(paths.contains(&"$.Properties.Inti"), "{paths:?}");
        assert!(paths.contains(&"$.Properties.Init[0]"), "{paths:?}");
        assert!(
            paths.contains(&"$.Properties.Tags[\"infrakit.group\"]"),
            "{paths:?}"
        );
        assert!(paths.contains(&"$.Properties.Tags.n"), "{paths:?}");
        assert!(paths.contains(&"$.Properties.Attachments[0]"), "{paths:?}");
        assert!(err.to_string().contains("did you mean \"Init\"?"), "{err}");
    }
}
