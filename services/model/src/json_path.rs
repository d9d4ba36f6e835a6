//! Building JSON paths (`$.Properties.Allocation.Size`, `$.Init[2]`) for error messages, and
//! the shape checks every Properties parser starts with: an object ([`object`]), a list of
//! strings ([`strings`]).

use crate::{Violation, Violations};
use serde_json::{Map, Value};

/// Appends an object key to a path, quoting keys that are not plain identifiers.
pub fn key(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        format!("{parent}.{key}")
    } else {
        format!("{parent}[{}]", Value::String(key.to_string()))
    }
}

/// Appends an array index to a path.
pub fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// The name of a JSON value's type, for messages like "expected an object, found a string".
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The object found at `at`: `Ok(None)` for `null` (nothing given, so the caller's defaults
/// apply), else a violation naming the type found (`must be an object, found an array`) with
/// `fix`, e.g. `write {"Image": "web:1"}`.
pub fn object<'a>(
    v: &'a Value,
    at: &str,
    fix: &str,
) -> Result<Option<&'a Map<String, Value>>, Violation> {
    match v {
        Value::Null => Ok(None),
        Value::Object(o) => Ok(Some(o)),
        other => Err(Violation::new(
            at,
            format!("must be an object, found {}", type_name(other)),
            fix,
        )),
    }
}

/// The list of strings found at `path`: `None` for `null`, and `None` after recording a
/// violation for another type (the fix is `write <example>`); an item that is not a string is
/// recorded and left out.
pub fn strings(v: &Value, path: &str, bad: &mut Violations, example: &str) -> Option<Vec<String>> {
    match v {
        Value::Null => None,
        Value::Array(items) => {
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
            Some(out)
        }
        other => {
            bad.push(
                path,
                format!("must be a list of strings, found {}", type_name(other)),
                format!("write {example}"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_keys_use_dots_and_odd_keys_are_quoted() {
        assert_eq!(key("$", "Properties"), "$.Properties");
        assert_eq!(key("$.Tags", "a b"), "$.Tags[\"a b\"]");
        assert_eq!(index("$.Init", 2), "$.Init[2]");
    }

    #[test]
    fn lists_of_strings_name_each_bad_item() {
        let mut bad = Violations::new();
        let v = serde_json::json!(["a", 1, "b"]);
        assert_eq!(
            strings(&v, "$.L", &mut bad, "[\"x\"]"),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(strings(&Value::Null, "$.L", &mut bad, "[\"x\"]"), None);
        assert_eq!(
            bad.to_string(),
            "$.L[1]: must be a string, found a number (fix: quote it)"
        );
        assert_eq!(
            strings(&serde_json::json!("a"), "$.L", &mut bad, "[\"x\"]"),
            None
        );
        assert_eq!(
            bad.0[1].to_string(),
            "$.L: must be a list of strings, found a string (fix: write [\"x\"])"
        );
    }

    #[test]
    fn only_objects_and_null_pass_for_an_object() {
        let v = serde_json::json!({"a": 1});
        assert_eq!(object(&v, "$", "fix").unwrap().map(Map::len), Some(1));
        assert_eq!(object(&Value::Null, "$", "fix"), Ok(None));
        let e = object(&serde_json::json!([1]), "$.properties", "write {}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "$.properties: must be an object, found an array (fix: write {})"
        );
    }
}
