use super::*;
use crate::spec::InvalidDocument;
use infrakit_model::Violations;
use std::path::PathBuf;
use std::time::Duration;

fn rpc(status: tonic::Status) -> anyhow::Error {
    RpcError {
        plugin: "instance-file".into(),
        call: "Instance/Validate",
        timeout: Duration::from_secs(15),
        status,
    }
    .into()
}

#[test]
fn plugin_not_found_exits_3_with_suggestion_and_names() {
    let err = anyhow::Error::new(DialError::NotFound {
        name: "instance-fiel".into(),
        known: vec!["flavor-vanilla".into(), "instance-file".into()],
        dir: PathBuf::from("/run/infrakit/plugins"),
    });
    assert_eq!(code_of(&err), Code::PluginNotFound);
    assert_eq!(
        messages(&err),
        [
            "error: no plugin named \"instance-fiel\"; did you mean \"instance-file\"? (running: flavor-vanilla, instance-file)"
        ]
    );
}

#[test]
fn other_dial_errors_exit_1_with_their_causes() {
    let err = anyhow::Error::new(DialError::Connect {
        endpoint: "unix:///p/x.sock".into(),
        cause: "connection refused".into(),
    })
    .context("cannot reach plugin \"x\"");
    assert_eq!(code_of(&err), Code::Failure);
    assert_eq!(
        messages(&err),
        [
            "error: cannot reach plugin \"x\": cannot connect to unix:///p/x.sock: connection refused"
        ]
    );
}

#[test]
fn unreachable_replicas_exit_1_naming_each_endpoint_tried() {
    use infrakit_runtime::dial::Tried;
    let tried = |endpoint: &str| Tried {
        endpoint: endpoint.into(),
        cause: "connection refused".into(),
    };
    let err = anyhow::Error::new(DialError::NoReplica {
        name: "group".into(),
        tried: vec![tried("tcp://10.0.0.1:24864"), tried("tcp://10.0.0.2:24864")],
    });
    assert_eq!(code_of(&err), Code::Failure);
    assert_eq!(
        messages(&err),
        [
            "error: cannot connect to any of the 2 replicas of plugin \"group\", tried in turn: tcp://10.0.0.1:24864 (connection refused); tcp://10.0.0.2:24864 (connection refused); start one of them (`ikctl plugin ls` shows where each is registered)"
        ]
    );
}

#[test]
fn usage_errors_exit_2() {
    let err = anyhow::Error::new(UsageError("give --plugin".into()));
    assert_eq!(code_of(&err), Code::Usage);
    assert_eq!(messages(&err), ["error: give --plugin"]);
}

#[test]
fn a_broken_stdout_pipe_is_success_and_silent() {
    let err = anyhow::Error::new(StdoutError(std::io::Error::from(
        std::io::ErrorKind::BrokenPipe,
    )));
    assert_eq!(code_of(&err), Code::Success);
    assert!(messages(&err).is_empty());
}

#[test]
fn a_broken_pipe_elsewhere_is_a_failure() {
    let err = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
        .context("talking to a plugin");
    assert_eq!(code_of(&err), Code::Failure);
}

#[test]
fn invalid_argument_prints_each_field_violation() {
    let mut v = Violations::new();
    v.push("$.spec.properties", "is not valid JSON", "send JSON");
    v.push("$.spec.tags", "is too long", "");
    let err = rpc(infrakit_runtime::status::invalid(&v));
    assert_eq!(code_of(&err), Code::Failure);
    assert_eq!(
        messages(&err),
        [
            "error: $.spec.properties: is not valid JSON (fix: send JSON)",
            "error: $.spec.tags: is too long",
        ]
    );
}

#[test]
fn invalid_argument_without_details_prints_the_message() {
    let err = rpc(tonic::Status::invalid_argument("bad size"));
    assert_eq!(
        messages(&err),
        ["error: plugin \"instance-file\" refused the input: bad size"]
    );
}

#[test]
fn a_bad_document_prints_each_violation_with_the_file() {
    let mut v = Violations::new();
    v.push("$.Tagz", "is not a known field", "did you mean \"Tags\"?");
    let err = anyhow::Error::new(InvalidDocument {
        origin: "spec.yaml".into(),
        violations: v,
    });
    assert_eq!(
        messages(&err),
        ["error: spec.yaml: $.Tagz: is not a known field (fix: did you mean \"Tags\"?)"]
    );
}

#[test]
fn errors_print_once_with_their_context() {
    let err = rpc(tonic::Status::unavailable("connection refused")).context("cannot destroy i-1");
    assert_eq!(
        messages(&err),
        [
            "error: cannot destroy i-1: plugin \"instance-file\" stopped answering (Instance/Validate: connection refused)"
        ]
    );
    assert!(messages(&anyhow::Error::new(Reported("done".into()))).is_empty());
}
