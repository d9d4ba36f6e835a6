//! Where an instance's tags, Init script and identity go in its Terraform resource, per resource
//! type, and how they are written there.
//!
//! | resource type | tags | Init |
//! | --- | --- | --- |
//! | `aws_instance`, `aws_spot_instance_request` | `tags` (map) | `user_data` |
//! | `google_compute_instance` | `labels` (map, keys and values made valid GCE labels) | `metadata_startup_script` |
//! | `digitalocean_droplet` | `tags` (list of `key:value`, made valid DO tags) | `user_data` |
//! | `azurerm_linux_virtual_machine`, `azurerm_windows_virtual_machine` | `tags` (map) | `custom_data` (base64) |
//! | `terraform_data` | `input.tags` (map) | `input.init`; also `input.id` and `input.logical_id` |
//! | any other type | `tags` (map) | `user_data` |
//!
//! Properties may override each part with `mapping` (see [`crate::properties`]). The tags are
//! merged into a map or list the resource already has; the Init must not also be set in the
//! resource. Values are escaped so that Terraform keeps them verbatim.

use crate::names::escape_literal;
use infrakit_model::Violations;
use infrakit_model::json_path::{key, type_name};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How tags are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagFormat {
    /// A map of the tags as they are.
    Map,
    /// A map whose keys and values are made valid Google Compute Engine labels (lower case,
    /// letters, digits, `_` and `-`, at most 63 characters, keys start with a letter).
    Labels,
    /// A list of `key:value` strings made valid DigitalOcean tags (letters, digits, `:`, `-`
    /// and `_`).
    List,
}

/// How the Init script is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitEncoding {
    /// As it is.
    Plain,
    /// Base64-encoded.
    Base64,
}

/// Where the plugin writes into the resource body. Paths are attribute names, nested through
/// objects (`["input", "tags"]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Where the tags go (none: only the plugin keeps them).
    pub tags: Option<Vec<String>>,
    /// How the tags are written.
    pub tags_format: TagFormat,
    /// Where the Init script goes (none: it is dropped).
    pub init: Option<Vec<String>>,
    /// How the Init script is written.
    pub init_encoding: InitEncoding,
    /// Where the instance ID goes, if anywhere.
    pub id: Option<Vec<String>>,
    /// Where the logical ID goes (pets only), if anywhere.
    pub logical_id: Option<Vec<String>>,
}

/// What the plugin writes into one instance's resource.
#[derive(Clone, Copy, Debug)]
pub struct Injected<'a> {
    /// The instance ID.
    pub id: &'a str,
    /// The pet identity.
    pub logical_id: Option<&'a str>,
    /// The tags.
    pub tags: &'a BTreeMap<String, String>,
    /// The Init script (may be empty).
    pub init: &'a str,
}

fn path(p: &str) -> Option<Vec<String>> {
    Some(p.split('.').map(str::to_string).collect())
}

// === impl Mapping ===

impl Mapping {
    /// The documented default for a resource type.
    pub fn for_type(resource_type: &str) -> Self {
        let plain = |tags: &str, fmt, init: &str, enc| Mapping {
            tags: path(tags),
            tags_format: fmt,
            init: path(init),
            init_encoding: enc,
            id: None,
            logical_id: None,
        };
        match resource_type {
            "aws_instance" | "aws_spot_instance_request" => {
                plain("tags", TagFormat::Map, "user_data", InitEncoding::Plain)
            }
            "google_compute_instance" => plain(
                "labels",
                TagFormat::Labels,
                "metadata_startup_script",
                InitEncoding::Plain,
            ),
            "digitalocean_droplet" => {
                plain("tags", TagFormat::List, "user_data", InitEncoding::Plain)
            }
            "azurerm_linux_virtual_machine" | "azurerm_windows_virtual_machine" => {
                plain("tags", TagFormat::Map, "custom_data", InitEncoding::Base64)
            }
            "terraform_data" => Mapping {
                id: path("input.id"),
                logical_id: path("input.logical_id"),
                ..plain(
                    "input.tags",
                    TagFormat::Map,
                    "input.init",
                    InitEncoding::Plain,
                )
            },
            _ => plain("tags", TagFormat::Map, "user_data", InitEncoding::Plain),
        }
    }

    /// The paths the plugin alone writes (the user's resource must not set them).
    pub fn reserved(&self) -> impl Iterator<Item = &Vec<String>> {
        self.id.iter().chain(self.logical_id.iter())
    }

    /// Writes the instance's tags, Init and identity into `body`. `at` is the JSON path of the
    /// body, for violations (a path that crosses a value that is not an object, an Init the
    /// resource already has).
    pub fn inject(
        &self,
        body: &mut Map<String, Value>,
        what: &Injected<'_>,
        at: &str,
    ) -> Result<(), Violations> {
        let mut bad = Violations::new();
        if let Some(p) = &self.tags {
            let tags = format_tags(what.tags, self.tags_format);
            match slot(body, p, at) {
                Ok((slot, path)) => merge_tags(slot, tags, &path, &mut bad),
                Err(v) => bad.0.extend(v.0),
            }
        }
        if let Some(p) = &self.init
            && !what.init.is_empty()
        {
            let text = match self.init_encoding {
                InitEncoding::Plain => escape_literal(what.init),
                InitEncoding::Base64 => base64(what.init.as_bytes()),
            };
            match slot(body, p, at) {
                Ok((slot, path)) => match slot {
                    Value::Null => *slot = Value::String(text),
                    _ => bad.push(
                        path,
                        "is set, and the flavor also gives an Init script",
                        "remove it from the Properties, or give no Init through the flavor",
                    ),
                },
                Err(v) => bad.0.extend(v.0),
            }
        }
        for (p, value) in [
            (&self.id, Some(what.id)),
            (&self.logical_id, what.logical_id),
        ] {
            if let (Some(p), Some(value)) = (p, value) {
                match slot(body, p, at) {
                    Ok((slot, _)) => *slot = Value::String(escape_literal(value)),
                    Err(v) => bad.0.extend(v.0),
                }
            }
        }
        bad.into_result(())
    }
}

