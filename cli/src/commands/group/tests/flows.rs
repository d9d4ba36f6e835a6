use super::super::events::stream_events;
use super::super::wait::{Goal, Progress, WaitError, follow};
use super::super::{Waiting, client};
use super::render::event;
use crate::cli::Cli;
use crate::context::{Context, Target};
use crate::exit::{Code, code_of, messages};
use crate::output::Format;
use crate::testing::{FakeServer, GroupScript, Script};
use clap::Parser;
use infrakit_model::PluginName;
use infrakit_runtime::dial::DialOptions;
use infrakit_spi::group::v1::{
    DescribeGroupResponse, ErrorInfo, GroupSpec, PauseInfo, Phase, Plan, WatchRequest,
};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const HASH: &str = "ruf47dnc2pc5p7c7ed7vzybrfmxnb3rc";

/// Records progress instead of printing it.
#[derive(Default)]
struct Recorder(Vec<String>);

impl Progress for Recorder {
    fn status(&mut self, line: &str) {
        self.0.push(format!("status: {line}"));
    }
    fn event(&mut self, line: &str) {
        self.0.push(format!("event: {line}"));
    }
    fn finish(&mut self) {
        self.0.push("finish".into());
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs ikctl's command dispatch in-process.
fn run_cli(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let mut argv = vec!["ikctl", "--plugins-dir", dir.to_str().unwrap()];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).unwrap();
    runtime().block_on(crate::commands::run(cli))
}

fn at(phase: Phase, up_to_date: u32, healthy: u32, actual: u32) -> Option<DescribeGroupResponse> {
    Some(DescribeGroupResponse {
        id: "cattle".into(),
        phase: phase as i32,
        desired: 3,
        actual,
        healthy,
        up_to_date,
        spec_hash: HASH.into(),
        converged: phase == Phase::Converged,
        ..Default::default()
    })
}

/// A fake group plugin `group` in a fresh directory, managing `cattle`.
fn start(describes: Vec<Option<DescribeGroupResponse>>) -> (tempfile::TempDir, FakeServer, Script) {
    let dir = tempfile::tempdir().unwrap();
    let script: Script = Arc::new(Mutex::new(GroupScript {
        specs: vec![GroupSpec {
            id: "cattle".into(),
            properties: br#"{"Allocation":{"Size":3}}"#.to_vec(),
        }],
        describes: VecDeque::from(describes),
        plan: Plan {
            summary: "Adding 3 instances to increase the group size to 3".into(),
            create: 3,
            spec_hash: HASH.into(),
            ..Plan::default()
        },
        ..GroupScript::default()
    }));
    let server = FakeServer::start_group(dir.path(), "group", script.clone());
    (dir, server, script)
}

fn waiting(dir: &Path, limit: Duration) -> Waiting {
    let ctx = Context {
        plugins_dir: dir.to_path_buf(),
        timeout: Duration::from_secs(5),
        dial: DialOptions::default(),
        output: Format::Table,
    };
    let mut w = Waiting::new(&ctx, Some(limit));
    w.ctx.timeout = Duration::from_secs(5);
    w
}

async fn dial(w: &Waiting) -> Target {
    w.ctx
        .dial(&PluginName::parse("group").unwrap())
        .await
        .unwrap()
}

#[test]
fn violations_of_a_commit_are_printed_one_per_line() {
    let (dir, _server, _script) = start(vec![]);
    let spec = dir.path().join("bad.json");
    std::fs::write(&spec, r#"{"ID": "bad", "Properties": {}}"#).unwrap();
    let err = run_cli(dir.path(), &["group", "commit", spec.to_str().unwrap()]).unwrap_err();
    assert_eq!(code_of(&err), Code::Failure);
    assert_eq!(
        messages(&err),
        [
            "error: $.Properties.Allocation: must not be blank (fix: give Size or LogicalIDs)",
            "error: $.Properties.Instance.Plugin: is missing",
        ]
    );
}

#[test]
fn a_bad_spec_file_is_reported_before_dialing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("g.yaml");
    std::fs::write(&spec, "Id: cattle\nPropertis: {}\n").unwrap();
    let err = run_cli(dir.path(), &["group", "commit", spec.to_str().unwrap()]).unwrap_err();
    assert_eq!(code_of(&err), Code::Failure);
    let origin = spec.display();
    assert_eq!(
        messages(&err),
        [
            format!(
                "error: {origin}: $.Propertis: is not a known field (fix: did you mean \"Properties\"?)"
            ),
            format!(
                "error: {origin}: $.Properties: is missing (fix: add e.g. {{\"Allocation\": {{\"Size\": 5}}, \"Instance\": {{...}}, \"Flavor\": {{...}}}})"
            ),
        ]
    );
}

#[test]
fn an_unknown_group_is_no_group_and_exits_1() {
    let (dir, _server, _script) = start(vec![]);
    for args in [
        &["group", "describe", "x"][..],
        &["group", "free", "x"],
        &["group", "destroy", "x"],
        &["group", "set-size", "x", "3"],
        &["group", "stop-update", "x"],
        &["group", "events", "x"],
        &["group", "events", "x", "--follow"],
        &["group", "inspect", "x"],
        &["group", "-p", "group/x", "describe"],
    ] {
        let err = run_cli(dir.path(), args).unwrap_err();
        assert_eq!(code_of(&err), Code::Failure, "{args:?}");
        assert_eq!(messages(&err), ["error: no group \"x\""], "{args:?}");
    }
}

#[test]
fn a_verb_without_a_group_id_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["group", "describe"][..],
        &["group", "events"],
        &["group", "free"],
    ] {
        let err = run_cli(dir.path(), args).unwrap_err();
        assert_eq!(code_of(&err), Code::Usage, "{args:?}");
    }
}

