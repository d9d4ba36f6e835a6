//! The spec's own kinds of field, read from the shared [`Object`] reader: durations,
//! quantities (a count or a percentage), booleans and bounded whole numbers, each reported
//! at its JSON path with a fix.

use super::MAX_SIZE;
use crate::quantity::Quantity;
use crate::time::parse_duration;
use infrakit_model::Violations;
use infrakit_model::json_path::type_name;
use infrakit_model::object::Object;
use serde_json::Value;
use std::time::Duration;

const DURATION_FIX: &str = "write a duration such as \"500ms\", \"30s\", \"10m\" or \"1h\"";
const QUANTITY_FIX: &str = "write a count such as 1 or a percentage such as \"25%\"";

/// Reading a spec field of one of the spec's own kinds. Each reader returns `None` when the
/// field is absent (or `null`), so that the caller's default applies, and also when it is
/// wrong, after recording why in `out`.
pub(super) trait SpecFields {
    /// A duration written as a string with a unit, such as `"30s"`.
    fn duration(&self, name: &str, out: &mut Violations) -> Option<Duration>;

    /// A count from 0 to [`MAX_SIZE`], or a percentage from `"0%"` to `"100%"`.
    fn quantity(&self, name: &str, out: &mut Violations) -> Option<Quantity>;

    /// `true` or `false`, without quotes.
    fn boolean(&self, name: &str, out: &mut Violations) -> Option<bool>;
}

/// `v` as an object at `path`; anything else is recorded as "must be an object, found ..."
/// with the fix "write an object such as `example`".
pub(super) fn read_object<'a>(
    v: &'a Value,
    path: &str,
    example: &str,
    out: &mut Violations,
) -> Option<Object<'a>> {
    Object::read(v, path, &format!("write an object such as {example}"), out)
}

/// Reads a whole number from 0 to `max`; a number written in quotes gets the fix of writing
/// it without them.
pub(super) fn read_whole(v: &Value, path: &str, max: u32, out: &mut Violations) -> Option<u32> {
    if let Some(n) = v.as_u64() {
        if n <= u64::from(max) {
            return u32::try_from(n).ok();
        }
        out.push(
            path,
            format!("{n} is larger than the maximum of {max}"),
            format!("use at most {max}"),
        );
        return None;
    }
    let fix = match v.as_str().map(str::trim) {
        Some(s) if s.parse::<u32>().is_ok() => format!("write it as a number without quotes: {s}"),
        _ => "write a whole number such as 3".to_string(),
    };
    out.push(
        path,
        format!(
            "must be a whole number from 0 to {max}, found {}",
            describe(v)
        ),
        fix,
    );
    None
}

/// A wrong value as a problem names it: a number as written, a string quoted, else its type.
fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("{n}"),
        Value::String(s) => format!("the string {s:?}"),
        other => type_name(other).to_string(),
    }
}

// === impl SpecFields ===

impl SpecFields for Object<'_> {
    fn duration(&self, name: &str, out: &mut Violations) -> Option<Duration> {
        let v = self.get(name)?;
        let result = match v {
            Value::String(s) => parse_duration(s),
            Value::Number(n) => Err(format!(
                "must be a string with a unit, found the number {n}"
            )),
            other => Err(format!(
                "must be a string such as \"30s\", found {}",
                type_name(other)
            )),
        };
        result
            .map_err(|p| out.push(self.at(name), p, DURATION_FIX))
            .ok()
    }

    fn quantity(&self, name: &str, out: &mut Violations) -> Option<Quantity> {
        let v = self.get(name)?;
        let path = self.at(name);
        if let Some(s) = v.as_str()
            && let Some(p) = s.strip_suffix('%')
        {
            return match p.parse::<u32>() {
                Ok(p) if p <= 100 => Some(Quantity::Percent(p)),
                _ => {
                    out.push(
                        path,
                        format!("{s:?} is not a percentage from 0% to 100%"),
                        QUANTITY_FIX,
                    );
                    None
                }
            };
        }
        if v.as_str().is_some_and(|s| s.trim().parse::<u32>().is_err()) {
            out.push(
                path,
                format!("must be a count or a percentage, found {}", describe(v)),
                QUANTITY_FIX,
            );
            return None;
        }
        read_whole(v, &path, MAX_SIZE, out).map(Quantity::Count)
    }

    fn boolean(&self, name: &str, out: &mut Violations) -> Option<bool> {
        let v = self.get(name)?;
        let b = v.as_bool();
        if b.is_none() {
            out.push(
                self.at(name),
                format!("must be true or false, found {}", describe(v)),
                "write true or false without quotes",
            );
        }
        b
    }
}
