use super::super::commit::{self, Shown};
use super::super::describe;
use super::super::events::{render_event, render_events};
use super::super::inspect::{render_inspect, render_ls, row};
use super::super::pause::{caller_from, user_named};
use super::super::view::{event_line, progress_line};
use super::super::wait::{Goal, Judge, Verdict, WaitError, human};
use crate::output::Format;
use infrakit_spi::group::v1::{
    CommitGroupResponse, DescribeGroupResponse, ErrorInfo, GroupEvent, GroupSpec, InstanceStatus,
    PauseInfo, Phase, Plan, PlannedAction, UpdateProgress,
};
use prost_types::Timestamp;
use serde_json::{Value, json};
use std::time::Duration;

/// 2026-11-25T07:12:03Z.
const T0: i64 = 1_795_590_723;
const HASH: &str = "ruf47dnc2pc5p7c7ed7vzybrfmxnb3rc";
const OLD: &str = "y23ckqyrpkq0m60vi";

fn ts(seconds: i64, millis: i32) -> Option<Timestamp> {
    Some(Timestamp {
        seconds,
        nanos: millis * 1_000_000,
    })
}

pub(super) fn event(kind: &str, instance: &str, message: &str, phase: Phase) -> GroupEvent {
    GroupEvent {
        sequence: 7,
        time: ts(T0, 120),
        group_id: "cattle".into(),
        kind: kind.into(),
        instance_id: instance.into(),
        logical_id: String::new(),
        message: message.into(),
        phase: phase as i32,
        ..Default::default()
    }
}

fn member(id: &str, hash: &str, health: &str, reason: &str, state: &str) -> InstanceStatus {
    InstanceStatus {
        id: id.into(),
        logical_id: String::new(),
        spec_hash: hash.into(),
        up_to_date: hash == HASH,
        health: health.into(),
        health_reason: reason.into(),
        tags: [("infrakit.group".to_string(), "cattle".to_string())].into(),
        state: state.into(),
        last_seen: ts(T0, 120),
    }
}

fn status() -> DescribeGroupResponse {
    DescribeGroupResponse {
        id: "cattle".into(),
        phase: Phase::Updating as i32,
        desired: 3,
        actual: 3,
        healthy: 2,
        up_to_date: 1,
        spec_hash: HASH.into(),
        last_error: Some(ErrorInfo {
            message: "provision failed: disk full".into(),
            time: ts(T0, 120),
        }),
        instances: vec![
            member("instance-2", OLD, "unhealthy", "no heartbeat", "running"),
            member("instance-1", HASH, "healthy", "", "running"),
            member("instance-3", HASH, "unknown", "", ""),
        ],
        recent_events: vec![event(
            "provisioned",
            "instance-1",
            "rolling update to ruf47dnc",
            Phase::Updating,
        )],
        update: Some(UpdateProgress {
            target_hash: HASH.into(),
            previous_hash: OLD.into(),
            done: 1,
            total: 3,
            deadline: ts(T0 + 600, 0),
            rollback: false,
            halted_reason: String::new(),
        }),
        converged: false,
        message: String::new(),
        observed_at: ts(T0, 120),
        ..Default::default()
    }
}

fn plan() -> Plan {
    Plan {
        summary: "Performing a rolling update on 5 instances, then adding 5 instances to increase the group size to 10".into(),
        create: 5,
        destroy: 0,
        roll: 5,
        keep: 0,
        spec_hash: HASH.into(),
        noop: false,
        actions: vec![
            PlannedAction {
                kind: "provision".into(),
                instance_id: String::new(),
                logical_id: String::new(),
                reason: "group size 5 < 10".into(),
            },
            PlannedAction {
                kind: "drain".into(),
                instance_id: "instance-1".into(),
                logical_id: String::new(),
                reason: "config hash y23ckqyrpkq0 != ruf47dnc2pc5".into(),
            },
        ],
    }
}

#[test]
fn a_dry_run_prints_the_original_sentence_alone() {
    let resp = CommitGroupResponse {
        id: "cattle".into(),
        plan: Some(plan()),
    };
    let pretend = Shown {
        pretend: true,
        verbose: false,
    };
    assert_eq!(
        commit::render(Format::Table, "cattle", pretend, &resp).unwrap(),
        "Committing cattle would involve: Performing a rolling update on 5 instances, then adding 5 instances to increase the group size to 10\n"
    );
    let noop = CommitGroupResponse {
        id: String::new(),
        plan: Some(Plan {
            summary: "Noop".into(),
            keep: 5,
            spec_hash: HASH.into(),
            noop: true,
            ..Plan::default()
        }),
    };
    assert_eq!(
        commit::render(Format::Table, "cattle", Shown::default(), &noop).unwrap(),
        "Committed cattle: Noop\n"
    );
}