#[test]
fn a_missing_group_plugin_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let err = run_cli(dir.path(), &["group", "describe", "cattle"]).unwrap_err();
    assert_eq!(code_of(&err), Code::PluginNotFound);
}

#[test]
fn a_dry_run_from_yaml_sends_pretend_and_json_properties() {
    let (dir, _server, script) = start(vec![]);
    let spec = dir.path().join("web.yaml");
    std::fs::write(
        &spec,
        "ID: web\nProperties:\n  Allocation:\n    Size: 2\n  Instance:\n    Plugin: instance-file\n",
    )
    .unwrap();
    run_cli(
        dir.path(),
        &[
            "group",
            "commit",
            spec.to_str().unwrap(),
            "--dry-run",
            "-o",
            "json",
        ],
    )
    .unwrap();
    let script = script.lock().unwrap();
    let sent = &script.commits[0];
    assert!(sent.pretend);
    let spec = sent.spec.clone().unwrap();
    assert_eq!(spec.id, "web");
    let props: Value = serde_json::from_slice(&spec.properties).unwrap();
    assert_eq!(
        props,
        json!({"Allocation": {"Size": 2}, "Instance": {"Plugin": "instance-file"}})
    );
    assert!(
        !script.specs.iter().any(|s| s.id == "web"),
        "a dry run commits nothing"
    );
}

#[test]
fn wait_follows_events_and_status_until_converged() {
    let (dir, _server, script) = start(vec![
        at(Phase::Converging, 0, 0, 1),
        at(Phase::Updating, 2, 2, 3),
        at(Phase::Converged, 3, 3, 3),
    ]);
    {
        let mut s = script.lock().unwrap();
        s.events = vec![event(
            "provisioned",
            "instance-1",
            "group size 0 < 3",
            Phase::Converging,
        )];
        s.keep_streaming = true;
    }
    let w = waiting(dir.path(), Duration::from_secs(10));
    let mut rec = Recorder::default();
    runtime()
        .block_on(async {
            let target = dial(&w).await;
            let goal = Goal::Converged {
                spec_hash: HASH.into(),
            };
            follow(&target, "cattle", goal, &w, &mut rec).await
        })
        .unwrap();
    assert!(
        rec.0.contains(
            &"event: 2026-11-25T07:12:03.120Z  provisioned  instance-1  group size 0 < 3"
                .to_string()
        ),
        "{:?}",
        rec.0
    );
    let statuses: Vec<&String> = rec.0.iter().filter(|l| l.starts_with("status: ")).collect();
    assert_eq!(
        statuses,
        [
            "status: cattle: Converging 0/3 up-to-date, 0 healthy, 1 actual",
            "status: cattle: Updating 2/3 up-to-date, 2 healthy, 3 actual",
            "status: cattle: Converged 3/3 up-to-date, 3 healthy, 3 actual",
        ]
    );
    assert_eq!(rec.0.last().map(String::as_str), Some("finish"));
    let watches = script.lock().unwrap().watches.clone();
    assert_eq!(
        watches,
        [WatchRequest {
            id: "cattle".into(),
            replay: false
        }]
    );
}

