//! The README's commands, run as written: the quickstart, the seed-demo tutorial, and every
//! block marked `<!-- NAME:begin -->` that needs no Docker, Terraform, Vagrant or ZooKeeper
//! (those run in their plugins' own tests, and the compose blocks in `compose.rs` and `compose_ha.rs`).

use crate::support::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_quickstart_commits_a_group_and_converges() {
    let t = TestDir::new();
    let out = run(Command::new("bash")
        .arg(repo().join("deploy/quickstart.sh"))
        .env("IK_HOME", t.path())
        .env("IK_BIN_DIR", bin_dir())
        .env("IK_QUICKSTART_EXIT", "1")
        .env_remove("INFRAKIT_PLUGINS_DIR"));
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("Committed cattle: Managing 5 instances"),
        "{text}"
    );
    assert!(text.contains("converged"), "{text}");
    assert_eq!(instance_files(&t.join("instances")), 5);
    assert!(
        !t.join("plugins/group.sock").exists(),
        "the plugins are stopped on exit"
    );
}

#[test]
fn the_readme_tutorial_runs_as_written() {
    let t = TestDir::new();
    let home = t.path().display().to_string();
    let _f = t.start(
        "infrakit-instance-file",
        "instance-file",
        &["--dir", &format!("{home}/instances")],
    );
    let _v = t.start("infrakit-flavor-vanilla", "flavor-vanilla", &[]);
    let _g = t.start(
        "infrakit-group",
        "group",
        &["--state-dir", &format!("{home}/state")],
    );
    let script = readme_block("tutorial");
    assert!(
        script.contains("ikctl group commit deploy/examples/cattle2.json --dry-run"),
        "{script}"
    );
    let out = run(Command::new("bash")
        .args(["-e", "-c", &script])
        .current_dir(repo())
        .env("IK_HOME", t.path())
        .env("IK_BIN_DIR", bin_dir())
        .env("INFRAKIT_PLUGINS_DIR", t.plugins()));
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "the tutorial failed:\n{text}\n{}",
        stderr(&out)
    );
    assert!(
        text.contains(
            "Committing cattle would involve: Performing a rolling update on 5 instances, then adding 5 instances to increase the group size to 10"
        ),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.trim() == "10"),
        "the deleted instances came back:\n{text}"
    );
    assert!(text.contains("\"phase\": \"converged\""), "{text}");
    assert_eq!(
        instance_files(&t.join("instances")),
        0,
        "destroyed at the end"
    );
}

/// How long one README session may run before it is stopped and the test fails.
const SESSION_LIMIT: Duration = Duration::from_secs(180);

