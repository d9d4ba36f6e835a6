//! The harness's own guarantees: polling gives up with a message, and every process a test
//! started is gone when its `Mesh` (or `Proc`) is dropped, with its process group when it leads
//! one.

// Tests fail loudly: unwrap and expect are how a broken expectation is reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use infrakit_testkit::{Mesh, Proc, eventually, procfs};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The live (not zombie) processes whose environment carries `IKTK_MARK=<mark>`.
fn marked(mark: &str) -> Vec<u32> {
    procfs::pids()
        .into_iter()
        .filter(|pid| {
            procfs::environ(*pid)
                .get("IKTK_MARK")
                .is_some_and(|m| m == mark)
        })
        .filter(|pid| !procfs::cmdline(*pid).is_empty())
        .collect()
}

fn sleeper(mark: &str, script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script])
        .env("IKTK_MARK", mark)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

#[test]
fn eventually_returns_once_the_condition_holds() {
    let mut n = 0;
    eventually(
        "three polls",
        Duration::from_secs(5),
        Duration::from_millis(1),
        || {
            n += 1;
            n == 3
        },
    );
    assert_eq!(n, 3);
}

#[test]
#[should_panic(expected = "timed out after 50ms waiting for: the impossible")]
fn eventually_fails_the_test_after_the_timeout() {
    eventually(
        "the impossible",
        Duration::from_millis(50),
        Duration::from_millis(5),
        || false,
    );
}

#[test]
fn a_dropped_mesh_kills_what_it_adopted_and_removes_its_directory() {
    let mark = infrakit_runtime::socket::random_hex(6);
    let mut mesh = Mesh::new("iktk");
    let log = mesh.join("sleeper.log");
    let child = sleeper(&mark, "exec sleep 1000")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let i = mesh.adopt(child, log);
    let pid = mesh.proc(i).pid().unwrap();
    mesh.proc(i).assert_running();
    assert_eq!(marked(&mark), vec![pid]);
    let dir = mesh.path().to_path_buf();
    assert!(mesh.socket("x").starts_with(dir.join("p")));
    drop(mesh);
    assert!(marked(&mark).is_empty(), "the adopted process is killed");
    assert!(!dir.exists(), "the directory is removed");
}

#[test]
fn a_process_group_leader_takes_its_group_along() {
    let mark = infrakit_runtime::socket::random_hex(6);
    let dir = tempfile::tempdir().unwrap();
    let child = sleeper(&mark, "sleep 1001 & sleep 1002 & wait")
        .process_group(0)
        .spawn()
        .unwrap();
    let mut p = Proc::adopt_group("tree", child, dir.path().join("none.log"));
    eventually(
        "the tree runs",
        Duration::from_secs(10),
        Duration::from_millis(10),
        || marked(&mark).len() == 3,
    );
    p.kill();
    eventually(
        "the tree is gone",
        Duration::from_secs(10),
        Duration::from_millis(10),
        || marked(&mark).is_empty(),
    );
    assert_eq!(p.pid(), None);
}

#[test]
#[should_panic(expected = "exited early")]
fn a_plugin_that_exits_before_serving_fails_the_test_with_its_log() {
    let mut mesh = Mesh::new("iktk");
    mesh.start(std::path::Path::new("/bin/false"), "nope", &[]);
}
