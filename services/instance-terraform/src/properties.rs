//! The instance Properties, checked with JSON paths:
//!
//! ```json
//! {
//!   "resource": {"terraform_data": {"input": {"v": 1}, "provisioner": [ ... ]}},
//!   "extra": {"disk": {"resource": {"terraform_data": { ... }}, "keep": true}},
//!   "check": "${fileexists({{self}}.output.pidfile)}",
//!   "mapping": {"tags": "input.labels", "tags_format": "map", "init": null}
//! }
//! ```
//!
//! - `resource` (required): exactly one resource type and its body, as in Terraform's JSON
//!   syntax without the resource name (the plugin names it after the instance ID).
//! - `extra`: more resources created and destroyed with the instance, by a name of your choosing
//!   (a letter, then letters, digits, `_`, `-`). `keep: true` keeps one when the instance is
//!   destroyed: a pet's (one with a logical ID) stays managed and is reused by the next instance
//!   with the same logical ID; a cattle instance's is released from Terraform's state.
//! - `check`: a Terraform condition that holds while the instance is alive; when it turns false
//!   the instance is reported FAILED (so the group replaces it). It is a `check` block assertion,
//!   evaluated by every plan (each refresh interval), written as one `${...}` expression that
//!   refers to the instance's resource (`{{self}}`) or an extra (`{{extra.NAME}}`). The plugin
//!   wraps it in `try(..., false)`: a condition that cannot be evaluated (a file gone) fails the
//!   check instead of failing every plan of the directory.
//! - `mapping`: where tags and the Init go, overriding the default of the resource type (see
//!   [`crate::mapping`]); `null` leaves a part out.
//!
//! Strings may use the placeholders `{{id}}` (the instance ID), `{{logical_id}}` (the logical ID,
//! or the instance ID for cattle), `{{self}}` (the resource's address, e.g.
//! `terraform_data.instance-…`) and `{{extra.NAME}}` (an extra resource's address).

use crate::mapping::{InitEncoding, Mapping, TagFormat};
use crate::names::{self, PLACEHOLDERS};
use infrakit_model::Violations;
use infrakit_model::json_path::{index, key, type_name};
use infrakit_model::object::Object;
use infrakit_model::suggest::did_you_mean;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The top-level fields.
pub const FIELDS: &[&str] = &["resource", "extra", "check", "mapping"];
/// The fields of one extra resource.
pub const EXTRA_FIELDS: &[&str] = &["resource", "keep"];
/// The fields of `mapping`.
pub const MAPPING_FIELDS: &[&str] = &["tags", "tags_format", "init", "init_encoding"];
/// Meta-arguments that would make one instance more than one resource.
pub const FORBIDDEN_META: &[&str] = &["count", "for_each"];
/// The longest extra name.
pub const MAX_EXTRA_NAME: usize = 32;

/// Checked Properties.
#[derive(Clone, Debug, PartialEq)]
pub struct TfProperties {
    /// The resource type, e.g. `aws_instance`.
    pub resource_type: String,
    /// The resource body.
    pub body: Map<String, Value>,
    /// The extra resources, by name.
    pub extras: BTreeMap<String, Extra>,
    /// The liveness condition, if any.
    pub check: Option<String>,
    /// Where tags and Init go.
    pub mapping: Mapping,
}

/// One extra resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Extra {
    /// Its resource type.
    pub resource_type: String,
    /// Its body.
    pub body: Map<String, Value>,
    /// Whether it outlives the instance.
    pub keep: bool,
}

