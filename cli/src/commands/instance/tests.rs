use super::*;
use crate::cli::Cli;
use crate::exit::{Code, code_of, messages};
use crate::testing::{FakeServer, stale_socket};
use clap::Parser;
use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

/// Runs ikctl's command dispatch in-process (for error paths: successes print to stdout).
fn run_cli(dir: &std::path::Path, args: &[&str]) -> anyhow::Result<()> {
    let mut argv = vec!["ikctl", "--plugins-dir", dir.to_str().unwrap()];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(crate::commands::run(cli))
}

fn description(
    id: &str,
    logical: Option<&str>,
    state: i32,
    tags: &[(&str, &str)],
    props: &[u8],
) -> InstanceDescription {
    InstanceDescription {
        id: id.to_string(),
        logical_id: logical.map(str::to_string),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        properties: props.to_vec(),
        state,
    }
}

#[test]
fn describe_table_has_sorted_tags_and_dashes_for_missing_values() {
    let list = [
        description("i-1", Some("10.0.0.1"), 2, &[("b", "2"), ("a", "1")], b""),
        description("i-22", None, 0, &[], b""),
    ];
    let s = render_describe(Format::Table, false, false, &list).unwrap();
    assert_eq!(
        s,
        "ID    LOGICAL   STATE    TAGS\n\
         i-1   10.0.0.1  running  a=1,b=2\n\
         i-22  -         -        -\n"
    );
    assert_eq!(
        render_describe(Format::Json, true, false, &list).unwrap(),
        "i-1\ni-22\n"
    );
}

#[test]
fn describe_json_is_an_array_of_objects_with_parsed_properties() {
    let list = [description(
        "i-1",
        None,
        1,
        &[("a", "1")],
        br#"{"image":"busybox"}"#,
    )];
    let s = render_describe(Format::Json, false, true, &list).unwrap();
    let v: Value = serde_json::from_str(&s).unwrap();
    assert_eq!(
        v,
        json!([{"id": "i-1", "logical_id": null, "state": "pending", "tags": {"a": "1"}, "properties": {"image": "busybox"}}])
    );
    let table = render_describe(Format::Table, false, true, &list).unwrap();
    assert!(table.contains(r#"{"image":"busybox"}"#), "{table}");
}

#[test]
fn provision_prints_the_bare_id_or_an_object() {
    assert_eq!(render_id(Format::Table, "i-9").unwrap(), "i-9\n");
    assert_eq!(
        render_id(Format::Json, "i-9").unwrap(),
        "{\n  \"id\": \"i-9\"\n}\n"
    );
}

#[test]
fn violations_from_the_plugin_are_printed_one_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = mpsc::channel();
    let _server = FakeServer::start(dir.path(), "inst", tx);
    let props = dir.path().join("props.yaml");
    std::fs::write(&props, "cpus: many\n").unwrap();
    let err = run_cli(
        dir.path(),
        &[
            "instance",
            "-p",
            "inst",
            "validate",
            props.to_str().unwrap(),
        ],
    )
    .unwrap_err();
    assert_eq!(code_of(&err), Code::Failure);
    assert_eq!(
        messages(&err),
        [
            "error: $.spec.properties.image: is missing (fix: add an image)",
            "error: $.spec.properties.cpus: must be a number",
        ]
    );
}

#[test]
fn a_plugin_that_dies_mid_call_stopped_answering() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = mpsc::channel();
    let server = FakeServer::start(dir.path(), "inst", tx);
    let killer = std::thread::spawn(move || {
        let arrived = rx.recv_timeout(Duration::from_secs(10));
        server.kill();
        arrived
    });
    let spec = dir.path().join("spec.json");
    std::fs::write(
        &spec,
        r#"{"Properties": {"image": "busybox"}, "Tags": {"a": "1"}}"#,
    )
    .unwrap();
    let err = run_cli(
        dir.path(),
        &[
            "instance",
            "-p",
            "inst",
            "provision",
            spec.to_str().unwrap(),
        ],
    )
    .unwrap_err();
    assert_eq!(killer.join().unwrap(), Ok("provision"));
    assert_eq!(code_of(&err), Code::Failure);
    let msg = messages(&err).join("\n");
    assert!(
        msg.starts_with("error: plugin \"inst\" stopped answering (Instance/Provision: "),
        "{msg}"
    );
}

#[test]
fn a_slow_plugin_is_cut_off_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = mpsc::channel();
    let _server = FakeServer::start(dir.path(), "inst", tx);
    let spec = dir.path().join("spec.yaml");
    std::fs::write(&spec, "Properties:\n  image: busybox\n").unwrap();
    let err = run_cli(
        dir.path(),
        &[
            "--timeout",
            "300ms",
            "instance",
            "provision",
            "-p",
            "inst",
            spec.to_str().unwrap(),
        ],
    )
    .unwrap_err();
    assert_eq!(
        messages(&err),
        [
            "error: plugin \"inst\" did not answer Instance/Provision within 300ms (raise --timeout if it is just slow)"
        ]
    );
}

#[test]
fn a_wrong_plugin_name_suggests_the_nearest_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = mpsc::channel();
    let _server = FakeServer::start(dir.path(), "inst", tx);
    stale_socket(dir.path(), "other");
    let err = run_cli(dir.path(), &["instance", "-p", "ints", "describe"]).unwrap_err();
    assert_eq!(code_of(&err), Code::PluginNotFound);
    let msg = messages(&err).join("\n");
    assert!(msg.contains("did you mean \"inst\"?"), "{msg}");
    assert!(msg.contains("(running: inst, other)"), "{msg}");
}

#[test]
fn a_bad_spec_is_reported_per_field_before_dialing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.json");
    std::fs::write(&spec, r#"{"Propertes": {}, "Tags": {"a": ["x"]}}"#).unwrap();
    let err = run_cli(
        dir.path(),
        &[
            "instance",
            "-p",
            "absent",
            "provision",
            spec.to_str().unwrap(),
        ],
    )
    .unwrap_err();
    assert_eq!(code_of(&err), Code::Failure);
    let origin = spec.display();
    assert_eq!(
        messages(&err),
        [
            format!(
                "error: {origin}: $.Propertes: is not a known field (fix: did you mean \"Properties\"?)"
            ),
            format!(
                "error: {origin}: $.Tags.a: must be a string, found an array (fix: write the tag value as a string)"
            ),
        ]
    );
}

#[test]
fn failed_destroys_are_each_reported_and_the_run_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = mpsc::channel();
    let _server = FakeServer::start(dir.path(), "inst", tx);
    let one = run_cli(dir.path(), &["instance", "-p", "inst", "destroy", "i-1"]).unwrap_err();
    assert_eq!(
        messages(&one),
        ["error: plugin \"inst\": no instance \"i-1\""]
    );
    let many = run_cli(
        dir.path(),
        &["instance", "-p", "inst", "destroy", "i-1", "i-2"],
    )
    .unwrap_err();
    assert_eq!(code_of(&many), Code::Failure);
    assert!(
        messages(&many).is_empty(),
        "each failure was printed as it happened"
    );
}
