//! Reading a JSON object at a known JSON path: the one reader behind every Properties and spec
//! parser, so that an unknown field is reported the same way everywhere, at its path, with a
//! "did you mean" suggestion, and every violation is collected before reporting.
//!
//! A parser reads an object, rejects the fields it does not know in one call, then reads the
//! ones it knows:
//!
//! ```
//! use infrakit_model::object::Object;
//! use infrakit_model::Violations;
//!
//! let v = serde_json::json!({"Comand": "sleep 1"});
//! let mut bad = Violations::new();
//! if let Some(obj) = Object::optional(&v, "$.properties", "{\"Command\": \"sleep 1\"}", &mut bad) {
//!     obj.reject_unknown(&["Command", "Env"], &mut bad);
//!     let _command = obj.get("Command").and_then(|v| v.as_str());
//! }
//! assert_eq!(
//!     bad.to_string(),
//!     "$.properties.Comand: is not a known field (fix: did you mean \"Command\"?)"
//! );
//! ```

use crate::json_path::{key, type_name};
use crate::suggest::did_you_mean;
use crate::{Violation, Violations};
use serde_json::{Map, Value};

/// A JSON object being read at a known path.
#[derive(Clone, Debug)]
pub struct Object<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

/// The violation for a field named `name` at `path` that is not one of `known`: "is not a known
/// field", fixed by the closest known name, or else by removing it (listing the known fields).
pub fn unknown_field(path: &str, name: &str, known: &[&str]) -> Violation {
    Violation::new(
        key(path, name),
        "is not a known field",
        match did_you_mean(name, known.iter().copied()) {
            Some(s) => format!("did you mean \"{s}\"?"),
            None if known.is_empty() => "remove it; no field is allowed here".to_string(),
            None => format!("remove it; the known fields here are {}", known.join(", ")),
        },
    )
}

/// The fix for a value that is not one of `allowed` (an enum written as a string): the closest
/// allowed value, or else the list of them.
pub fn one_of_fix(value: &str, allowed: &[&str]) -> String {
    match did_you_mean(value, allowed.iter().copied()) {
        Some(s) => format!("did you mean \"{s}\"?"),
        None => format!("use one of {}", quoted_list(allowed)),
    }
}

/// `"a", "b" or "c"`.
fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

// === impl Object ===

impl<'a> Object<'a> {
    /// `v` as an object; anything else, `null` included, is recorded in `out` as "must be an
    /// object, found ..." with the fix "write an object such as `example`".
    pub fn read(v: &'a Value, path: &str, example: &str, out: &mut Violations) -> Option<Self> {
        match v {
            Value::Object(map) => Some(Self {
                path: path.to_string(),
                map,
            }),
            other => {
                out.push(
                    path,
                    format!("must be an object, found {}", type_name(other)),
                    format!("write an object such as {example}"),
                );
                None
            }
        }
    }

    /// Like [`Object::read`], but `null` (Properties left out) is `None` without a violation, so
    /// that the caller's defaults apply.
    pub fn optional(v: &'a Value, path: &str, example: &str, out: &mut Violations) -> Option<Self> {
        if v.is_null() {
            None
        } else {
            Self::read(v, path, example, out)
        }
    }

    /// The object's own JSON path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The JSON path of field `name`.
    pub fn at(&self, name: &str) -> String {
        key(&self.path, name)
    }

    /// A field's value; `null` counts as absent.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// Whether field `name` is given (and not `null`).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every field with its value, `null` ones included, in the document's key order.
    pub fn fields(&self) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when the object has no field.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Records one violation per field not in `known` ([`unknown_field`]). Returns whether
    /// every field was known.
    pub fn reject_unknown(&self, known: &[&str], out: &mut Violations) -> bool {
        let before = out.0.len();
        for name in self.map.keys().filter(|k| !known.contains(&k.as_str())) {
            out.0.push(unknown_field(&self.path, name, known));
        }
        out.0.len() == before
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_unknown_field_is_reported_at_its_path_with_a_suggestion() {
        let v = json!({"Imgae": "x", "Zzz": 1, "Image": "y", "Odd key": 2});
        let mut bad = Violations::new();
        let obj = Object::read(&v, "$.properties", "{}", &mut bad).unwrap();
        assert!(!obj.reject_unknown(&["Image", "Network"], &mut bad));
        let shown: Vec<String> = bad.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "$.properties.Imgae: is not a known field (fix: did you mean \"Image\"?)",
                "$.properties[\"Odd key\"]: is not a known field (fix: remove it; the known fields here are Image, Network)",
                "$.properties.Zzz: is not a known field (fix: remove it; the known fields here are Image, Network)",
            ]
        );
    }

    #[test]
    fn null_is_absent_for_optional_objects_and_fields() {
        let mut bad = Violations::new();
        assert!(Object::optional(&Value::Null, "$", "{}", &mut bad).is_none());
        assert!(bad.is_empty());
        assert!(Object::read(&Value::Null, "$", "{}", &mut bad).is_none());
        assert_eq!(
            bad.to_string(),
            "$: must be an object, found null (fix: write an object such as {})"
        );
        let v = json!({"A": null, "B": 1});
        let obj = Object::read(&v, "$", "{}", &mut bad).unwrap();
        assert!(!obj.has("A") && obj.has("B"));
        assert_eq!(obj.fields().count(), 2);
        assert_eq!(obj.at("B"), "$.B");
    }

    #[test]
    fn enum_values_get_the_closest_or_the_list() {
        assert_eq!(
            one_of_fix("alway", &["never", "always"]),
            "did you mean \"always\"?"
        );
        assert_eq!(
            one_of_fix("zzz", &["never", "on-failure", "always"]),
            "use one of \"never\", \"on-failure\" or \"always\""
        );
    }
}
