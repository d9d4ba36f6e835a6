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
//! let fix = "write {\"Command\": \"sleep 1\"}";
//! if let Some(obj) = Object::optional(&v, "$.properties", fix, &mut bad) {
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
/// field" (or "is not a field of `owner`", e.g. `the vanilla flavor`, which tells a user reading
/// a whole spec whose field it is), fixed by the closest known name, or else by removing it
/// (listing the known fields).
pub fn unknown_field(path: &str, name: &str, known: &[&str], owner: Option<&str>) -> Violation {
    Violation::new(
        key(path, name),
        match owner {
            Some(o) => format!("is not a field of {o}"),
            None => "is not a known field".to_string(),
        },
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
    /// object, found ..." with `fix` (e.g. `write {"Image": "web:1"}`).
    pub fn read(v: &'a Value, path: &str, fix: &str, out: &mut Violations) -> Option<Self> {
        match v {
            Value::Object(map) => Some(Self {
                path: path.to_string(),
                map,
            }),
            other => {
                out.push(
                    path,
                    format!("must be an object, found {}", type_name(other)),
                    fix,
                );
                None
            }
        }
    }

    /// Like [`Object::read`], but `null` (Properties left out) is `None` without a violation, so
    /// that the caller's defaults apply.
    pub fn optional(v: &'a Value, path: &str, fix: &str, out: &mut Violations) -> Option<Self> {
        if v.is_null() {
            None
        } else {
            Self::read(v, path, fix, out)
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

    /// The object's fields as a map.
    pub fn map(&self) -> &'a Map<String, Value> {
        self.map
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when the object has no field.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Records one violation per field not in `known` ([`unknown_field`]: "is not a known
    /// field"). Returns the known names it suggested, so that a parser does not also report
    /// a required field as missing when a misspelling of it was just pointed out.
    pub fn reject_unknown<'k>(&self, known: &[&'k str], out: &mut Violations) -> Vec<&'k str> {
        self.reject(known, None, out)
    }

    /// Like [`Object::reject_unknown`], naming whose fields these are: "is not a field of
    /// `owner`" (e.g. `the Docker instance plugin`).
    pub fn reject_unknown_of<'k>(
        &self,
        known: &[&'k str],
        owner: &str,
        out: &mut Violations,
    ) -> Vec<&'k str> {
        self.reject(known, Some(owner), out)
    }

    fn reject<'k>(
        &self,
        known: &[&'k str],
        owner: Option<&str>,
        out: &mut Violations,
    ) -> Vec<&'k str> {
        let mut suggested = Vec::new();
        for name in self.map.keys().filter(|k| !known.contains(&k.as_str())) {
            out.0.push(unknown_field(&self.path, name, known, owner));
            suggested.extend(did_you_mean(name, known.iter().copied()));
        }
        suggested
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
        assert_eq!(
            obj.reject_unknown(&["Image", "Network"], &mut bad),
            ["Image"]
        );
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
    fn the_owner_is_named_when_given() {
        let v = json!({"Inti": []});
        let mut bad = Violations::new();
        let obj = Object::read(&v, "$", "{}", &mut bad).unwrap();
        obj.reject_unknown_of(&["Init"], "the vanilla flavor", &mut bad);
        assert_eq!(
            bad.to_string(),
            "$.Inti: is not a field of the vanilla flavor (fix: did you mean \"Init\"?)"
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
            "$: must be an object, found null (fix: {})"
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
