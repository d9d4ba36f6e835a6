//! The config hash: what an instance was created from, written in its
//! [`CONFIG_HASH`](infrakit_model::tags::CONFIG_HASH) tag.
//!
//! It covers the `Instance` section followed by the `Flavor` section only, so a resize or a
//! change of `Updating`, `Health` or `Remediation` never rolls an instance. The input is the
//! canonical JSON of each section (object keys sorted, no whitespace), so key order and
//! formatting in the committed file do not matter. The digest is SHA-256, encoded as
//! lower-case base32 (RFC 4648 alphabet) without padding and cut to 32 characters: valid in
//! the tag syntax of every cloud, like InfraKit's hashes (which used SHA-1).

use crate::spec::{GroupSpec, PluginSection};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The length of a config hash, in characters.
pub const HASH_LEN: usize = 32;

/// The config hash of a spec's Instance and Flavor sections.
pub fn config_hash(spec: &GroupSpec) -> String {
    hash_sections(spec.instance(), spec.flavor())
}

/// The config hash of an Instance and a Flavor section.
pub fn hash_sections(instance: &PluginSection, flavor: &PluginSection) -> String {
    let mut text = String::new();
    write_canonical(&instance.to_json(), &mut text);
    write_canonical(&flavor.to_json(), &mut text);
    let digest = Sha256::digest(text.as_bytes());
    let mut encoded = base32_lower(&digest);
    encoded.truncate(HASH_LEN);
    encoded
}

/// Writes `v` as JSON with object keys sorted and no whitespace. Sorting is done here rather
/// than trusting `serde_json::Map`'s order, which a `preserve_order` feature elsewhere in the
/// build could change.
pub fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(item) = map.get(k) {
                    write_canonical(item, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// RFC 4648 base32 in lower case, without padding.
fn base32_lower(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> GroupSpec {
        GroupSpec::from_json(&v).unwrap()
    }

    fn base() -> Value {
        json!({"ID": "g", "Properties": {
            "Allocation": {"Size": 5},
            "Instance": {"Plugin": "instance-file", "Properties": {"Note": "v1", "Disk": {"Size": 10, "Type": "ssd"}}},
            "Flavor": {"Plugin": "flavor-vanilla", "Properties": {"Init": ["echo hi"]}}}})
    }

    #[test]
    fn hash_is_32_lower_case_base32_characters() {
        let h = config_hash(&spec(base()));
        assert_eq!(h.len(), HASH_LEN);
        assert!(
            h.chars()
                .all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c)),
            "{h}"
        );
    }

    #[test]
    fn key_order_and_whitespace_do_not_change_the_hash() {
        let text = r#"{ "Properties": { "Flavor": {"Properties": {"Init": [ "echo hi" ]}, "Plugin": "flavor-vanilla"},
            "Instance": { "Properties": { "Disk": {"Type": "ssd", "Size": 10}, "Note": "v1" }, "Plugin": "instance-file" },
            "Allocation": {"Size": 5} }, "ID": "g" }"#;
        let reordered: Value = serde_json::from_str(text).unwrap();
        assert_eq!(config_hash(&spec(reordered)), config_hash(&spec(base())));
    }

    #[test]
    fn allocation_and_policies_do_not_change_the_hash() {
        let mut other = base();
        other["Properties"]["Allocation"] = json!({"Size": 50});
        other["Properties"]["Updating"] = json!({"MaxSurge": 3});
        other["Properties"]["Health"] = json!({"GracePeriod": "1m"});
        other["ID"] = json!("other");
        assert_eq!(config_hash(&spec(other)), config_hash(&spec(base())));
    }

    #[test]
    fn instance_or_flavor_changes_change_the_hash() {
        let mut a = base();
        a["Properties"]["Instance"]["Properties"]["Note"] = json!("v2");
        let mut b = base();
        b["Properties"]["Flavor"]["Plugin"] = json!("flavor-swarm");
        let h = config_hash(&spec(base()));
        assert_ne!(config_hash(&spec(a)), h);
        assert_ne!(config_hash(&spec(b)), h);
    }

    #[test]
    fn base32_matches_rfc_4648_vectors() {
        assert_eq!(base32_lower(b"f"), "my");
        assert_eq!(base32_lower(b"foobar"), "mzxw6ytboi");
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let mut s = String::new();
        write_canonical(&json!({"b": [{"z": 1, "a": "x y"}], "a": null}), &mut s);
        assert_eq!(s, r#"{"a":null,"b":[{"a":"x y","z":1}]}"#);
    }
}