#[test]
fn commit_wait_on_a_failing_group_exits_1_with_the_reason() {
    let mut failing = at(Phase::Failing, 0, 0, 0);
    if let Some(d) = failing.as_mut() {
        d.last_error = Some(ErrorInfo {
            message: "provision failed: disk full".into(),
            time: None,
        });
    }
    let (dir, _server, _script) = start(vec![failing]);
    let spec = dir.path().join("cattle.json");
    std::fs::write(
        &spec,
        r#"{"ID": "cattle", "Properties": {"Allocation": {"Size": 3}}}"#,
    )
    .unwrap();
    let err = run_cli(
        dir.path(),
        &[
            "group",
            "commit",
            spec.to_str().unwrap(),
            "--wait",
            "--timeout",
            "20s",
        ],
    )
    .unwrap_err();
    assert_eq!(code_of(&err), Code::Failure);
    assert_eq!(
        messages(&err),
        ["error: group \"cattle\" is failing: provision failed: disk full"]
    );
}

#[test]
fn wait_gives_up_at_the_timeout_naming_the_last_status() {
    let (dir, _server, _script) = start(vec![at(Phase::Converging, 1, 1, 1)]);
    let w = waiting(dir.path(), Duration::from_millis(700));
    let mut rec = Recorder::default();
    let err = runtime()
        .block_on(async {
            let target = dial(&w).await;
            follow(
                &target,
                "cattle",
                Goal::Converged {
                    spec_hash: HASH.into(),
                },
                &w,
                &mut rec,
            )
            .await
        })
        .unwrap_err();
    let Some(WaitError::TimedOut { last, limit, .. }) = err.downcast_ref::<WaitError>() else {
        panic!("{err:#}");
    };
    assert_eq!(limit, "700ms");
    assert_eq!(
        last,
        "cattle: Converging 1/3 up-to-date, 1 healthy, 1 actual"
    );
    assert_eq!(code_of(&err), Code::Failure);
}

#[test]
fn destroy_wait_follows_until_the_group_is_gone() {
    let (dir, _server, _script) = start(vec![at(Phase::Destroying, 0, 0, 2), None]);
    let w = waiting(dir.path(), Duration::from_secs(10));
    let mut rec = Recorder::default();
    runtime()
        .block_on(async {
            let target = dial(&w).await;
            follow(&target, "cattle", Goal::Gone, &w, &mut rec).await
        })
        .unwrap();
    assert_eq!(
        rec.0,
        [
            "status: cattle: Destroying, 2 instances left",
            "status: cattle: destroyed",
            "finish"
        ]
    );
}

#[test]
fn a_group_freed_during_a_wait_is_no_group() {
    let (dir, _server, _script) = start(vec![at(Phase::Converging, 0, 0, 0), None]);
    let w = waiting(dir.path(), Duration::from_secs(10));
    let err = runtime()
        .block_on(async {
            let target = dial(&w).await;
            let goal = Goal::Converged {
                spec_hash: String::new(),
            };
            follow(&target, "cattle", goal, &w, &mut Recorder::default()).await
        })
        .unwrap_err();
    assert_eq!(messages(&err), ["error: no group \"cattle\""]);
}

#[test]
fn events_follow_replays_and_streams_until_the_stream_ends() {
    let (dir, _server, script) = start(vec![]);
    script.lock().unwrap().events = vec![
        event("committed", "", "spec ruf47dnc", Phase::Converging),
        event(
            "provisioned",
            "instance-1",
            "group size 0 < 3",
            Phase::Converging,
        ),
    ];
    let w = waiting(dir.path(), Duration::from_secs(10));
    let mut lines = Vec::new();
    runtime()
        .block_on(async {
            let target = dial(&w).await;
            let req = WatchRequest {
                id: "cattle".into(),
                replay: true,
            };
            let mut stream = client(&target).watch(req).await.unwrap().into_inner();
            let mut sink = |s: &str| {
                lines.push(s.to_string());
                Ok(())
            };
            stream_events(&mut stream, Format::Table, false, &mut sink).await
        })
        .unwrap();
    assert_eq!(
        lines,
        [
            "2026-11-25T07:12:03.120Z  committed  -  spec ruf47dnc\n",
            "2026-11-25T07:12:03.120Z  provisioned  instance-1  group size 0 < 3\n",
        ]
    );
    // The command itself asks for a replay, and ends with the stream.
    script.lock().unwrap().events.clear();
    run_cli(dir.path(), &["group", "events", "cattle", "--follow"]).unwrap();
    let watches = script.lock().unwrap().watches.clone();
    assert_eq!(
        watches.last(),
        Some(&WatchRequest {
            id: "cattle".into(),
            replay: true
        })
    );
}