/// Checks Properties found at JSON path `at`, collecting every violation.
pub fn parse(v: &Value, at: &str) -> Result<TfProperties, Violations> {
    let mut bad = Violations::new();
    let Some(top) = Object::read(v, at, "give {\"resource\": {\"<type>\": {...}}}", &mut bad)
    else {
        return Err(bad);
    };
    top.reject_unknown(FIELDS, &mut bad);
    let top = top.map();
    let main = match top.get("resource") {
        None => {
            bad.push(
                key(at, "resource"),
                "is missing",
                "give the resource type and its body: {\"resource\": {\"aws_instance\": {...}}}",
            );
            None
        }
        Some(r) => resource(r, &key(at, "resource"), &mut bad),
    };
    let mut extras = BTreeMap::new();
    match top.get("extra") {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => {
            for (name, e) in o {
                let p = key(&key(at, "extra"), name);
                if !names::is_identifier(name) || name.len() > MAX_EXTRA_NAME {
                    bad.push(
                        &p,
                        "is not a valid name",
                        format!(
                            "use a letter, then letters, digits, '_' or '-', at most {MAX_EXTRA_NAME}"
                        ),
                    );
                }
                if let Some(x) = extra(e, &p, &mut bad) {
                    extras.insert(name.clone(), x);
                }
            }
        }
        Some(other) => bad.push(
            key(at, "extra"),
            format!("must be an object, found {}", type_name(other)),
            "give {\"<name>\": {\"resource\": {\"<type>\": {...}}, \"keep\": false}}",
        ),
    }
    let check = match top.get("check") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => {
            if condition_expression(s).is_none() {
                bad.push(
                    key(at, "check"),
                    "is not one Terraform expression in \"${...}\"",
                    "write the whole condition inside one ${...}, e.g. \"${fileexists({{self}}.output.pidfile)}\"",
                );
            }
            let refers = names::placeholders_in(s)
                .iter()
                .any(|p| *p == "self" || p.starts_with("extra."));
            if !refers {
                bad.push(
                    key(at, "check"),
                    "does not refer to the instance's resource",
                    "refer to it through {{self}}, e.g. \"${fileexists({{self}}.output.pidfile)}\" (Terraform requires a check to refer to an object)",
                );
            }
            Some(s.clone())
        }
        Some(other) => {
            bad.push(
                key(at, "check"),
                format!("must be a non-empty string, found {}", type_name(other)),
                "give a Terraform condition on the resource, e.g. \"${fileexists({{self}}.output.pidfile)}\"",
            );
            None
        }
    };
    let mapping = main.as_ref().map(|(t, _)| {
        let mut m = Mapping::for_type(t);
        if let Some(o) = top.get("mapping") {
            overrides(&mut m, o, &key(at, "mapping"), &mut bad);
        }
        m
    });
    if let (Some((t, body)), Some(m)) = (&main, &mapping) {
        let body_at = key(&key(at, "resource"), t);
        for p in m.reserved() {
            if get_path(body, p).is_some() {
                let path = p.iter().fold(body_at.clone(), |acc, s| key(&acc, s));
                bad.push(
                    path,
                    "is written by the plugin",
                    "remove it from the Properties",
                );
            }
        }
    }
    // Placeholders.
    let known: Vec<String> = PLACEHOLDERS
        .iter()
        .map(|s| s.to_string())
        .chain(extras.keys().map(|n| format!("extra.{n}")))
        .collect();
    if let Some(r) = top.get("resource") {
        placeholders(r, &key(at, "resource"), &known, &mut bad);
    }
    if let Some(e) = top.get("extra") {
        placeholders(e, &key(at, "extra"), &known, &mut bad);
    }
    if let Some(c) = top.get("check") {
        placeholders(c, &key(at, "check"), &known, &mut bad);
    }
    match (main, mapping) {
        (Some((resource_type, body)), Some(mapping)) if bad.is_empty() => Ok(TfProperties {
            resource_type,
            body,
            extras,
            check,
            mapping,
        }),
        _ => Err(bad),
    }
}

/// The expression inside a check condition written as one interpolation, `${EXPR}`.
pub fn condition_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("${")?.strip_suffix('}')?;
    (!inner.trim().is_empty() && !inner.contains("${")).then_some(inner)
}

