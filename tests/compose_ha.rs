//! The README's "High availability" commands, run as written against the local engine: three
//! group controllers on a three-member etcd cluster, the owner of a group killed and replaced.

use crate::support::*;
use std::process::Command;

const FILE: &str = "deploy/docker-compose.ha.yml";
const PROJECT: &str = "infrakit-ha";

/// How long the commands may take in all, cold build included; the test then fails and the
/// teardown still runs (a test killed by the runner's timeout would leave everything behind).
const DEADLINE: &str = "1500";

/// Removes whatever the deployment left, also when the test fails half-way.
struct Teardown;

impl Drop for Teardown {
    fn drop(&mut self) {
        let _ = Command::new("docker-compose")
            .args(["-f", FILE, "-p", PROJECT, "down", "-v", "--remove-orphans"])
            .current_dir(repo())
            .output();
    }
}

/// The `OWNER  NAME (epoch N)` lines of the describe outputs, in order.
fn owners(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("OWNER")?.trim();
            let (name, epoch) = rest.split_once(" (epoch ")?;
            let epoch = epoch.strip_suffix(')')?.parse().ok()?;
            Some((name.to_string(), epoch))
        })
        .collect()
}

#[test]
fn a_killed_controller_s_group_is_taken_over_healed_and_rolled_and_nothing_is_left() {
    if std::env::var_os("INFRAKIT_SKIP_DOCKER").is_some() {
        eprintln!("skipped: INFRAKIT_SKIP_DOCKER is set");
        return;
    }
    let _teardown = Teardown;
    let script = readme_block("compose-ha");
    assert!(
        script.contains("docker-compose -f deploy/docker-compose.ha.yml -p infrakit-ha up -d"),
        "{script}"
    );
    let out = run(Command::new("timeout")
        .args(["--kill-after=10s", DEADLINE, "bash", "-e", "-c", &script])
        .current_dir(repo())
        .env_remove("INFRAKIT_PLUGINS_DIR"));
    let text = stdout(&out);
    if !out.status.success() {
        panic!(
            "the compose HA commands failed ({:?}):\n{text}\n{}\n{}",
            out.status,
            stderr(&out),
            compose_state(FILE, PROJECT)
        );
    }
    for name in [
        "group-1",
        "group-2",
        "group-3",
        "instance-file",
        "flavor-vanilla",
    ] {
        assert!(
            text.contains(name),
            "{name} missing from plugin ls:\n{text}"
        );
    }
    // Four describes: through group-2 and group-3 before the kill, then twice through a survivor.
    let owners = owners(&text);
    assert_eq!(owners.len(), 4, "{text}");
    let (first, epoch) = &owners[0];
    assert_eq!(
        &owners[1], &owners[0],
        "both controllers answer with the same owner:\n{text}"
    );
    let (next, next_epoch) = &owners[2];
    assert_ne!(
        next, first,
        "the killed owner still owns the group:\n{text}"
    );
    assert!(next_epoch > epoch, "the epoch grew with the owner:\n{text}");
    // The last describe, after the roll to v2: three members, all up to date, converged.
    let last = text.rsplit("OWNER").next().unwrap_or_default();
    for line in ["DESIRED     3", "ACTUAL      3", "UP-TO-DATE  3"] {
        assert!(
            last.contains(line),
            "{line:?} missing after the roll:\n{text}"
        );
    }
    let left = |args: &[&str]| stdout(&run(Command::new("docker").args(args)));
    assert_eq!(
        left(&[
            "ps",
            "-aq",
            "--filter",
            "label=com.docker.compose.project=infrakit-ha"
        ])
        .trim(),
        ""
    );
    assert_eq!(
        left(&["volume", "ls", "-q", "--filter", "name=infrakit-ha-"]).trim(),
        ""
    );
    assert_eq!(
        left(&["network", "ls", "-q", "--filter", "name=infrakit-ha_"]).trim(),
        ""
    );
}
