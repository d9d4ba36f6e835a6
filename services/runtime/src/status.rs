//! Turning input problems into gRPC statuses (and back, for clients).
//!
//! Bad input travels as `INVALID_ARGUMENT` whose message lists every violation (`path: problem
//! (fix: ...)`) and whose details carry a `google.rpc.BadRequest` with one field violation per
//! problem, so that grpcurl and clients in any language can read the JSON paths.

use infrakit_model::{Properties, Violation, Violations};
use infrakit_spi::instance::v1::InstanceSpec;
use std::future::Future;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// An `INVALID_ARGUMENT` status for these violations.
pub fn invalid(violations: &Violations) -> Status {
    let mut details = ErrorDetails::new();
    for v in &violations.0 {
        let desc = if v.fix.is_empty() {
            v.problem.clone()
        } else {
            format!("{} (fix: {})", v.problem, v.fix)
        };
        details.add_bad_request_violation(v.path.clone(), desc);
    }
    Status::with_error_details(Code::InvalidArgument, violations.to_string(), details)
}

/// Parses plugin Properties bytes as JSON, or returns `INVALID_ARGUMENT` naming `path` and the
/// line and column of the syntax error (never the content, which may be secret).
pub fn parse_properties(bytes: &[u8], path: &str) -> Result<serde_json::Value, Status> {
    Properties::new(bytes.to_vec())
        .parse()
        .map_err(|e| invalid(&json_violation(path, &e).into()))
}

/// Parses plugin Properties bytes found at `path` as JSON, like [`parse_properties`], for a
/// check that collects every violation: when they do not parse, records why in `bad` and
/// returns `None`.
pub fn collect_properties(
    bytes: &[u8],
    path: &str,
    bad: &mut Violations,
) -> Option<serde_json::Value> {
    match Properties::new(bytes.to_vec()).parse() {
        Ok(v) => Some(v),
        Err(e) => {
            bad.0.push(json_violation(path, &e));
            None
        }
    }
}

/// A violation for JSON that does not parse.
pub fn json_violation(path: &str, e: &serde_json::Error) -> Violation {
    Violation::new(
        path,
        format!(
            "is not valid JSON ({} at line {} column {})",
            describe_json_error(e),
            e.line(),
            e.column()
        ),
        "send a UTF-8 JSON document, e.g. {\"key\": \"value\"}",
    )
}

fn describe_json_error(e: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "unexpected end of input",
        Category::Syntax => "syntax error",
        Category::Data => "unexpected value",
        Category::Io => "read error",
    }
}

/// The violations carried by a status (from its BadRequest details), for clients.
pub fn violations_of(status: &Status) -> Vec<Violation> {
    status
        .get_details_bad_request()
        .map(|br| {
            br.field_violations
                .into_iter()
                .map(|f| Violation::new(f.field, f.description, ""))
                .collect()
        })
        .unwrap_or_default()
}

/// A `NOT_FOUND` status.
pub fn not_found(what: impl Into<String>) -> Status {
    Status::not_found(what.into())
}

/// Runs blocking `work` (file I/O) on tokio's blocking threads. It runs to completion even if
/// the caller goes away; if it panics, the answer is `INTERNAL` (`<what> task failed: ...`).
pub async fn blocking_task<T, F>(what: &str, work: F) -> Result<T, Status>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| internal(&format!("{what} task failed"), &e))
}

/// Runs `work` as a task of its own. It runs to completion even if the caller goes away (so
/// that nothing is left half done); if it panics, the answer is `INTERNAL` (`<what> task
/// failed: ...`).
pub async fn task<T, F>(what: &str, work: F) -> Result<T, Status>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    tokio::spawn(work)
        .await
        .map_err(|e| internal(&format!("{what} task failed"), &e))
}

/// Checks the subtype a plugin of `kind` that has none was addressed with: `Ok` for none, else
/// `NOT_FOUND` (`<kind> has no subtype "x"; address it without a '/subtype'`).
pub fn no_subtype(kind: &str, subtype: &str) -> Result<(), Status> {
    if subtype.is_empty() {
        Ok(())
    } else {
        Err(Status::not_found(format!(
            "{kind} has no subtype {subtype:?}; address it without a '/subtype'"
        )))
    }
}

/// A `NOT_FOUND` status for an instance ID the plugin does not know: `no instance "<id>"`.
pub fn no_instance(id: &str) -> Status {
    Status::not_found(format!("no instance {id:?}"))
}

