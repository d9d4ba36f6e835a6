//! The README's "Deploy with docker-compose" commands, run as written against the local engine.

use crate::support::*;
use std::process::Command;

/// Removes whatever the deployment left, also when the test fails half-way.
struct Teardown;

impl Drop for Teardown {
    fn drop(&mut self) {
        let _ = Command::new("docker-compose")
            .args([
                "-f",
                "deploy/docker-compose.yml",
                "-p",
                "infrakit",
                "down",
                "-v",
                "--remove-orphans",
            ])
            .current_dir(repo())
            .output();
        let _ = Command::new("sh")
            .args([
                "-c",
                "docker rm -f $(docker ps -aq --filter label=infrakit.group=web) 2>/dev/null",
            ])
            .output();
    }
}

#[test]
fn the_compose_deployment_heals_resumes_rolls_and_leaves_nothing_behind() {
    if std::env::var_os("INFRAKIT_SKIP_DOCKER").is_some() {
        eprintln!("skipped: INFRAKIT_SKIP_DOCKER is set");
        return;
    }
    let _teardown = Teardown;
    let script = readme_block("compose");
    assert!(
        script.contains("docker-compose -f deploy/docker-compose.yml -p infrakit up -d"),
        "{script}"
    );
    let out = run(Command::new("bash")
        .args(["-e", "-c", &script])
        .current_dir(repo())
        .env_remove("INFRAKIT_PLUGINS_DIR"));
    let text = stdout(&out);
    if !out.status.success() {
        panic!(
            "the compose commands failed:\n{text}\n{}\n{}",
            stderr(&out),
            compose_state("deploy/docker-compose.yml", "infrakit")
        );
    }
    for name in [
        "discovery",
        "group",
        "instance-docker",
        "instance-file",
        "flavor-vanilla",
    ] {
        assert!(
            text.contains(name),
            "{name} missing from plugin ls:\n{text}"
        );
    }
    // The `docker ps --format '{{.Names}} {{.Image}}'` lines after the roll.
    let rolled: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("web-") && l.contains(" infrakit-demo/busybox:"))
        .collect();
    assert_eq!(rolled.len(), 3, "{text}");
    assert!(
        rolled
            .iter()
            .all(|l| l.ends_with("infrakit-demo/busybox:2")),
        "{text}"
    );
    let left = |args: &[&str]| stdout(&run(Command::new("docker").args(args)));
    assert_eq!(
        left(&[
            "ps",
            "-aq",
            "--filter",
            "label=com.docker.compose.project=infrakit"
        ])
        .trim(),
        ""
    );
    assert_eq!(
        left(&["ps", "-aq", "--filter", "label=infrakit.group=web"]).trim(),
        ""
    );
    assert_eq!(
        left(&["volume", "ls", "-q", "--filter", "name=infrakit-"]).trim(),
        ""
    );
    assert_eq!(
        left(&["network", "ls", "-q", "--filter", "name=infrakit_"]).trim(),
        ""
    );
}