#[test]
fn a_verbose_commit_adds_the_counts_and_the_first_steps() {
    let resp = CommitGroupResponse {
        id: "cattle".into(),
        plan: Some(plan()),
    };
    let verbose = Shown {
        pretend: true,
        verbose: true,
    };
    assert_eq!(
        commit::render(Format::Table, "cattle", verbose, &resp).unwrap(),
        "Committing cattle would involve: Performing a rolling update on 5 instances, then adding 5 instances to increase the group size to 10\n\
         \x20 create 5, destroy 0, roll 5, keep 0; spec hash ruf47dnc2pc5\n\
         \x20 KIND       INSTANCE    REASON\n\
         \x20 provision  -           group size 5 < 10\n\
         \x20 drain      instance-1  config hash y23ckqyrpkq0 != ruf47dnc2pc5\n"
    );
    let noop = CommitGroupResponse {
        id: String::new(),
        plan: Some(Plan {
            summary: "Noop".into(),
            keep: 5,
            spec_hash: HASH.into(),
            noop: true,
            ..Plan::default()
        }),
    };
    let verbose = Shown {
        pretend: false,
        verbose: true,
    };
    assert_eq!(
        commit::render(Format::Table, "cattle", verbose, &noop).unwrap(),
        "Committed cattle: Noop\n  create 0, destroy 0, roll 0, keep 5; spec hash ruf47dnc2pc5\n"
    );
}

#[test]
fn commit_json_has_the_plan_with_its_actions() {
    let resp = CommitGroupResponse {
        id: "cattle".into(),
        plan: Some(plan()),
    };
    let v: Value = serde_json::from_str(
        &commit::render(Format::Json, "cattle", Shown::default(), &resp).unwrap(),
    )
    .unwrap();
    assert_eq!(v["id"], "cattle");
    assert_eq!(v["pretend"], false);
    assert_eq!(
        v["plan"]["actions"][1],
        json!({"kind": "drain", "instance_id": "instance-1", "logical_id": null, "reason": "config hash y23ckqyrpkq0 != ruf47dnc2pc5"})
    );
    for k in [
        "summary",
        "create",
        "destroy",
        "roll",
        "keep",
        "spec_hash",
        "noop",
    ] {
        assert!(v["plan"].get(k).is_some(), "{k} in {v}");
    }
    let pretend = Shown {
        pretend: true,
        verbose: false,
    };
    let y = commit::render(Format::Yaml, "cattle", pretend, &resp).unwrap();
    assert!(y.contains("pretend: true"), "{y}");
}

#[test]
fn describe_table_has_the_header_members_and_events() {
    assert_eq!(
        describe::render(Format::Table, false, &status()).unwrap(),
        "ID          cattle\n\
         PHASE       updating\n\
         DESIRED     3\n\
         ACTUAL      3\n\
         HEALTHY     2\n\
         UP-TO-DATE  1\n\
         SPEC HASH   ruf47dnc2pc5\n\
         UPDATE      1/3 to ruf47dnc2pc5 from y23ckqyrpkq0, deadline 2026-11-25T07:22:03.000Z\n\
         LAST ERROR  2026-11-25T07:12:03.120Z  provision failed: disk full\n\
         \n\
         ID          LOGICAL  HASH          UP-TO-DATE  HEALTH                   STATE\n\
         instance-1  -        ruf47dnc2pc5  yes         healthy                  running\n\
         instance-2  -        y23ckqyrpkq0  no          unhealthy: no heartbeat  running\n\
         instance-3  -        ruf47dnc2pc5  yes         unknown                  -\n\
         \n\
         TIME                      KIND         INSTANCE    MESSAGE\n\
         2026-11-25T07:12:03.120Z  provisioned  instance-1  rolling update to ruf47dnc\n"
    );
    assert_eq!(
        describe::render(Format::Table, true, &status()).unwrap(),
        "instance-1\ninstance-2\ninstance-3\n"
    );
}

