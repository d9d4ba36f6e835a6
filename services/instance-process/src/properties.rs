//! The process instance plugin's Properties, parsed and checked with JSON paths.
//!
//! ```json
//! {"Command": "exec my-server --port 8080",   // run with /bin/sh -c; default: the spec's Init
//!  "Env": {"MODE": "demo"},                   // added to the environment
//!  "StopGracePeriod": "10s",                  // Destroy: SIGTERM, then SIGKILL after this long
//!  "Restart": "never"}                        // never (default) | on-failure | always
//! ```
//!
//! Every field is optional; field names are exact and an unknown one is refused with the nearest
//! known name. Every problem is reported at once, each at its JSON path.

use infrakit_model::duration::{self, Syntax};
use infrakit_model::json_path::{key, object, type_name};
use infrakit_model::object::{Object, one_of_fix};
use infrakit_model::{Violation, Violations};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The fields the process instance plugin understands.
pub const FIELDS: &[&str] = &["Command", "Env", "StopGracePeriod", "Restart"];

/// The restart policies, as `Restart` names them.
pub const RESTART_POLICIES: &[&str] = &["never", "on-failure", "always"];

/// The grace period when `StopGracePeriod` is not given.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// The longest `StopGracePeriod`: the group controller gives each Destroy 60 s.
pub const MAX_GRACE: Duration = Duration::from_secs(50);

/// Environment variables the plugin sets itself; `Env` may not set them.
pub const RESERVED_ENV: &[&str] = &[
    "INFRAKIT_INSTANCE_ID",
    "INFRAKIT_INSTANCE_DIR",
    "INFRAKIT_LOGICAL_ID",
    "INFRAKIT_TAGS",
];

/// The prefix of the per-tag environment variables the plugin sets.
pub const TAG_ENV_PREFIX: &str = "INFRAKIT_TAG_";

/// What happens when an instance's process exits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    /// The instance is over: it is reported gone, so the group replaces it.
    #[default]
    Never,
    /// The process is started again (with backoff) unless it exited with status 0.
    OnFailure,
    /// The process is always started again (with backoff).
    Always,
}

/// Validated Properties.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessProperties {
    /// The shell command, if given (otherwise the spec's Init runs).
    pub command: Option<String>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Time between SIGTERM and SIGKILL on Destroy.
    pub stop_grace: Duration,
    /// The restart policy.
    pub restart: Restart,
}

// === impl Restart ===

impl Restart {
    /// Whether a process that ended with exit code `code` (`None`: killed by a signal, or unknown)
    /// is started again.
    pub fn restarts_after(self, code: Option<i32>) -> bool {
        match self {
            Self::Never => false,
            Self::OnFailure => code != Some(0),
            Self::Always => true,
        }
    }
}

/// Parses Properties found at JSON path `at` (e.g. `$.properties`), collecting every violation.
/// `null` (no Properties) gives the defaults.
pub fn parse(v: &Value, at: &str) -> Result<ProcessProperties, Violations> {
    let mut out = ProcessProperties {
        stop_grace: DEFAULT_GRACE,
        ..Default::default()
    };
    let mut bad = Violations::new();
    let Some(obj) = Object::optional(v, at, "write {\"Command\": \"sleep 1000\"}", &mut bad) else {
        return bad.into_result(out);
    };
    obj.reject_unknown_of(FIELDS, "the process instance plugin", &mut bad);
    for (k, val) in obj.fields() {
        let path = obj.at(k);
        match k {
            "Command" => out.command = command(val, &path, &mut bad),
            "Env" => out.env = env(val, &path, &mut bad),
            "StopGracePeriod" => {
                if let Some(d) = grace(val, &path, &mut bad) {
                    out.stop_grace = d;
                }
            }
            "Restart" => {
                if let Some(r) = restart(val, &path, &mut bad) {
                    out.restart = r;
                }
            }
            _ => {} // Reported by reject_unknown_of.
        }
    }
    bad.into_result(out)
}

/// The violation when neither `Command` nor the spec's Init gives something to run.
pub fn nothing_to_run(at: &str) -> Violation {
    Violation::new(
        key(at, "Command"),
        "is missing, and the spec has no Init script",
        "set \"Command\" (e.g. \"sleep 1000\") in the instance Properties, or use a flavor that sets Init",
    )
}

fn command(v: &Value, path: &str, bad: &mut Violations) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => {
            bad.push(
                path,
                "is empty",
                "give a shell command such as \"sleep 1000\", or leave Command out to run the spec's Init",
            );
            None
        }
        Value::String(s) if s.contains('\0') => {
            bad.push(path, "contains a NUL character", "remove it");
            None
        }
        Value::String(s) => Some(s.clone()),
        other => {
            bad.push(
                path,
                format!("must be a string, found {}", type_name(other)),
                "write one shell command line, e.g. \"exec my-server --port 8080\"",
            );
            None
        }
    }
}

fn env(v: &Value, path: &str, bad: &mut Violations) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(map) = bad
        .record(object(v, path, "write {\"NAME\": \"value\"}"))
        .flatten()
    else {
        return out;
    };
    for (name, val) in map {
        let p = key(path, name);
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            bad.push(
                &p,
                "is not a valid variable name (empty, or has '=' or NUL)",
                "use a name such as \"MODE\"",
            );
            continue;
        }
        if RESERVED_ENV.contains(&name.as_str()) || name.starts_with(TAG_ENV_PREFIX) {
            bad.push(
                &p,
                "is set by the plugin itself (instance ID, directory, logical ID and tags)",
                "rename the variable",
            );
            continue;
        }
        match val {
            Value::String(s) if s.contains('\0') => {
                bad.push(&p, "contains a NUL character", "remove it");
            }
            Value::String(s) => {
                out.insert(name.clone(), s.clone());
            }
            other => bad.push(
                &p,
                format!("must be a string, found {}", type_name(other)),
                "quote the value",
            ),
        }
    }
    out
}

