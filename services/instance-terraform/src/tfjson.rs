//! Reading Terraform's machine-readable output: `terraform show -json` of the state and of a
//! saved plan, and the diagnostics in the `-json` message stream of `plan` and `apply`.

use serde_json::Value;
use std::collections::BTreeMap;

/// The resources Terraform knows, by address, and the results of `check` blocks, by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Managed resources in the root module.
    pub resources: BTreeMap<String, Resource>,
    /// Check block results.
    pub checks: BTreeMap<String, CheckStatus>,
}

/// One resource in the state.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// Tainted: its creation failed part-way; the next apply replaces it.
    pub tainted: bool,
    /// Its attributes, with sensitive top-level attributes replaced by `"(sensitive)"`.
    pub values: Value,
}

/// The result of a check block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckStatus {
    /// The condition holds.
    Pass,
    /// The condition does not hold; the messages say why.
    Fail(String),
    /// Not known yet (e.g. the resource is still to be created).
    Unknown,
    /// The condition could not be evaluated.
    Error,
}

/// A saved plan: the refreshed state it started from, the planned actions, the check results.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanView {
    /// The state after refresh, before any change.
    pub prior: Snapshot,
    /// The planned actions (`create`, `update`, `delete`, `no-op`, `forget`, ...), by address.
    pub actions: BTreeMap<String, Vec<String>>,
}

/// One diagnostic Terraform printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// `error` or `warning`.
    pub severity: String,
    /// The one-line summary.
    pub summary: String,
    /// The longer detail (may quote configuration or command output: log with care).
    pub detail: String,
    /// The resource it concerns, if any.
    pub address: Option<String>,
    /// The configuration file it points at, if any.
    pub filename: Option<String>,
}

/// Output that is not what Terraform documents.
#[derive(Debug, thiserror::Error)]
#[error("unexpected output from terraform show -json: {0}")]
pub struct ParseError(pub String);

// === impl PlanView ===

impl PlanView {
    /// True when applying the plan would change anything.
    pub fn has_changes(&self) -> bool {
        self.actions
            .values()
            .flatten()
            .any(|a| a != "no-op" && a != "read")
    }
}

/// Parses `terraform show -json` (no plan file): the current state.
pub fn parse_state(bytes: &[u8]) -> Result<Snapshot, ParseError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| ParseError(e.to_string()))?;
    if !v.is_object() {
        return Err(ParseError("not an object".into()));
    }
    Ok(snapshot(&v, &v))
}

/// Parses `terraform show -json <planfile>`.
pub fn parse_plan(bytes: &[u8]) -> Result<PlanView, ParseError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| ParseError(e.to_string()))?;
    if v.get("resource_changes").is_none() && v.get("planned_values").is_none() {
        return Err(ParseError("not a plan".into()));
    }
    let empty = Value::Null;
    let prior = v.get("prior_state").unwrap_or(&empty);
    let mut actions = BTreeMap::new();
    for rc in v
        .get("resource_changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(addr), Some(acts)) = (
            rc.get("address").and_then(Value::as_str),
            rc.pointer("/change/actions").and_then(Value::as_array),
        ) else {
            continue;
        };
        actions.insert(
            addr.to_string(),
            acts.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        );
    }
    Ok(PlanView {
        prior: snapshot(prior, &v),
        actions,
    })
}

/// The resources of `state` (a state representation) and the checks of `checks_from`.
fn snapshot(state: &Value, checks_from: &Value) -> Snapshot {
    let mut resources = BTreeMap::new();
    for r in state
        .pointer("/values/root_module/resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if r.get("mode").and_then(Value::as_str) != Some("managed") {
            continue;
        }
        let Some(addr) = r.get("address").and_then(Value::as_str) else {
            continue;
        };
        let mut values = r.get("values").cloned().unwrap_or(Value::Null);
        if let (Value::Object(vals), Some(Value::Object(sens))) =
            (&mut values, r.get("sensitive_values"))
        {
            for (k, s) in sens {
                if s == &Value::Bool(true) && vals.contains_key(k) {
                    vals.insert(k.clone(), Value::String("(sensitive)".into()));
                }
            }
        }
        resources.insert(
            addr.to_string(),
            Resource {
                tainted: r.get("tainted").and_then(Value::as_bool).unwrap_or(false),
                values,
            },
        );
    }
    let mut checks = BTreeMap::new();
    for c in checks_from
        .get("checks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if c.pointer("/address/kind").and_then(Value::as_str) != Some("check") {
            continue;
        }
        let Some(name) = c.pointer("/address/name").and_then(Value::as_str) else {
            continue;
        };
        let status = match c.get("status").and_then(Value::as_str) {
            Some("pass") => CheckStatus::Pass,
            Some("fail") => {
                let messages: Vec<&str> = c
                    .get("instances")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i.get("problems").and_then(Value::as_array))
                    .flatten()
                    .filter_map(|p| p.get("message").and_then(Value::as_str))
                    .collect();
                CheckStatus::Fail(messages.join("; "))
            }
            Some("error") => CheckStatus::Error,
            _ => CheckStatus::Unknown,
        };
        checks.insert(name.to_string(), status);
    }
    Snapshot { resources, checks }
}

