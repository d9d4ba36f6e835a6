//! InfraKit's JSON shape of instance specs and descriptions, to and from the SPI messages.
//!
//! An instance spec is `{"Properties": ..., "Tags": {...}, "Init": "...", "LogicalID": "...",
//! "Attachments": [{"ID": ..., "Type": ...}]}`. As in InfraKit (Go's `encoding/json`), field
//! names also match case-insensitively; unknown fields are errors with a suggestion. Every
//! problem is reported at once, each at its JSON path.

use infrakit_model::json_path::{index, key, type_name};
use infrakit_model::{Violation, Violations, suggest};
use infrakit_spi::instance::v1::{Attachment, InstanceDescription, InstanceSpec, InstanceState};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

const SPEC_FIELDS: [&str; 5] = ["Properties", "Tags", "Init", "LogicalID", "Attachments"];
const ATTACHMENT_FIELDS: [&str; 2] = ["ID", "Type"];

/// A document that does not have the expected shape.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {violations}")]
pub struct InvalidDocument {
    /// The file, for messages.
    pub origin: String,
    /// Every problem found.
    pub violations: Violations,
}

/// Builds an SPI instance spec from InfraKit's JSON shape.
pub fn instance_spec_from_json(v: &Value) -> Result<InstanceSpec, Violations> {
    let mut problems = Violations::new();
    let mut spec = InstanceSpec::default();
    let Some(obj) = v.as_object() else {
        problems.push(
            "$",
            format!("must be an object, found {}", type_name(v)),
            r#"write e.g. {"Properties": {...}, "Tags": {"k": "v"}}"#,
        );
        return Err(problems);
    };
    for (k, val) in obj {
        let path = key("$", k);
        match canonical(k, &SPEC_FIELDS) {
            Some("Properties") => spec.properties = properties_bytes(val),
            Some("Tags") => spec.tags = string_map(val, &path, &mut problems),
            Some("Init") => match val {
                Value::String(s) => spec.init = s.clone(),
                Value::Null => {}
                other => problems.push(
                    path,
                    format!("must be a string, found {}", type_name(other)),
                    "write the boot script as one string",
                ),
            },
            Some("LogicalID") => match val {
                Value::String(s) => spec.logical_id = Some(s.clone()),
                Value::Null => {}
                other => problems.push(
                    path,
                    format!("must be a string, found {}", type_name(other)),
                    "write the logical ID as a string, e.g. \"10.0.0.5\"",
                ),
            },
            Some("Attachments") => spec.attachments = attachments(val, &path, &mut problems),
            _ => problems.0.push(unknown_field(&path, k, &SPEC_FIELDS)),
        }
    }
    problems.into_result(spec)
}

/// InfraKit's JSON shape of an SPI instance spec (tags sorted, Properties parsed), to be
/// serialised with the fields in InfraKit's order.
pub fn instance_spec_view(s: &InstanceSpec) -> SpecView<'_> {
    SpecView {
        properties: properties_value(&s.properties),
        tags: s.tags.iter().collect(),
        init: &s.init,
        logical_id: s.logical_id.as_deref(),
        attachments: s
            .attachments
            .iter()
            .map(|a| AttachmentView {
                id: &a.id,
                r#type: &a.r#type,
            })
            .collect(),
    }
}

/// The object `ikctl instance describe` prints for one instance.
pub fn description_view(d: &InstanceDescription) -> DescriptionView<'_> {
    DescriptionView {
        id: &d.id,
        logical_id: d.logical_id.as_deref(),
        state: state_name(d.state),
        tags: d.tags.iter().collect(),
        properties: properties_value(&d.properties),
    }
}

/// An instance spec in InfraKit's shape:
/// `{"Properties", "Tags", "Init", "LogicalID", "Attachments": [{"ID", "Type"}]}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SpecView<'a> {
    /// The Properties, parsed (`null` when empty).
    pub properties: Value,
    /// The tags, sorted.
    pub tags: BTreeMap<&'a String, &'a String>,
    /// The boot script.
    pub init: &'a str,
    /// The logical ID, or `null`.
    #[serde(rename = "LogicalID")]
    pub logical_id: Option<&'a str>,
    /// The attachments.
    pub attachments: Vec<AttachmentView<'a>>,
}

/// An attachment in InfraKit's shape, `{"ID", "Type"}`.
#[derive(Debug, Serialize)]
pub struct AttachmentView<'a> {
    /// The provider's ID of the resource.
    #[serde(rename = "ID")]
    pub id: &'a str,
    /// Its kind.
    #[serde(rename = "Type")]
    pub r#type: &'a str,
}

