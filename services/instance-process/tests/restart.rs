//! Instances are independent of the plugin: stopping it (gracefully or with kill -9) leaves them
//! running, and a new run on the same directory re-adopts them by their recorded pid and start
//! time, or reports gone those that ended meanwhile (never mistaking a reused pid for one).

use crate::support::*;
use infrakit_spi::instance::v1::*;
use rustix::process::Signal;
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

#[test]
fn a_restarted_plugin_re_adopts_running_instances_and_reports_dead_ones_gone() {
    let mut env = Env::new();
    let first = env.start_plugin();
    let mut c = env.client();
    let sleeper = json!({"Command": "exec sleep 1000"});
    let a = c.provision(spec(sleeper.clone(), &[("n", "a")])).unwrap();
    let stubborn = c
        .provision(spec(
            json!({"Command": "trap '' TERM; sleep 1005 & wait", "StopGracePeriod": "1s"}),
            &[("n", "b")],
        ))
        .unwrap();
    let dies = c.provision(spec(sleeper, &[("n", "c")])).unwrap();
    let pids: Vec<u32> = [&a, &stubborn, &dies].iter().map(|id| c.pid(id)).collect();
    wait_until("the stubborn tree runs", || group(pids[1]).len() == 2);

    // A graceful stop of the plugin leaves the instances running.
    env.proc(first).stop(Signal::TERM, PATIENCE);
    drop(c);
    assert!(
        pids.iter().all(|p| running(*p)),
        "instances outlive the plugin"
    );

    let second = env.start_plugin();
    let mut c = env.client();
    for (id, pid) in [&a, &stubborn, &dies].iter().zip(&pids) {
        let d = c.find(id).expect("re-adopted");
        assert_eq!(d.state, InstanceState::Running as i32);
        assert_eq!(props(&d)["Pid"].as_u64(), Some(u64::from(*pid)));
    }

    // kill -9 of the plugin; one instance dies while no plugin runs.
    env.proc(second).stop(Signal::KILL, PATIENCE);
    drop(c);
    signal(pids[2], Signal::KILL);
    wait_until("the instance died", || !running(pids[2]));

    env.start_plugin();
    let mut c = env.client();
    assert!(c.find(&dies).is_none(), "the dead instance is gone");
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.instance(&dies).join("instance.json")).unwrap())
            .unwrap();
    assert!(
        rec["Exited"]["Reason"]
            .as_str()
            .unwrap()
            .contains("not running")
    );
    assert_eq!(c.describe(&[]).len(), 2);

    // A re-adopted process (not the plugin's child) that dies is noticed by polling.
    let events = c.watch(&[("n", "a")]);
    let t = Instant::now();
    signal(pids[0], Signal::KILL);
    next_event(&events, InstanceEventKind::Gone, &a);
    eprintln!(
        "timing: kill -9 of a re-adopted process -> GONE in {:?}",
        t.elapsed()
    );

    // Destroy still stops a re-adopted tree, SIGKILL included.
    let members = group(pids[1]);
    let t = Instant::now();
    c.destroy(&stubborn).unwrap();
    assert!(t.elapsed() >= Duration::from_secs(1));
    for p in members {
        assert!(!running(p), "{p} survived");
    }
    assert!(c.describe(&[]).is_empty());
}

#[test]
fn a_reused_pid_is_not_mistaken_for_an_instance_nor_signalled() {
    let mut env = Env::new();
    let first = env.start_plugin();
    let mut c = env.client();
    let id = c
        .provision(spec(json!({"Command": "exec sleep 1000"}), &[]))
        .unwrap();
    let pid = c.pid(&id);
    env.proc(first).stop(Signal::KILL, PATIENCE);
    drop(c);

    // The instance's process ends, and its pid now names a stranger: rewrite the record so
    // that it points at a live process of ours with the instance's (now wrong) start time.
    signal(pid, Signal::KILL);
    wait_until("the instance died", || !running(pid));
    let mut stranger = std::process::Command::new("sleep")
        .arg("1006")
        .process_group(0)
        .spawn()
        .unwrap();
    let path = env.instance(&id).join("instance.json");
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    rec["Pid"] = json!(stranger.id());
    std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();

    env.start_plugin();
    let mut c = env.client();
    let listed = c.find(&id).is_some();
    std::thread::sleep(Duration::from_millis(300));
    let alive = running(stranger.id());
    let _ = stranger.kill();
    let _ = stranger.wait();
    assert!(!listed, "a pid with another start time is not the instance");
    assert!(alive, "the stranger was not signalled");
}

#[test]
fn an_instance_that_died_while_the_plugin_was_down_is_restarted_per_its_policy() {
    let mut env = Env::new();
    let first = env.start_plugin();
    let mut c = env.client();
    let id = c
        .provision(spec(
            json!({"Command": "exec sleep 1000", "Restart": "always"}),
            &[],
        ))
        .unwrap();
    let pid = c.pid(&id);
    env.proc(first).stop(Signal::KILL, PATIENCE);
    drop(c);
    signal(pid, Signal::KILL);
    wait_until("the instance died", || !running(pid));

    env.start_plugin();
    let mut c = env.client();
    wait_until("the instance runs again", || {
        c.find(&id).is_some_and(|d| {
            let p = props(&d);
            d.state == InstanceState::Running as i32
                && p["Restarts"] == 1
                && p["Pid"].as_u64().is_some_and(|p| running(p as u32))
        })
    });
}
