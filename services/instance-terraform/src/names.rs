//! Names: instance IDs, the files of the working directory, Terraform resource names and
//! addresses, the `{{...}}` placeholders of Properties, and escaping literal text for
//! Terraform's JSON syntax (where every string is a template).

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The prefix of instance IDs.
pub const ID_PREFIX: &str = "instance-";
/// How many hex digits follow the prefix.
pub const ID_HEX_DIGITS: usize = 16;
/// The suffix Terraform reads configuration from.
pub const TF_SUFFIX: &str = ".tf.json";
/// The prefix of the files holding the kept extra resources of a pet.
pub const PET_PREFIX: &str = "pet-";
/// The plugin's own sub-directory of the working directory (Terraform ignores sub-directories).
pub const META_DIR: &str = ".infrakit";

/// A new random instance ID, e.g. `instance-3f9a0c1d2e4b5a69`.
pub fn new_id() -> String {
    format!(
        "{ID_PREFIX}{}",
        infrakit_runtime::socket::random_hex(ID_HEX_DIGITS / 2)
    )
}

/// True for IDs this plugin makes (`instance-` and 16 lowercase hex digits).
pub fn is_instance_id(s: &str) -> bool {
    s.strip_prefix(ID_PREFIX).is_some_and(|hex| {
        hex.len() == ID_HEX_DIGITS
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// The configuration file of an instance: `<id>.tf.json`.
pub fn instance_file(id: &str) -> String {
    format!("{id}{TF_SUFFIX}")
}

/// The instance a configuration file name belongs to, if it is an instance file.
pub fn id_of_file(name: &str) -> Option<&str> {
    name.strip_suffix(TF_SUFFIX).filter(|id| is_instance_id(id))
}

/// The Terraform resource name of an extra resource of an instance: `<id>-<name>`.
pub fn extra_resource_name(id: &str, extra: &str) -> String {
    format!("{id}-{extra}")
}

/// The key naming a pet's kept resources: `pet-<readable part>-<8 hex digits of its hash>`. The
/// readable part keeps letters, digits and `-` of the logical ID (lower-cased, at most 32); the
/// hash keeps distinct logical IDs apart (`10.0.0.1` and `10-0-0-1`).
pub fn pet_key(logical_id: &str) -> String {
    let readable: String = logical_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(32)
        .collect();
    let digest = Sha256::digest(logical_id.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{PET_PREFIX}{readable}-{hash}")
}

/// The Terraform resource name of a pet's kept extra resource: `<pet key>-<name>`.
pub fn pet_resource_name(key: &str, extra: &str) -> String {
    format!("{key}-{extra}")
}

/// The file holding a pet's kept extra resources: `<pet key>.tf.json`.
pub fn pet_file(key: &str) -> String {
    format!("{key}{TF_SUFFIX}")
}

/// A Terraform resource address: `<type>.<name>`.
pub fn address(resource_type: &str, name: &str) -> String {
    format!("{resource_type}.{name}")
}

/// True for a valid Terraform identifier of our choosing: a letter first, then letters, digits,
/// `_` or `-`, at most 64 characters.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// True for a plausible resource type name: lower-case letters, digits and `_`, starting with a
/// letter and containing a `_` (provider prefix), e.g. `aws_instance`, `terraform_data`.
pub fn is_resource_type(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.contains('_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Escapes literal text (tags, Init scripts, logical IDs) so that Terraform keeps it verbatim:
/// `${` becomes `$${` and `%{` becomes `%%{`.
pub fn escape_literal(s: &str) -> String {
    s.replace("${", "$${").replace("%{", "%%{")
}

/// The placeholders known in Properties (besides `extra.<name>`).
pub const PLACEHOLDERS: &[&str] = &["id", "logical_id", "self"];

/// One `{{...}}` placeholder found in a string: its inner name, trimmed.
pub fn placeholders_in(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        out.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    out
}

/// Replaces every `{{name}}` whose name is in `values`; other text is kept as it is.
pub fn substitute(s: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        match values.get(after[..end].trim()) {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Replaces placeholders in every string (not in keys) of a JSON value.
pub fn substitute_json(v: &mut serde_json::Value, values: &BTreeMap<String, String>) {
    match v {
        serde_json::Value::String(s) if s.contains("{{") => *s = substitute(s, values),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| substitute_json(x, values)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| substitute_json(x, values)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_recognised_and_files_map_back_to_them() {
        let id = new_id();
        assert!(is_instance_id(&id), "{id}");
        assert_eq!(id_of_file(&instance_file(&id)), Some(id.as_str()));
        assert_eq!(id_of_file("provider.tf.json"), None);
        assert_eq!(id_of_file("instance-XYZ.tf.json"), None);
        assert!(!is_instance_id("instance-0123"));
    }

    #[test]
    fn pet_keys_are_identifiers_and_keep_similar_ids_apart() {
        let a = pet_key("10.0.0.1");
        let b = pet_key("10-0-0-1");
        assert!(a.starts_with("pet-10-0-0-1-"), "{a}");
        assert_ne!(a, b);
        assert!(is_identifier(&pet_resource_name(&a, "disk")));
    }

    #[test]
    fn literal_text_survives_terraform_templates() {
        assert_eq!(escape_literal("echo ${HOME} %{x}"), "echo $${HOME} %%{x}");
        assert_eq!(escape_literal("$HOME"), "$HOME");
    }

    #[test]
    fn placeholders_are_found_and_replaced_and_unknown_ones_kept() {
        assert_eq!(
            placeholders_in("a {{ id }} b {{extra.disk}} {{"),
            ["id", "extra.disk"]
        );
        let values: BTreeMap<String, String> =
            [("id".to_string(), "instance-1".to_string())].into();
        assert_eq!(
            substitute("/run/{{id}}.pid {{nope}} ${self.x}", &values),
            "/run/instance-1.pid {{nope}} ${self.x}"
        );
        let mut v = serde_json::json!({"a": ["{{id}}"], "{{id}}": 1});
        substitute_json(&mut v, &values);
        assert_eq!(v, serde_json::json!({"a": ["instance-1"], "{{id}}": 1}));
    }

    #[test]
    fn identifiers_and_types_are_checked() {
        assert!(is_identifier("disk-1"));
        assert!(!is_identifier("1disk"));
        assert!(!is_identifier("a.b"));
        assert!(is_resource_type("aws_instance"));
        assert!(!is_resource_type("Aws_instance"));
        assert!(!is_resource_type("instance"));
    }
}