/// The diagnostics in a `-json` message stream (one JSON object per line).
pub fn diagnostics(stream: &[u8]) -> Vec<Diagnostic> {
    String::from_utf8_lossy(stream)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m.get("type").and_then(Value::as_str) == Some("diagnostic"))
        .filter_map(|m| {
            let d = m.get("diagnostic")?;
            let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
            Some(Diagnostic {
                severity: s("severity").unwrap_or_default(),
                summary: s("summary").unwrap_or_default(),
                detail: s("detail").unwrap_or_default(),
                address: s("address"),
                filename: d
                    .pointer("/range/filename")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Trimmed from Terraform 1.15.5 output.
    const STATE: &str = r#"{"format_version":"1.0","terraform_version":"1.15.5","values":{"root_module":{"resources":[
      {"address":"terraform_data.a","mode":"managed","type":"terraform_data","name":"a","values":{"id":"1","input":{"tags":{"k":"v"}},"secret":"s"},"sensitive_values":{"input":{"tags":{}},"secret":true}},
      {"address":"terraform_data.b","mode":"managed","type":"terraform_data","name":"b","tainted":true,"values":{}},
      {"address":"data.x.y","mode":"data","type":"x","name":"y","values":{}}]}},
      "checks":[{"address":{"kind":"check","name":"a","to_display":"check.a"},"status":"pass","instances":[]}]}"#;

    const PLAN: &str = r#"{"format_version":"1.2","planned_values":{},"resource_changes":[
      {"address":"terraform_data.a","change":{"actions":["no-op"]}},
      {"address":"terraform_data.c","change":{"actions":["create"]}}],
      "prior_state":{"format_version":"1.0","values":{"root_module":{"resources":[
        {"address":"terraform_data.a","mode":"managed","type":"terraform_data","name":"a","values":{}}]}}},
      "checks":[{"address":{"kind":"check","name":"a","to_display":"check.a"},"status":"fail",
        "instances":[{"address":{"to_display":"check.a"},"status":"fail","problems":[{"message":"pidfile gone"}]}]},
        {"address":{"kind":"check","name":"c"},"status":"unknown"}]}"#;

    #[test]
    fn state_lists_managed_resources_taint_and_checks_and_hides_secrets() {
        let s = parse_state(STATE.as_bytes()).unwrap();
        assert_eq!(
            s.resources.keys().collect::<Vec<_>>(),
            ["terraform_data.a", "terraform_data.b"]
        );
        assert!(s.resources["terraform_data.b"].tainted);
        assert!(!s.resources["terraform_data.a"].tainted);
        assert_eq!(
            s.resources["terraform_data.a"].values["secret"],
            "(sensitive)"
        );
        assert_eq!(
            s.resources["terraform_data.a"].values["input"]["tags"]["k"],
            "v"
        );
        assert_eq!(s.checks["a"], CheckStatus::Pass);
    }

    #[test]
    fn an_empty_state_has_nothing() {
        let s = parse_state(br#"{"format_version":"1.0"}"#).unwrap();
        assert!(s.resources.is_empty());
        assert!(parse_state(b"[]").is_err());
    }

    #[test]
    fn plan_has_prior_state_actions_and_failed_checks() {
        let p = parse_plan(PLAN.as_bytes()).unwrap();
        assert!(p.has_changes());
        assert!(p.prior.resources.contains_key("terraform_data.a"));
        assert!(!p.prior.resources.contains_key("terraform_data.c"));
        assert_eq!(
            p.prior.checks["a"],
            CheckStatus::Fail("pidfile gone".into())
        );
        assert_eq!(p.prior.checks["c"], CheckStatus::Unknown);
        let none = parse_plan(br#"{"planned_values":{},"resource_changes":[{"address":"x.y","change":{"actions":["no-op"]}}]}"#).unwrap();
        assert!(!none.has_changes());
        assert!(none.prior.resources.is_empty());
    }

    #[test]
    fn diagnostics_name_their_file_and_address() {
        let stream = concat!(
            r#"{"@level":"info","type":"version","terraform":"1.15.5"}"#,
            "\n",
            r#"{"@level":"error","type":"diagnostic","diagnostic":{"severity":"error","summary":"local-exec provisioner error","detail":"exit 3","address":"terraform_data.instance-b1","range":{"filename":"instance-b1.tf.json"}}}"#,
            "\nnot json\n"
        );
        let d = diagnostics(stream.as_bytes());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].address.as_deref(), Some("terraform_data.instance-b1"));
        assert_eq!(d[0].filename.as_deref(), Some("instance-b1.tf.json"));
    }
}