/// The violation for a Provision request without its instance spec.
pub fn missing_spec() -> Violation {
    Violation::new("$.spec", "is missing", "send an instance spec")
}

/// The instance spec of a Provision request, or `INVALID_ARGUMENT` ([`missing_spec`]).
pub fn require_spec(spec: Option<InstanceSpec>) -> Result<InstanceSpec, Status> {
    spec.ok_or_else(|| invalid(&missing_spec().into()))
}

/// Records a violation in `bad` when an instance spec's logical ID is present but empty.
pub fn check_logical_id(logical_id: Option<&str>, bad: &mut Violations) {
    if logical_id == Some("") {
        bad.push(
            "$.spec.logical_id",
            "is empty",
            "omit it, or give a non-empty logical ID",
        );
    }
}

/// An `INTERNAL` status for an unexpected error, logging the cause.
pub fn internal(context: &str, err: &dyn std::error::Error) -> Status {
    tracing::error!(error = %err, "{context}");
    Status::internal(format!("{context}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_json_names_the_field_and_position_but_not_the_content() {
        let st = parse_properties(br#"{"secret": "hunter2",}"#, "$.spec.properties").unwrap_err();
        assert_eq!(st.code(), Code::InvalidArgument);
        assert!(
            st.message()
                .starts_with("$.spec.properties: is not valid JSON"),
            "{}",
            st.message()
        );
        assert!(st.message().contains("line 1"), "{}", st.message());
        assert!(!st.message().contains("hunter2"));
        let v = violations_of(&st);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].path, "$.spec.properties");
    }

    #[test]
    fn collected_properties_record_why_they_do_not_parse() {
        let mut bad = Violations::new();
        let v = collect_properties(br#"{"a": 1}"#, "$.spec.properties", &mut bad);
        assert_eq!(v, Some(serde_json::json!({"a": 1})));
        assert_eq!(
            collect_properties(b"", "$.p", &mut bad),
            Some(serde_json::Value::Null)
        );
        assert!(bad.is_empty());
        assert_eq!(
            collect_properties(b"{", "$.spec.properties", &mut bad),
            None
        );
        assert_eq!(bad.0.len(), 1);
        assert_eq!(bad.0[0].path, "$.spec.properties");
        assert!(bad.0[0].problem.starts_with("is not valid JSON"));
    }

    #[tokio::test]
    async fn tasks_give_their_result_and_a_panic_is_internal() {
        assert_eq!(blocking_task("label", || 7).await.unwrap(), 7);
        assert_eq!(task("destroy", async { 8 }).await.unwrap(), 8);
        let st = blocking_task("label", || -> u8 { panic!("boom") })
            .await
            .unwrap_err();
        assert_eq!(st.code(), Code::Internal);
        assert!(
            st.message().starts_with("label task failed: "),
            "{}",
            st.message()
        );
        let st = task("destroy", async { panic!("boom") }).await.unwrap_err();
        assert!(
            st.message().starts_with("destroy task failed: "),
            "{}",
            st.message()
        );
    }

    #[test]
    fn a_plugin_without_subtypes_refuses_one_by_name() {
        assert!(no_subtype("instance-file", "").is_ok());
        let st = no_subtype("instance-file", "x").unwrap_err();
        assert_eq!(st.code(), Code::NotFound);
        assert_eq!(
            st.message(),
            "instance-file has no subtype \"x\"; address it without a '/subtype'"
        );
        assert_eq!(no_instance("i-1").message(), "no instance \"i-1\"");
    }

    #[test]
    fn spec_checks_name_the_path_and_the_fix() {
        let st = require_spec(None).unwrap_err();
        assert_eq!(st.code(), Code::InvalidArgument);
        assert_eq!(
            st.message(),
            "$.spec: is missing (fix: send an instance spec)"
        );
        assert!(require_spec(Some(InstanceSpec::default())).is_ok());
        let mut bad = Violations::new();
        check_logical_id(None, &mut bad);
        check_logical_id(Some("db-1"), &mut bad);
        assert!(bad.is_empty());
        check_logical_id(Some(""), &mut bad);
        assert_eq!(
            bad.to_string(),
            "$.spec.logical_id: is empty (fix: omit it, or give a non-empty logical ID)"
        );
    }
}
