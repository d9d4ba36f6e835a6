//! Turning input problems into gRPC statuses (and back, for clients).
//!
//! Bad input travels as `INVALID_ARGUMENT` whose message lists every violation (`path: problem
//! (fix: ...)`) and whose details carry a `google.rpc.BadRequest` with one field violation per
//! problem, so that grpcurl and clients in any language can read the JSON paths.

use infrakit_model::{Properties, Violation, Violations};
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
}