/// What a README session printed.
struct Session {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs the README's marked ```sh blocks `blocks`, in order, as one `bash -e` session from the
/// repository root, the way a reader pastes them: `IK_HOME` is the test's directory and
/// `IK_BIN_DIR` the test build. The plugins the blocks start in the background share the
/// session's process group, which is stopped at the end whatever happened.
// Waiting for the session polls with a short sleep; readiness is never assumed from a fixed wait.
#[allow(clippy::disallowed_methods)]
fn session(t: &TestDir, blocks: &[&str], path_prefix: Option<&Path>) -> Session {
    use std::os::unix::process::CommandExt;
    let script = blocks
        .iter()
        .map(|b| readme_block(b))
        .collect::<Vec<_>>()
        .join("\n");
    let (out, err) = (t.join("session.out"), t.join("session.err"));
    let mut cmd = Command::new("bash");
    cmd.args(["-e", "-c", &script])
        .current_dir(repo())
        .env("IK_HOME", t.path())
        .env("IK_BIN_DIR", bin_dir())
        .env("HOME", t.path())
        .env_remove("INFRAKIT_PLUGINS_DIR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .process_group(0);
    if let Some(dir) = path_prefix {
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{path}", dir.display()));
    }
    let mut group = ProcessGroup(cmd.spawn().expect("bash"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = group.0.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > SESSION_LIMIT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(group);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let mut stderr = read(&err);
    if status.is_none() {
        stderr.push_str(&format!("\n(stopped after {SESSION_LIMIT:?})"));
    }
    Session {
        ok: status.is_some_and(|s| s.success()),
        stdout: read(&out),
        stderr,
    }
}

/// A session's process group, sent SIGTERM when dropped (the plugins shut down gracefully).
struct ProcessGroup(std::process::Child);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

/// The README's ```json block between `<!-- NAME:begin -->` and `<!-- NAME:end -->`, parsed.
fn readme_json(name: &str) -> serde_json::Value {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let begin = format!("<!-- {name}:begin -->");
    let start = readme
        .find(&begin)
        .unwrap_or_else(|| panic!("{begin} missing"));
    let text: Vec<&str> = readme[start..]
        .lines()
        .skip_while(|l| !l.starts_with("```json"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .collect();
    serde_json::from_str(&text.join("\n")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn file_json(path: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(repo().join(path)).unwrap()).unwrap()
}

#[test]
fn the_readme_example_specs_are_the_shipped_files() {
    assert_eq!(
        readme_json("workers-spec"),
        file_json("deploy/examples/workers.json")
    );
    assert_eq!(
        readme_json("swarm-spec"),
        file_json("deploy/examples/swarm-workers.json")
    );
}

#[test]
fn the_readme_plugins_and_ikctl_blocks_run_as_written() {
    let t = TestDir::new();
    let s = session(&t, &["plugins", "ikctl"], None);
    assert!(s.ok, "the ikctl block failed:\n{}\n{}", s.stdout, s.stderr);
    for plugin in ["discovery", "instance-file", "flavor-vanilla", "group"] {
        assert!(
            s.stdout.contains(plugin),
            "plugin ls lists {plugin}:\n{}",
            s.stdout
        );
    }
    let prepared = s
        .stdout
        .find("\"Init\"")
        .map(|i| &s.stdout[i..])
        .unwrap_or("");
    assert!(
        prepared.contains("echo booting") && prepared.contains("hello from"),
        "prepare appends the flavor's Init:\n{}",
        s.stdout
    );
    assert!(s.stdout.contains("UNHEALTHY"), "{}", s.stdout);
    assert_eq!(
        instance_files(&t.join("instances")),
        0,
        "the instance was destroyed"
    );
}

#[test]
fn the_readme_group_walkthrough_runs_as_written() {
    let t = TestDir::new();
    let s = session(&t, &["plugins", "groups"], None);
    assert!(
        s.ok,
        "the group walkthrough failed:\n{}\n{}",
        s.stdout, s.stderr
    );
    let out = &s.stdout;
    for line in [
        "Committing workers would involve: Managing 5 instances",
        "Group workers at 4 instances",
        "Group workers at 4 instances, scale to 5",
        "Resumed workers",
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} in:\n{out}");
    }
    assert!(
        out.contains("maintenance window"),
        "describe shows the pause:\n{out}"
    );
    assert_eq!(
        instance_files(&t.join("instances")),
        0,
        "destroyed at the end"
    );
}

#[test]
fn the_readme_process_block_runs_as_written() {
    let t = TestDir::new();
    let s = session(&t, &["plugins", "process"], None);
    assert!(
        s.ok,
        "the process block failed:\n{}\n{}",
        s.stdout, s.stderr
    );
    assert!(s.stdout.contains("Pid"), "{}", s.stdout);
    let is_time = |w: &str| w.len() == 8 && w.as_bytes()[2] == b':' && w.as_bytes()[5] == b':';
    let dates = s
        .stdout
        .lines()
        .filter(|l| l.split_whitespace().any(is_time))
        .count();
    assert!(dates >= 2, "the process wrote the date:\n{}", s.stdout);
    assert!(s.stdout.contains("destroyed instance-"), "{}", s.stdout);
}

#[test]
fn the_readme_grpcurl_block_runs_as_written() {
    let grpcurl = tool("grpcurl");
    let t = TestDir::new();
    let s = session(&t, &["plugins", "grpcurl"], grpcurl.parent());
    assert!(
        s.ok,
        "the grpcurl block failed:\n{}\n{}",
        s.stdout, s.stderr
    );
    assert!(
        s.stdout.contains("infrakit.instance.v1.Instance"),
        "{}",
        s.stdout
    );
    assert_eq!(instance_files(&t.join("instances")), 1, "one provisioned");
}