fn grace(v: &Value, path: &str, bad: &mut Violations) -> Option<Duration> {
    match v {
        Value::Null => None,
        Value::String(s) => match duration::parse(s, Syntax::GO) {
            Ok(d) if d > MAX_GRACE => {
                let max = duration::format(MAX_GRACE);
                bad.push(
                    path,
                    format!("{s:?} is longer than {max}"),
                    format!("use at most \"{max}\" (the group waits 60 s for a Destroy)"),
                );
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                bad.push(
                    path,
                    format!("{s:?} is not a duration"),
                    "write a duration such as \"10s\", \"500ms\" or \"1m30s\"",
                );
                None
            }
        },
        other => {
            bad.push(
                path,
                format!("must be a duration string, found {}", type_name(other)),
                "write a duration such as \"10s\" or \"500ms\"",
            );
            None
        }
    }
}

fn restart(v: &Value, path: &str, bad: &mut Violations) -> Option<Restart> {
    match v {
        Value::Null => None,
        Value::String(s) => match s.as_str() {
            "never" => Some(Restart::Never),
            "on-failure" => Some(Restart::OnFailure),
            "always" => Some(Restart::Always),
            _ => {
                bad.push(
                    path,
                    format!("{s:?} is not a restart policy"),
                    one_of_fix(s, RESTART_POLICIES),
                );
                None
            }
        },
        other => {
            bad.push(
                path,
                format!("must be a string, found {}", type_name(other)),
                format!("write one of {}", RESTART_POLICIES.join(", ")),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(v: Value) -> Vec<(String, String)> {
        parse(&v, "$.properties")
            .unwrap_err()
            .0
            .into_iter()
            .map(|v| (v.path, v.fix))
            .collect()
    }

    #[test]
    fn defaults_and_every_field() {
        let p = parse(&Value::Null, "$").unwrap();
        assert_eq!(p.stop_grace, DEFAULT_GRACE);
        assert_eq!(p.restart, Restart::Never);
        assert_eq!(p.command, None);
        let p = parse(
            &json!({"Command": "sleep 1", "Env": {"A": "b"}, "StopGracePeriod": "500ms", "Restart": "on-failure"}),
            "$",
        )
        .unwrap();
        assert_eq!(p.command.as_deref(), Some("sleep 1"));
        assert_eq!(p.env["A"], "b");
        assert_eq!(p.stop_grace, Duration::from_millis(500));
        assert_eq!(p.restart, Restart::OnFailure);
    }

    #[test]
    fn every_problem_is_reported_at_its_path_with_a_fix() {
        let found = paths(json!({
            "Comand": "x",
            "Command": "",
            "Env": {"INFRAKIT_TAG_X": "1", "N": 3, "": "x"},
            "StopGracePeriod": "10",
            "Restart": "allways",
        }));
        let p: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        for want in [
            "$.properties.Comand",
            "$.properties.Command",
            "$.properties.Env.INFRAKIT_TAG_X",
            "$.properties.Env.N",
            "$.properties.Env[\"\"]",
            "$.properties.StopGracePeriod",
            "$.properties.Restart",
        ] {
            assert!(p.contains(&want), "{want} missing in {found:?}");
        }
        let fix = |path: &str| &found.iter().find(|(p, _)| p == path).unwrap().1;
        assert_eq!(fix("$.properties.Comand"), "did you mean \"Command\"?");
        assert_eq!(fix("$.properties.Restart"), "did you mean \"always\"?");
    }

    #[test]
    fn grace_reads_go_style_durations_and_names_the_fix() {
        let p = parse(&json!({"StopGracePeriod": "1.5s"}), "$").unwrap();
        assert_eq!(p.stop_grace, Duration::from_millis(1500));
        for bad in ["10", "5 s", ".5s", "1d", "-1s"] {
            let v = parse(&json!({"StopGracePeriod": bad}), "$").unwrap_err();
            assert_eq!(v.0[0].problem, format!("{bad:?} is not a duration"));
            assert!(v.0[0].fix.contains("\"10s\""), "{}", v.0[0].fix);
        }
        let v = parse(&json!({"StopGracePeriod": "51s"}), "$").unwrap_err();
        assert_eq!(v.0[0].problem, "\"51s\" is longer than 50s");
    }

    #[test]
    fn grace_is_bounded_and_not_an_object() {
        assert_eq!(paths(json!({"StopGracePeriod": "2m"})).len(), 1);
        assert_eq!(paths(json!({"StopGracePeriod": 5})).len(), 1);
        assert_eq!(
            paths(json!("sleep 1")),
            vec![(
                "$.properties".to_string(),
                "write {\"Command\": \"sleep 1000\"}".to_string()
            )]
        );
    }

    #[test]
    fn restart_policies() {
        assert!(!Restart::Never.restarts_after(Some(1)));
        assert!(Restart::OnFailure.restarts_after(Some(1)));
        assert!(Restart::OnFailure.restarts_after(None));
        assert!(!Restart::OnFailure.restarts_after(Some(0)));
        assert!(Restart::Always.restarts_after(Some(0)));
    }
}