/// One instance as `describe` prints it: `{"id", "logical_id", "state", "tags", "properties"}`.
/// `logical_id`, `state` (when the provider reports none) and `properties` (when not asked
/// for) are `null`.
#[derive(Debug, Serialize)]
pub struct DescriptionView<'a> {
    /// The instance ID.
    pub id: &'a str,
    /// The pet identity, or `null`.
    pub logical_id: Option<&'a str>,
    /// `pending`, `running`, `terminating`, `failed`, or `null`.
    pub state: Option<&'static str>,
    /// The tags, sorted.
    pub tags: BTreeMap<&'a String, &'a String>,
    /// The Properties, parsed (`null` when empty).
    pub properties: Value,
}

/// The lower-case name of an instance state, or `None` when unspecified.
pub fn state_name(state: i32) -> Option<&'static str> {
    match InstanceState::try_from(state) {
        Ok(InstanceState::Pending) => Some("pending"),
        Ok(InstanceState::Running) => Some("running"),
        Ok(InstanceState::Terminating) => Some("terminating"),
        Ok(InstanceState::Failed) => Some("failed"),
        Ok(InstanceState::Unspecified) | Err(_) => None,
    }
}

/// Properties as the UTF-8 JSON bytes the SPI carries; `null` becomes empty.
pub fn properties_bytes(v: &Value) -> Vec<u8> {
    if v.is_null() {
        Vec::new()
    } else {
        v.to_string().into_bytes()
    }
}

/// Properties bytes as JSON: `null` when empty, a string when they are not JSON.
pub fn properties_value(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// The expected spelling of `k`, matched exactly or ignoring case.
pub(crate) fn canonical(k: &str, fields: &[&'static str]) -> Option<&'static str> {
    fields
        .iter()
        .find(|f| **f == k)
        .or_else(|| fields.iter().find(|f| f.eq_ignore_ascii_case(k)))
        .copied()
}

/// A violation for an unknown field `k` at `path`, suggesting the nearest known one.
pub(crate) fn unknown_field(path: &str, k: &str, fields: &[&'static str]) -> Violation {
    let fix = match suggest::did_you_mean(k, fields.iter().copied()) {
        Some(s) => format!("did you mean {s:?}?"),
        None => format!("remove it; the fields are {}", fields.join(", ")),
    };
    Violation::new(path, "is not a known field", fix)
}

/// A map of strings; numbers and booleans (common in YAML: `tier: 1`) are taken as text.
fn string_map(v: &Value, path: &str, problems: &mut Violations) -> HashMap<String, String> {
    let mut out = HashMap::new();
    match v {
        Value::Null => {}
        Value::Object(m) => {
            for (k, val) in m {
                match scalar_text(val) {
                    Some(s) => {
                        out.insert(k.clone(), s);
                    }
                    None => problems.push(
                        key(path, k),
                        format!("must be a string, found {}", type_name(val)),
                        "write the tag value as a string",
                    ),
                }
            }
        }
        other => problems.push(
            path,
            format!("must be an object of strings, found {}", type_name(other)),
            r#"write e.g. {"tier": "web"}"#,
        ),
    }
    out
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn attachments(v: &Value, path: &str, problems: &mut Violations) -> Vec<Attachment> {
    let items = match v {
        Value::Null => return Vec::new(),
        Value::Array(items) => items,
        other => {
            problems.push(
                path,
                format!("must be an array, found {}", type_name(other)),
                r#"write e.g. [{"ID": "vol-1", "Type": "ebs"}]"#,
            );
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let ipath = index(path, i);
        let Some(obj) = item.as_object() else {
            problems.push(
                ipath,
                format!("must be an object, found {}", type_name(item)),
                r#"write e.g. {"ID": "vol-1", "Type": "ebs"}"#,
            );
            continue;
        };
        out.push(attachment(obj, &ipath, problems));
    }
    out
}

fn attachment(obj: &Map<String, Value>, path: &str, problems: &mut Violations) -> Attachment {
    let mut a = Attachment::default();
    for (k, val) in obj {
        let fpath = key(path, k);
        let field = canonical(k, &ATTACHMENT_FIELDS);
        let Some(field) = field else {
            problems
                .0
                .push(unknown_field(&fpath, k, &ATTACHMENT_FIELDS));
            continue;
        };
        let Some(s) = val.as_str() else {
            problems.push(
                fpath,
                format!("must be a string, found {}", type_name(val)),
                "write it as a string",
            );
            continue;
        };
        if field == "ID" {
            a.id = s.to_string();
        } else {
            a.r#type = s.to_string();
        }
    }
    if a.id.is_empty() {
        problems.push(key(path, "ID"), "is missing", "give the attachment's ID");
    }
    a
}

#[cfg(test)]
mod tests;