#[test]
fn every_verb_takes_the_group_from_the_plugin_name() {
    let (dir, _server, script) = start(vec![at(Phase::Converged, 3, 3, 3)]);
    for args in [
        &["group", "-p", "group/cattle", "scale", "5"][..],
        &["group", "-p", "group/cattle", "scale"],
        &["group", "-p", "group/cattle", "set-size", "cattle", "4"],
        &[
            "group",
            "-p",
            "group/cattle",
            "destroy-instances",
            "i-1",
            "i-2",
        ],
        &["group", "-p", "group/cattle", "pause"],
        &["group", "-p", "group/cattle", "resume"],
        &["group", "-p", "group/cattle", "stop-update"],
        &["group", "-p", "group/cattle", "describe"],
        &["group", "-p", "group/cattle", "events"],
        &["group", "-p", "group/cattle", "free"],
        &["group", "-p", "group/cattle", "destroy"],
    ] {
        run_cli(dir.path(), args).unwrap_or_else(|e| panic!("{args:?}: {e:#}"));
    }
    let s = script.lock().unwrap();
    let sizes: Vec<(&str, u32)> = s
        .set_sizes
        .iter()
        .map(|r| (r.id.as_str(), r.size))
        .collect();
    assert_eq!(
        sizes,
        [("cattle", 5), ("cattle", 4)],
        "scale alone only reads"
    );
    assert_eq!(s.destroy_instances.len(), 1);
    assert_eq!(s.destroy_instances[0].id, "cattle");
    assert_eq!(s.destroy_instances[0].instance_ids, ["i-1", "i-2"]);
    assert_eq!(s.pauses.len(), 1);
    assert_eq!(s.resumes.len(), 1);
}

#[test]
fn scale_without_a_size_reads_and_changes_nothing() {
    let (dir, _server, script) = start(vec![at(Phase::Converged, 3, 3, 3)]);
    run_cli(dir.path(), &["group", "scale", "cattle"]).unwrap();
    run_cli(dir.path(), &["group", "scale", "cattle", "-o", "json"]).unwrap();
    assert!(script.lock().unwrap().set_sizes.is_empty());
    let err = run_cli(dir.path(), &["group", "scale", "x"]).unwrap_err();
    assert_eq!(messages(&err), ["error: no group \"x\""]);
    let err = run_cli(dir.path(), &["group", "scale"]).unwrap_err();
    assert_eq!(code_of(&err), Code::Usage);
}

#[test]
fn pause_names_the_caller_and_the_reason() {
    let (dir, _server, script) = start(vec![]);
    run_cli(
        dir.path(),
        &["group", "pause", "cattle", "--reason", "kernel upgrade"],
    )
    .unwrap();
    run_cli(dir.path(), &["group", "resume", "cattle"]).unwrap();
    let s = script.lock().unwrap();
    let pause = &s.pauses[0];
    assert_eq!(
        (pause.id.as_str(), pause.reason.as_str()),
        ("cattle", "kernel upgrade")
    );
    let (user, host) = pause.by.split_once('@').expect("user@host");
    assert!(!user.is_empty() && !host.is_empty(), "{}", pause.by);
    assert_eq!(s.resumes[0].id, "cattle");
    assert_eq!(s.resumes[0].by, pause.by);
    drop(s);
    let err = run_cli(dir.path(), &["group", "pause", "x"]).unwrap_err();
    assert_eq!(messages(&err), ["error: no group \"x\""]);
    let err = run_cli(dir.path(), &["group", "resume"]).unwrap_err();
    assert_eq!(code_of(&err), Code::Usage);
}

#[test]
fn commit_wait_on_a_paused_group_exits_1_naming_who_paused_it() {
    let mut paused = at(Phase::Paused, 0, 0, 0);
    if let Some(d) = paused.as_mut() {
        d.paused = Some(PauseInfo {
            by: "alice@ops-1".into(),
            since: None,
            reason: String::new(),
        });
    }
    let (dir, _server, _script) = start(vec![paused]);
    let spec = dir.path().join("cattle.json");
    std::fs::write(
        &spec,
        r#"{"ID": "cattle", "Properties": {"Allocation": {"Size": 3}}}"#,
    )
    .unwrap();
    let err = run_cli(
        dir.path(),
        &[
            "group",
            "commit",
            spec.to_str().unwrap(),
            "--wait",
            "--timeout",
            "20s",
        ],
    )
    .unwrap_err();
    assert_eq!(
        messages(&err),
        [
            "error: group \"cattle\" is paused by alice@ops-1; `ikctl group resume cattle` lets it converge"
        ]
    );
}
