//! Processes that end: reported gone (Describe and WatchInstances) with the log kept, or
//! restarted in place per `Restart`, with backoff.

use crate::support::*;
use infrakit_spi::instance::v1::*;
use rustix::process::Signal;
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn an_exited_process_is_reported_gone_and_its_log_is_kept_until_destroy() {
    let mut env = Env::new();
    env.start_plugin();
    let mut c = env.client();
    let tags = [("suite", "exits")];
    let events = c.watch(&tags);
    assert_eq!(
        events.recv_timeout(PATIENCE).unwrap().kind,
        InstanceEventKind::Resync as i32
    );
    let id = c
        .provision(spec(
            json!({"Command": "echo last words; sleep 0.3; exit 3"}),
            &tags,
        ))
        .unwrap();
    next_event(&events, InstanceEventKind::Created, &id);
    let t = Instant::now();
    let gone = next_event(&events, InstanceEventKind::Gone, &id);
    eprintln!(
        "timing: exit -> GONE event in {:?} (after the 0.3 s the command sleeps)",
        t.elapsed()
    );
    assert_eq!(gone.instance.unwrap().tags["suite"], "exits");
    assert!(c.find(&id).is_none(), "no longer described");

    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.instance(&id).join("instance.json")).unwrap())
            .unwrap();
    assert_eq!(rec["Exited"]["Code"], 3);
    assert!(
        std::fs::read_to_string(env.instance(&id).join("output.log"))
            .unwrap()
            .contains("last words")
    );
    c.destroy(&id).unwrap();
    assert!(!env.instance(&id).exists(), "Destroy removes what was kept");

    // on-failure: a clean exit ends the instance too.
    let id = c
        .provision(spec(
            json!({"Command": "exit 0", "Restart": "on-failure"}),
            &tags,
        ))
        .unwrap();
    next_event(&events, InstanceEventKind::Gone, &id);
}

#[test]
fn a_killed_process_with_restart_always_is_restarted_in_place() {
    let mut env = Env::new();
    env.start_plugin();
    let mut c = env.client();
    let id = c
        .provision(spec(
            json!({"Command": "exec sleep 1000", "Restart": "always"}),
            &[],
        ))
        .unwrap();
    let first = c.pid(&id);
    let t = Instant::now();
    signal(first, Signal::KILL);
    wait_until("a new process", || {
        c.find(&id).is_some_and(|d| {
            let p = props(&d);
            d.state == InstanceState::Running as i32
                && p["Restarts"] == 1
                && p["Pid"].as_u64() != Some(u64::from(first))
        })
    });
    eprintln!("timing: kill -9 -> restarted in place in {:?}", t.elapsed());
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.instance(&id).join("instance.json")).unwrap())
            .unwrap();
    assert_eq!(rec["Pid"].as_u64(), Some(u64::from(c.pid(&id))));
}

#[test]
fn a_crash_looping_command_is_restarted_with_backoff() {
    let mut env = Env::new();
    env.start_plugin();
    let mut c = env.client();
    let id = c
        .provision(spec(
            json!({"Command": "echo run >> ../runs; exit 1", "Restart": "on-failure"}),
            &[],
        ))
        .unwrap();
    let runs = env.instance(&id).join("runs");
    let count = || {
        std::fs::read_to_string(&runs)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    let t = Instant::now();
    wait_until("a few restarts", || count() >= 4);
    let took = t.elapsed();
    // Waits of 0.25, 0.5 and 1 s before the 2nd, 3rd and 4th runs.
    assert!(
        took >= Duration::from_millis(1500),
        "restarts too fast: {took:?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(count() <= 5, "spinning: {} runs", count());
    let d = c
        .find(&id)
        .expect("still an instance while it is restarted");
    assert!(props(&d)["Restarts"].as_u64().unwrap() >= 3);
    c.destroy(&id).unwrap();
    assert!(c.find(&id).is_none());
}

#[test]
fn only_the_newest_ended_instances_keep_their_directory() {
    let mut env = Env::new();
    env.start_plugin_with(&["--keep-exited", "2"]);
    let mut c = env.client();
    let events = c.watch(&[]);
    let mut ids = Vec::new();
    for _ in 0..4 {
        let id = c
            .provision(spec(json!({"Command": "exit 0"}), &[]))
            .unwrap();
        next_event(&events, InstanceEventKind::Gone, &id);
        ids.push(id);
    }
    wait_until("two directories left", || {
        std::fs::read_dir(env.instances()).unwrap().count() == 2
    });
    assert!(env.instance(&ids[3]).exists(), "the newest is kept");
    assert!(!env.instance(&ids[0]).exists(), "the oldest is pruned");
}