/// `{"<type>": {body}}`.
fn resource(v: &Value, at: &str, bad: &mut Violations) -> Option<(String, Map<String, Value>)> {
    let Value::Object(o) = v else {
        bad.push(
            at,
            format!("must be an object, found {}", type_name(v)),
            "give {\"<type>\": {...}}",
        );
        return None;
    };
    if o.len() != 1 {
        bad.push(
            at,
            format!("must name exactly one resource type, found {}", o.len()),
            "give one type, e.g. {\"aws_instance\": {...}}; put more resources under `extra`",
        );
        return None;
    }
    let (t, body) = o.iter().next()?;
    let p = key(at, t);
    if !names::is_resource_type(t) {
        bad.push(
            &p,
            "is not a resource type name",
            "use a Terraform resource type such as terraform_data or aws_instance",
        );
    }
    let Value::Object(body) = body else {
        bad.push(
            &p,
            format!("must be an object, found {}", type_name(body)),
            "give the resource's arguments as an object",
        );
        return None;
    };
    for m in FORBIDDEN_META {
        if body.contains_key(*m) {
            bad.push(
                key(&p, m),
                "would make one instance several resources",
                "remove it: the group decides how many instances exist",
            );
        }
    }
    if let Some(prov) = body.get("provisioner")
        && !matches!(prov, Value::Object(_) | Value::Array(_))
    {
        bad.push(
            key(&p, "provisioner"),
            format!("must be an object or an array, found {}", type_name(prov)),
            "write provisioners as in Terraform's JSON syntax: [{\"local-exec\": {...}}]",
        );
    }
    Some((t.clone(), body.clone()))
}

fn extra(v: &Value, at: &str, bad: &mut Violations) -> Option<Extra> {
    let fix = "give {\"resource\": {\"<type>\": {...}}, \"keep\": false}";
    let o = Object::read(v, at, fix, bad)?;
    o.reject_unknown(EXTRA_FIELDS, bad);
    let o = o.map();
    let keep = match o.get("keep") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            bad.push(
                key(at, "keep"),
                format!("must be true or false, found {}", type_name(other)),
                "write true or false",
            );
            false
        }
    };
    let Some(r) = o.get("resource") else {
        bad.push(
            key(at, "resource"),
            "is missing",
            "give the resource type and its body",
        );
        return None;
    };
    let (resource_type, body) = resource(r, &key(at, "resource"), bad)?;
    Some(Extra {
        resource_type,
        body,
        keep,
    })
}

fn overrides(m: &mut Mapping, v: &Value, at: &str, bad: &mut Violations) {
    let fix = "give {\"tags\": \"<attribute>\", \"init\": \"<attribute>\"}";
    let Some(o) = Object::read(v, at, fix, bad) else {
        return;
    };
    o.reject_unknown(MAPPING_FIELDS, bad);
    let o = o.map();
    let attr = |v: &Value, p: &str, bad: &mut Violations| -> Option<Option<Vec<String>>> {
        match v {
            Value::Null => Some(None),
            Value::String(s) if s.split('.').all(names::is_identifier) => {
                Some(Some(s.split('.').map(str::to_string).collect()))
            }
            _ => {
                bad.push(
                    p,
                    "must be an attribute name (nested with '.') or null",
                    "write e.g. \"labels\" or \"input.tags\", or null to leave it out",
                );
                None
            }
        }
    };
    for (k, v) in o {
        let p = key(at, k);
        match k.as_str() {
            "tags" => {
                if let Some(a) = attr(v, &p, bad) {
                    m.tags = a;
                }
            }
            "init" => {
                if let Some(a) = attr(v, &p, bad) {
                    m.init = a;
                }
            }
            "tags_format" => match v.as_str() {
                Some("map") => m.tags_format = TagFormat::Map,
                Some("labels") => m.tags_format = TagFormat::Labels,
                Some("list") => m.tags_format = TagFormat::List,
                _ => bad.push(
                    p,
                    "is not a tag format",
                    "use \"map\", \"labels\" or \"list\"",
                ),
            },
            "init_encoding" => match v.as_str() {
                Some("plain") => m.init_encoding = InitEncoding::Plain,
                Some("base64") => m.init_encoding = InitEncoding::Base64,
                _ => bad.push(p, "is not an encoding", "use \"plain\" or \"base64\""),
            },
            _ => {} // Reported by reject_unknown.
        }
    }
}

fn get_path<'a>(body: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let v = body.get(first)?;
    if rest.is_empty() {
        return Some(v);
    }
    get_path(v.as_object()?, rest)
}