#[test]
fn describe_json_has_the_documented_fields() {
    let v: Value =
        serde_json::from_str(&describe::render(Format::Json, false, &status()).unwrap()).unwrap();
    for k in [
        "id",
        "phase",
        "desired",
        "actual",
        "healthy",
        "up_to_date",
        "spec_hash",
        "converged",
        "instances",
        "update",
        "last_error",
        "recent_events",
        "paused",
        "observed_at",
        "stale",
    ] {
        assert!(v.get(k).is_some(), "{k} in {v}");
    }
    assert_eq!(v["phase"], "updating");
    assert_eq!(
        (&v["paused"], &v["stale"], &v["observed_at"]),
        (
            &Value::Null,
            &json!(false),
            &json!("2026-11-25T07:12:03.120Z")
        )
    );
    assert_eq!(
        v["instances"][1],
        json!({"id": "instance-2", "logical_id": null, "spec_hash": OLD, "up_to_date": false,
               "health": "unhealthy", "health_reason": "no heartbeat", "state": "running",
               "last_seen": "2026-11-25T07:12:03.120Z", "tags": {"infrakit.group": "cattle"}})
    );
    assert_eq!(v["last_error"]["time"], "2026-11-25T07:12:03.120Z");
    assert_eq!(v["update"]["deadline"], "2026-11-25T07:22:03.000Z");
    assert_eq!(v["recent_events"][0]["phase"], "updating");
    let quiet = DescribeGroupResponse {
        id: "x".into(),
        ..Default::default()
    };
    let v: Value =
        serde_json::from_str(&describe::render(Format::Json, false, &quiet).unwrap()).unwrap();
    assert_eq!(
        (&v["phase"], &v["update"], &v["last_error"]),
        (&json!("unspecified"), &Value::Null, &Value::Null)
    );
}

#[test]
fn describe_says_who_paused_a_group_since_when_and_why() {
    let mut d = status();
    d.phase = Phase::Paused as i32;
    d.update = None;
    d.last_error = None;
    d.recent_events.clear();
    d.instances.truncate(1);
    d.paused = Some(PauseInfo {
        by: "alice@ops-1".into(),
        since: ts(T0, 120),
        reason: "kernel upgrade".into(),
    });
    assert_eq!(
        describe::render(Format::Table, false, &d).unwrap(),
        "ID          cattle\n\
         PHASE       paused\n\
         PAUSED      by alice@ops-1 since 2026-11-25T07:12:03.120Z: kernel upgrade\n\
         DESIRED     3\n\
         ACTUAL      3\n\
         HEALTHY     2\n\
         UP-TO-DATE  1\n\
         SPEC HASH   ruf47dnc2pc5\n\
         \n\
         ID          LOGICAL  HASH          UP-TO-DATE  HEALTH                   STATE\n\
         instance-2  -        y23ckqyrpkq0  no          unhealthy: no heartbeat  running\n"
    );
    let v: Value =
        serde_json::from_str(&describe::render(Format::Json, false, &d).unwrap()).unwrap();
    assert_eq!(
        v["paused"],
        json!({"by": "alice@ops-1", "since": "2026-11-25T07:12:03.120Z", "reason": "kernel upgrade"})
    );
    d.paused = Some(PauseInfo::default());
    let text = describe::render(Format::Table, false, &d).unwrap();
    assert!(
        text.contains("PAUSED      by an unnamed caller\n"),
        "{text}"
    );
}

#[test]
fn a_stale_describe_shows_the_members_as_last_seen() {
    let mut d = status();
    d.phase = Phase::Degraded as i32;
    d.update = None;
    d.recent_events.clear();
    d.stale = true;
    d.observed_at = ts(T0 - 60, 0);
    d.instances.truncate(2);
    d.instances[0].last_seen = ts(T0 - 60, 0);
    d.instances[1].last_seen = None;
    assert_eq!(
        describe::render(Format::Table, false, &d).unwrap(),
        "ID          cattle\n\
         PHASE       degraded\n\
         DESIRED     3\n\
         ACTUAL      3\n\
         HEALTHY     2\n\
         UP-TO-DATE  1\n\
         SPEC HASH   ruf47dnc2pc5\n\
         LAST ERROR  2026-11-25T07:12:03.120Z  provision failed: disk full\n\
         MEMBERS     as last seen at 2026-11-25T07:11:03.000Z (the instance plugin cannot be listed now; health as of then)\n\
         \n\
         ID          LOGICAL  HASH          UP-TO-DATE  HEALTH                   STATE    LAST SEEN\n\
         instance-1  -        ruf47dnc2pc5  yes         healthy                  running  -\n\
         instance-2  -        y23ckqyrpkq0  no          unhealthy: no heartbeat  running  2026-11-25T07:11:03.000Z\n"
    );
    let v: Value =
        serde_json::from_str(&describe::render(Format::Json, false, &d).unwrap()).unwrap();
    assert_eq!(
        (&v["stale"], &v["observed_at"]),
        (&json!(true), &json!("2026-11-25T07:11:03.000Z"))
    );
    assert_eq!(
        v["instances"][0]["last_seen"],
        Value::Null,
        "instance-1, sorted first"
    );
    d.observed_at = None;
    let text = describe::render(Format::Table, false, &d).unwrap();
    assert!(
        text.contains("MEMBERS     never listed (the instance plugin cannot be listed now)\n"),
        "{text}"
    );
}