/// The value at `path` inside `body` (created as `null`, with objects on the way), and its JSON
/// path.
fn slot<'a>(
    body: &'a mut Map<String, Value>,
    path: &[String],
    at: &str,
) -> Result<(&'a mut Value, String), Violations> {
    let Some((last, parents)) = path.split_last() else {
        return Err(Violations::new());
    };
    let mut cur = body;
    let mut json_path = at.to_string();
    for p in parents {
        json_path = key(&json_path, p);
        let next = cur
            .entry(p.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        let found = type_name(next);
        match next {
            Value::Object(o) => cur = o,
            _ => {
                let mut v = Violations::new();
                v.push(
                    json_path,
                    format!("must be an object to hold what the plugin writes, found {found}"),
                    "make it an object, or change `mapping`",
                );
                return Err(v);
            }
        }
    }
    json_path = key(&json_path, last);
    Ok((cur.entry(last.clone()).or_insert(Value::Null), json_path))
}

fn merge_tags(slot: &mut Value, tags: Value, path: &str, bad: &mut Violations) {
    let found = type_name(slot);
    match (slot, tags) {
        (slot @ Value::Null, tags) => *slot = tags,
        (Value::Object(have), Value::Object(new)) => have.extend(new),
        (Value::Array(have), Value::Array(new)) => {
            for t in new {
                if !have.contains(&t) {
                    have.push(t);
                }
            }
        }
        (_, tags) => bad.push(
            path,
            format!(
                "must be {} to hold the instance's tags, found {found}",
                type_name(&tags)
            ),
            "fix its type, or change `mapping.tags`",
        ),
    }
}

/// The tags in the given format.
pub fn format_tags(tags: &BTreeMap<String, String>, format: TagFormat) -> Value {
    match format {
        TagFormat::Map => Value::Object(
            tags.iter()
                .map(|(k, v)| (k.clone(), Value::String(escape_literal(v))))
                .collect(),
        ),
        TagFormat::Labels => Value::Object(
            tags.iter()
                .map(|(k, v)| (gce_label(k, true), Value::String(gce_label(v, false))))
                .collect(),
        ),
        TagFormat::List => Value::Array(
            tags.iter()
                .map(|(k, v)| Value::String(do_tag(&format!("{k}:{v}"))))
                .collect(),
        ),
    }
}

/// A valid GCE label key or value.
fn gce_label(s: &str, is_key: bool) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    if is_key && !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert(0, 'k');
        out.truncate(63);
    }
    out
}

/// A valid DigitalOcean tag.
fn do_tag(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == ':' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(255)
        .collect()
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tags() -> BTreeMap<String, String> {
        [
            ("infrakit.group".to_string(), "Web".to_string()),
            ("note".to_string(), "${x}".to_string()),
        ]
        .into()
    }

    fn inject(t: &str, mut body: Value, init: &str) -> Result<Value, Violations> {
        let tags = tags();
        let o = body.as_object_mut().unwrap();
        Mapping::for_type(t).inject(
            o,
            &Injected {
                id: "instance-1",
                logical_id: Some("10.0.0.1"),
                tags: &tags,
                init,
            },
            "$.resource.x",
        )?;
        Ok(body)
    }

    #[test]
    fn aws_tags_merge_and_user_data_is_the_init_escaped() {
        let b = inject(
            "aws_instance",
            json!({"ami": "a", "tags": {"Name": "n"}}),
            "echo ${HOME}",
        )
        .unwrap();
        assert_eq!(
            b,
            json!({"ami": "a", "tags": {"Name": "n", "infrakit.group": "Web", "note": "$${x}"},
                   "user_data": "echo $${HOME}"})
        );
    }

    #[test]
    fn gce_labels_are_sanitised() {
        let b = inject("google_compute_instance", json!({}), "boot").unwrap();
        assert_eq!(
            b,
            json!({"labels": {"infrakit_group": "web", "note": "__x_"},
                   "metadata_startup_script": "boot"})
        );
    }

    #[test]
    fn digitalocean_tags_are_a_list_of_key_value_strings() {
        let b = inject("digitalocean_droplet", json!({"tags": ["keep"]}), "").unwrap();
        assert_eq!(
            b,
            json!({"tags": ["keep", "infrakit_group:Web", "note:__x_"]})
        );
    }

    #[test]
    fn azure_custom_data_is_base64() {
        let b = inject("azurerm_linux_virtual_machine", json!({}), "hi\n").unwrap();
        assert_eq!(b["custom_data"], "aGkK");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn terraform_data_gets_everything_in_input() {
        let b = inject("terraform_data", json!({"input": {"v": 1}}), "run").unwrap();
        assert_eq!(
            b["input"],
            json!({"v": 1, "id": "instance-1", "logical_id": "10.0.0.1", "init": "run",
                   "tags": {"infrakit.group": "Web", "note": "$${x}"}})
        );
    }

    #[test]
    fn conflicts_name_the_field() {
        let e = inject(
            "aws_instance",
            json!({"user_data": "mine", "tags": []}),
            "x",
        )
        .unwrap_err();
        let paths: Vec<_> = e.0.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(paths, ["$.resource.x.tags", "$.resource.x.user_data"]);
        let e = inject("terraform_data", json!({"input": "text"}), "").unwrap_err();
        assert_eq!(e.0[0].path, "$.resource.x.input");
        assert!(inject("aws_instance", json!({"user_data": "mine"}), "").is_ok());
    }
}
