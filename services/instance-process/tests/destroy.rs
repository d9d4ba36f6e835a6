//! Destroy: SIGTERM to the whole process group, SIGKILL after the grace period, the directory
//! removed, and unknown IDs accepted.

use crate::support::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn destroy_kills_a_tree_that_ignores_sigterm_once_the_grace_period_is_over() {
    let mut env = Env::new();
    env.start_plugin();
    let mut c = env.client();
    let id = c
        .provision(spec(
            json!({"Command": "trap '' TERM; sleep 1001 & sleep 1002 & wait", "StopGracePeriod": "1s"}),
            &[],
        ))
        .unwrap();
    let pid = c.pid(&id);
    wait_until("the shell and its two children run", || {
        group(pid).len() == 3
    });
    let members = group(pid);

    let t = Instant::now();
    c.destroy(&id).unwrap();
    let took = t.elapsed();
    eprintln!("timing: Destroy of a tree ignoring SIGTERM (grace 1s) took {took:?}");
    assert!(
        took >= Duration::from_secs(1),
        "SIGKILL came early: {took:?}"
    );
    assert!(took < Duration::from_secs(4), "SIGKILL came late: {took:?}");
    for p in members {
        assert!(!running(p), "{p} of the group survived");
    }
    assert!(c.find(&id).is_none());
    assert!(!env.instance(&id).exists(), "the directory is removed");
    c.destroy(&id).expect("a second Destroy is fine");
}

#[test]
fn destroy_stops_a_cooperative_tree_with_its_grandchildren_at_once() {
    let mut env = Env::new();
    env.start_plugin();
    let mut c = env.client();
    let id = c
        .provision(spec(
            json!({"Command": "sh -c 'sleep 1003 & sleep 1004 & wait' & wait"}),
            &[],
        ))
        .unwrap();
    let pid = c.pid(&id);
    wait_until("two shells and two grandchildren run", || {
        group(pid).len() == 4
    });
    let members = group(pid);
    let t = Instant::now();
    c.destroy(&id).unwrap();
    let took = t.elapsed();
    eprintln!("timing: Destroy of a cooperative tree of 4 processes took {took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    for p in members {
        assert!(!running(p), "{p} of the group survived");
    }
}

#[test]
fn destroy_of_an_unknown_id_succeeds_and_never_touches_other_paths() {
    let mut env = Env::new();
    env.start_plugin();
    let mut c = env.client();
    c.destroy("instance-0000000000000000").unwrap();
    let outside = env.join("keep");
    std::fs::create_dir_all(&outside).unwrap();
    c.destroy("../keep").unwrap();
    assert!(outside.exists());
    let err = c.destroy("").unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
}

#[test]
fn provision_returns_a_running_instance_and_destroy_is_quick() {
    let mut env = Env::new();
    env.start_plugin();
    let mut c = env.client();
    let (mut provisions, mut destroys) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        let t = Instant::now();
        let id = c
            .provision(spec(json!({"Command": "exec sleep 1000"}), &[]))
            .unwrap();
        provisions.push(t.elapsed());
        let pid = c.pid(&id);
        assert!(running(pid), "running when Provision returns");
        let t = Instant::now();
        c.destroy(&id).unwrap();
        destroys.push(t.elapsed());
        assert!(!running(pid));
    }
    provisions.sort();
    destroys.sort();
    eprintln!(
        "timing: Provision (spawned, running) median {:?} max {:?}; Destroy (SIGTERM honoured) median {:?} max {:?}",
        provisions[10], provisions[19], destroys[10], destroys[19]
    );
    assert!(provisions[10] < Duration::from_millis(500));
    assert!(destroys[10] < Duration::from_millis(500));
}