#[test]
fn the_caller_is_user_at_host() {
    assert_eq!(
        caller_from(Some("alice".into()), Some("ops-1\n".into())),
        "alice@ops-1"
    );
    assert_eq!(caller_from(None, Some(" ".into())), "unknown@unknown");
    let passwd =
        "root:x:0:0:root:/root:/bin/bash\n# comment\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    assert_eq!(user_named(passwd, 1000).as_deref(), Some("alice"));
    assert_eq!(user_named(passwd, 0).as_deref(), Some("root"));
    assert_eq!(user_named(passwd, 7), None);
}

#[test]
fn events_are_lines_or_objects() {
    let e = event(
        "provisioned",
        "instance-abc",
        "group size 4 < 5",
        Phase::Converging,
    );
    assert_eq!(
        event_line(&e, false),
        "2026-11-25T07:12:03.120Z  provisioned  instance-abc  group size 4 < 5"
    );
    assert_eq!(
        event_line(&e, true),
        "2026-11-25T07:12:03.120Z  cattle  provisioned  instance-abc  group size 4 < 5"
    );
    let phase = event("phase", "", "converged", Phase::Converged);
    assert_eq!(
        render_events(Format::Table, &[e.clone(), phase]).unwrap(),
        "2026-11-25T07:12:03.120Z  provisioned  instance-abc  group size 4 < 5\n\
         2026-11-25T07:12:03.120Z  phase  -  converged\n"
    );
    let line = render_event(Format::Json, &e, false).unwrap();
    assert_eq!(line.lines().count(), 1);
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        v,
        json!({"sequence": 7, "time": "2026-11-25T07:12:03.120Z", "group_id": "cattle",
               "kind": "provisioned", "instance_id": "instance-abc", "logical_id": null,
               "message": "group size 4 < 5", "phase": "converging"})
    );
    assert!(
        render_event(Format::Yaml, &e, false)
            .unwrap()
            .starts_with("---\n")
    );
}

#[test]
fn inspect_lists_groups_or_prints_one_spec_in_infrakit_shape() {
    let specs = [
        GroupSpec {
            id: "zk".into(),
            properties: br#"{"Allocation":{"LogicalIDs":["a","b"]},"Instance":{"Plugin":"instance-file"}}"#.to_vec(),
        },
        GroupSpec {
            id: "cattle".into(),
            properties: br#"{"Allocation":{"Size":5},"Instance":{"Plugin":"instance-file"},"Flavor":{"Plugin":"flavor-vanilla"}}"#.to_vec(),
        },
    ];
    assert_eq!(
        render_inspect(Format::Table, None, &specs).unwrap(),
        "ID      SIZE/LOGICAL IDS  INSTANCE PLUGIN  FLAVOR PLUGIN\n\
         cattle  5                 instance-file    flavor-vanilla\n\
         zk      a,b               instance-file    -\n"
    );
    let one: Value =
        serde_json::from_str(&render_inspect(Format::Table, Some("cattle"), &specs).unwrap())
            .unwrap();
    assert_eq!(one["ID"], "cattle");
    assert_eq!(one["Properties"]["Allocation"]["Size"], 5);
    let all: Value =
        serde_json::from_str(&render_inspect(Format::Json, None, &specs).unwrap()).unwrap();
    assert_eq!(all[1]["ID"], "zk");
    let err = render_inspect(Format::Json, Some("nope"), &specs).unwrap_err();
    assert_eq!(err.to_string(), "no group \"nope\"");
}

#[test]
fn ls_shows_phase_and_counts_and_unknown_for_undescribed_groups() {
    let rows = [row("cattle", Some(&status())), row("gone", None)];
    assert_eq!(
        render_ls(Format::Table, &rows).unwrap(),
        "ID      PHASE     DESIRED  ACTUAL  HEALTHY  UP-TO-DATE\n\
         cattle  updating  3        3       2        1\n\
         gone    unknown   0        0       0        0\n"
    );
}