fn placeholders(v: &Value, at: &str, known: &[String], bad: &mut Violations) {
    match v {
        Value::String(s) => {
            for p in names::placeholders_in(s) {
                if !known.iter().any(|k| k == p) {
                    let fix = match did_you_mean(p, known.iter().map(String::as_str)) {
                        Some(s) => format!("did you mean {{{{{s}}}}}?"),
                        None => format!(
                            "use one of {}",
                            known
                                .iter()
                                .map(|k| format!("{{{{{k}}}}}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    bad.push(at, format!("uses an unknown placeholder {{{{{p}}}}}"), fix);
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                placeholders(x, &index(at, i), known, bad);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                placeholders(x, &key(at, k), known, bad);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(v: &Value) -> Vec<String> {
        parse(v, "$")
            .unwrap_err()
            .0
            .into_iter()
            .map(|v| v.path)
            .collect()
    }

    #[test]
    fn a_full_spec_parses() {
        let p = parse(
            &json!({
                "resource": {"terraform_data": {"input": {"v": "{{id}}"}}},
                "extra": {"disk": {"resource": {"terraform_data": {"input": "{{self}}"}}, "keep": true}},
                "check": "${fileexists({{self}}.output.f)}",
                "mapping": {"tags": "input.labels", "init": null}
            }),
            "$",
        )
        .unwrap();
        assert_eq!(p.resource_type, "terraform_data");
        assert!(p.extras["disk"].keep);
        assert_eq!(p.mapping.tags, Some(vec!["input".into(), "labels".into()]));
        assert_eq!(p.mapping.init, None);
        assert_eq!(p.mapping.id, Some(vec!["input".into(), "id".into()]));
        assert!(p.check.is_some());
    }

    #[test]
    fn every_problem_is_named_by_its_path() {
        assert_eq!(
            paths(&json!({"resorce": {}, "check": 1})),
            ["$.resorce", "$.resource", "$.check"]
        );
        assert_eq!(
            paths(&json!({"resource": {"aws_instance": {}, "aws_eip": {}}})),
            ["$.resource"]
        );
        assert_eq!(
            paths(&json!({"resource": {"aws_instance": {"count": 2, "provisioner": "x"}}})),
            [
                "$.resource.aws_instance.count",
                "$.resource.aws_instance.provisioner"
            ]
        );
        assert_eq!(
            paths(&json!({"resource": {"terraform_data": {"input": {"id": 1}}}})),
            ["$.resource.terraform_data.input.id"]
        );
        assert_eq!(
            paths(
                &json!({"resource": {"t_x": {}}, "extra": {"bad.name": {"resource": {"t_y": []}, "kep": 1}}})
            ),
            [
                "$.extra[\"bad.name\"]",
                "$.extra[\"bad.name\"].kep",
                "$.extra[\"bad.name\"].resource.t_y"
            ]
        );
        assert_eq!(
            paths(&json!({"resource": {"t_x": {}}, "mapping": {"tags_format": "xml", "tag": "a"}})),
            ["$.mapping.tag", "$.mapping.tags_format"]
        );
    }

    #[test]
    fn unknown_placeholders_get_a_suggestion() {
        let e = parse(
            &json!({"resource": {"t_x": {"a": ["{{ids}}", "{{extra.dsk}}"]}},
                    "extra": {"disk": {"resource": {"t_y": {}}}}}),
            "$.properties",
        )
        .unwrap_err();
        assert_eq!(e.0[0].path, "$.properties.resource.t_x.a[0]");
        assert!(e.0[0].fix.contains("{{id}}"), "{}", e.0[0].fix);
        assert!(e.0[1].fix.contains("{{extra.disk}}"), "{}", e.0[1].fix);
    }

    #[test]
    fn a_check_must_be_one_expression_on_the_resource() {
        assert_eq!(
            paths(&json!({"resource": {"t_x": {}}, "check": "${fileexists(\"/x\")}"})),
            ["$.check"]
        );
        assert_eq!(
            paths(&json!({"resource": {"t_x": {}}, "check": "{{self}}.ok"})),
            ["$.check"]
        );
        assert_eq!(condition_expression(" ${a && b} "), Some("a && b"));
        assert_eq!(condition_expression("${a} and ${b}"), None);
    }

    #[test]
    fn a_non_object_is_refused() {
        assert_eq!(paths(&json!(null)), ["$"]);
        assert_eq!(paths(&json!({"resource": {"x_y": 3}})), ["$.resource.x_y"]);
    }
}
