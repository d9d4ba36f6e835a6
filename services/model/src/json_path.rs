//! Building JSON paths (`$.Properties.Allocation.Size`, `$.Init[2]`) for error messages.

/// Appends an object key to a path, quoting keys that are not plain identifiers.
pub fn key(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        format!("{parent}.{key}")
    } else {
        format!("{parent}[{}]", serde_json::Value::String(key.to_string()))
    }
}

/// Appends an array index to a path.
pub fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// The name of a JSON value's type, for messages like "expected an object, found a string".
pub fn type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
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
}