#[test]
fn the_progress_line_reads_like_a_sentence() {
    let mut d = status();
    d.up_to_date = 7;
    d.desired = 10;
    d.healthy = 9;
    d.actual = 10;
    assert_eq!(
        progress_line(&d),
        "cattle: Updating 7/10 up-to-date, 9 healthy, 10 actual"
    );
    d.phase = Phase::Destroying as i32;
    assert_eq!(progress_line(&d), "cattle: Destroying, 10 instances left");
}

fn converged(hash: &str) -> DescribeGroupResponse {
    DescribeGroupResponse {
        id: "cattle".into(),
        phase: Phase::Converged as i32,
        desired: 3,
        actual: 3,
        healthy: 3,
        up_to_date: 3,
        spec_hash: hash.into(),
        converged: true,
        ..Default::default()
    }
}

#[test]
fn the_judge_wants_convergence_on_the_committed_hash() {
    let mut j = Judge::new(Goal::Converged {
        spec_hash: HASH.into(),
    });
    assert!(
        matches!(j.describe(&converged(OLD)), Verdict::Wait),
        "a status from before the commit"
    );
    let mut short = converged(HASH);
    short.actual = 2;
    assert!(matches!(j.describe(&short), Verdict::Wait));
    assert!(matches!(j.describe(&status()), Verdict::Wait));
    assert!(matches!(j.describe(&converged(HASH)), Verdict::Done));
    let mut gone = Judge::new(Goal::Gone);
    assert!(matches!(gone.describe(&converged(HASH)), Verdict::Wait));
}

#[test]
fn the_judge_gives_up_on_a_failing_or_halted_group_seen_twice() {
    let mut failing = status();
    failing.phase = Phase::Failing as i32;
    let mut j = Judge::new(Goal::Converged {
        spec_hash: HASH.into(),
    });
    assert!(matches!(j.describe(&failing), Verdict::Wait));
    let Verdict::Fail(e @ WaitError::Failing { .. }) = j.describe(&failing) else {
        panic!("not failing");
    };
    assert_eq!(
        e.to_string(),
        "group \"cattle\" is failing: provision failed: disk full"
    );

    let mut j = Judge::new(Goal::Converged {
        spec_hash: String::new(),
    });
    j.event(&event("error", "", "boom", Phase::Failing));
    assert!(
        matches!(j.describe(&failing), Verdict::Fail(_)),
        "an event counts as a sighting"
    );

    let mut paused = status();
    paused.phase = Phase::Paused as i32;
    let mut j = Judge::new(Goal::Converged {
        spec_hash: HASH.into(),
    });
    assert!(
        matches!(j.describe(&paused), Verdict::Wait),
        "paused without a reason"
    );
    if let Some(u) = paused.update.as_mut() {
        u.halted_reason = "instance-4 not healthy within 5m".into();
    }
    assert!(matches!(j.describe(&paused), Verdict::Wait));
    let Verdict::Fail(e) = j.describe(&paused) else {
        panic!("not halted");
    };
    assert_eq!(
        e.to_string(),
        "the update of group \"cattle\" is paused: instance-4 not healthy within 5m"
    );
}

#[test]
fn the_judge_gives_up_on_a_paused_group_seen_twice() {
    let mut paused = converged(OLD);
    paused.phase = Phase::Paused as i32;
    paused.paused = Some(PauseInfo {
        by: "alice@ops-1".into(),
        since: ts(T0, 0),
        reason: "kernel upgrade".into(),
    });
    let mut j = Judge::new(Goal::Converged {
        spec_hash: HASH.into(),
    });
    assert!(matches!(j.describe(&paused), Verdict::Wait));
    let Verdict::Fail(e) = j.describe(&paused) else {
        panic!("not paused");
    };
    assert_eq!(
        e.to_string(),
        "group \"cattle\" is paused by alice@ops-1 since 2026-11-25T07:12:03.000Z: kernel upgrade; \
         `ikctl group resume cattle` lets it converge"
    );
    let mut gone = Judge::new(Goal::Gone);
    assert!(matches!(gone.describe(&paused), Verdict::Wait));
    assert!(matches!(gone.describe(&paused), Verdict::Wait));
}

#[test]
fn durations_are_printed_as_written() {
    assert_eq!(human(Duration::from_secs(600)), "10m");
    assert_eq!(human(Duration::from_secs(7200)), "2h");
    assert_eq!(human(Duration::from_secs(90)), "90s");
    assert_eq!(human(Duration::from_millis(300)), "300ms");
}
