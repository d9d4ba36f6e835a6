//! The README's commands, run as written: the quickstart and the seed-demo tutorial.

use crate::support::*;
use std::process::Command;

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
