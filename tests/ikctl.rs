//! ikctl against real plugins: listing, routing by name, instance and flavor calls, errors.

use crate::support::*;
use std::time::Duration;

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn plugin_ls_shows_every_plugin_with_health_with_and_without_discovery() {
    let t = TestDir::new();
    let _f = t.start(
        "infrakit-instance-file",
        "instance-file",
        &["--dir", &t.join("i").display().to_string()],
    );
    let _v = t.start("infrakit-flavor-vanilla", "flavor-vanilla", &[]);
    let out = t.ikctl(&["plugin", "ls", "-o", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["flavor-vanilla", "instance-file"]);
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|p| p["health"] == "serving"),
        "{v}"
    );

    let _d = t.start("infrakit-discovery", "discovery", &[]);
    wait_until("discovery lists all three", || {
        let out = t.ikctl(&["plugin", "ls", "-q"]);
        stdout(&out).lines().count() == 3
    });
    let out = t.ikctl(&["plugin", "ls"]);
    let table = stdout(&out);
    assert!(
        table.contains("HEALTH") && table.contains("Instance") && table.contains("serving"),
        "{table}"
    );
    let out = t.ikctl(&["plugin", "info", "flavor-vanilla", "-o", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("infrakit.flavor.v1.Flavor"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_wrong_plugin_name_exits_3_listing_names_and_suggesting_the_nearest() {
    let t = TestDir::new();
    let _f = t.start(
        "infrakit-instance-file",
        "instance-file",
        &["--dir", &t.join("i").display().to_string()],
    );
    let out = t.ikctl(&["instance", "--plugin", "instance-fil", "describe"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("did you mean \"instance-file\""), "{err}");
    assert!(err.contains("running: instance-file"), "{err}");
    let out = t.ikctl(&["instance", "describe"]);
    assert_eq!(code(&out), 2, "a missing --plugin is a usage error");
}

#[test]
fn instances_are_provisioned_described_labelled_and_destroyed_through_ikctl() {
    let t = TestDir::new();
    let inst = t.join("i");
    let _f = t.start(
        "infrakit-instance-file",
        "instance-file",
        &["--dir", &inst.display().to_string()],
    );
    let yaml = "Properties:\n  Note: from yaml\nTags:\n  tier: web\nInit: echo hi\n";
    let out = t.ikctl_stdin(
        &["instance", "--plugin", "instance-file", "provision", "-"],
        Some(yaml),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    assert!(inst.join(format!("{id}.json")).exists());

    let out = t.ikctl(&[
        "instance",
        "--plugin",
        "instance-file",
        "label",
        &id,
        "tier=db",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = t.ikctl(&[
        "instance",
        "--plugin",
        "instance-file",
        "describe",
        "--tags",
        "tier=db",
        "--properties",
        "-o",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["id"], id.as_str());
    assert_eq!(v[0]["properties"]["Properties"]["Note"], "from yaml");
    assert_eq!(v[0]["properties"]["Init"], "echo hi");

    let out = t.ikctl(&["instance", "--plugin", "instance-file", "destroy", &id]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(instance_files(&inst), 0);
    let out = t.ikctl(&["instance", "--plugin", "instance-file", "destroy", &id]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains(&id), "{}", stderr(&out));
}

#[test]
fn flavor_calls_show_field_violations_and_prepare_merges_the_spec() {
    let t = TestDir::new();
    let _v = t.start("infrakit-flavor-vanilla", "flavor-vanilla", &[]);
    std::fs::write(t.join("bad.json"), r#"{"Inti": ["x"], "Tags": {"n": 1}}"#).unwrap();
    let out = t.ikctl(&[
        "flavor",
        "--plugin",
        "flavor-vanilla",
        "validate",
        &t.join("bad.json").display().to_string(),
        "--size",
        "3",
    ]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains("$.properties.Inti") && err.contains("did you mean \"Init\""),
        "{err}"
    );
    assert!(err.contains("$.properties.Tags.n"), "{err}");

    std::fs::write(
        t.join("flavor.yaml"),
        "Init:\n  - echo two\nTags:\n  tier: web\n",
    )
    .unwrap();
    std::fs::write(
        t.join("spec.json"),
        r#"{"Properties": {}, "Init": "echo one", "Tags": {"a": "b"}}"#,
    )
    .unwrap();
    let out = t.ikctl(&[
        "flavor",
        "--plugin",
        "flavor-vanilla",
        "prepare",
        &t.join("flavor.yaml").display().to_string(),
        "--spec",
        &t.join("spec.json").display().to_string(),
        "--size",
        "1",
        "-o",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Init"], "echo one\necho two");
    assert_eq!(v["Tags"]["tier"], "web");
    assert_eq!(v["Tags"]["a"], "b");
    let out = t.ikctl(&[
        "flavor",
        "--plugin",
        "flavor-vanilla",
        "healthy",
        &t.join("flavor.yaml").display().to_string(),
        "--id",
        "x",
    ]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("HEALTHY"), "{}", stdout(&out));
}

#[test]
fn a_plugin_that_freezes_or_dies_while_ikctl_talks_to_it_gives_a_clear_error() {
    let t = TestDir::new();
    let mut f = t.start(
        "infrakit-instance-file",
        "instance-file",
        &["--dir", &t.join("i").display().to_string()],
    );
    // Frozen: the call times out with a clear message.
    f.signal("STOP");
    let out = t.ikctl(&[
        "--timeout",
        "1s",
        "instance",
        "--plugin",
        "instance-file",
        "describe",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("did not answer"), "{}", stderr(&out));
    // Killed in the middle of a call.
    let child = std::process::Command::new(bin("ikctl"))
        .args([
            "--timeout",
            "20s",
            "instance",
            "--plugin",
            "instance-file",
            "describe",
        ])
        .env("INFRAKIT_PLUGINS_DIR", t.plugins())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let ikctl_pid = child.id();
    wait_until("ikctl has connected to the frozen plugin", || {
        has_socket(ikctl_pid)
    });
    f.signal("KILL");
    f.wait_exit(Duration::from_secs(5));
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("instance-file"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    // Dead, socket left behind: refused, clearly.
    let out = t.ikctl(&["instance", "--plugin", "instance-file", "describe"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Connection refused") || stderr(&out).contains("connection refused"),
        "{}",
        stderr(&out)
    );
}

/// True when process `pid` holds a socket (ikctl opens none before it dials the plugin).
fn has_socket(pid: u32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .any(|l| l.to_string_lossy().starts_with("socket:"))
        })
        .unwrap_or(false)
}

#[test]
fn version_and_completions_work_without_any_plugin() {
    let t = TestDir::new();
    let out = t.ikctl(&["version", "-o", "json"]);
    assert_eq!(code(&out), 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["name"], "ikctl");
    let out = t.ikctl(&["completions", "bash"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("ikctl"));
}

#[test]
fn every_plugin_of_the_workspace_shows_in_plugin_ls_with_its_spi_and_health() {
    let t = TestDir::new();
    let dir = |d: &str| t.join(d).display().to_string();
    let terraform =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-tools/bin/terraform");
    assert!(
        terraform.exists(),
        "{} is missing: run bash tests/setup/terraform.sh",
        terraform.display()
    );
    let mut plugins = vec![
        t.start(
            "infrakit-instance-file",
            "instance-file",
            &["--dir", &dir("file")],
        ),
        t.start(
            "infrakit-instance-process",
            "instance-process",
            &["--dir", &dir("proc")],
        ),
        t.start(
            "infrakit-instance-terraform",
            "instance-terraform",
            &[
                "--dir",
                &dir("tf"),
                "--terraform",
                &terraform.display().to_string(),
            ],
        ),
        t.start(
            "infrakit-instance-vagrant",
            "instance-vagrant",
            &["--dir", &dir("vagrant")],
        ),
        t.start("infrakit-flavor-vanilla", "flavor-vanilla", &[]),
        t.start("infrakit-flavor-zookeeper", "flavor-zookeeper", &[]),
        t.start("infrakit-group", "group", &["--state-dir", &dir("state")]),
    ];
    // The Docker plugins need an engine to start.
    let docker = std::env::var_os("INFRAKIT_SKIP_DOCKER").is_none();
    if docker {
        plugins.push(t.start("infrakit-instance-docker", "instance-docker", &[]));
        plugins.push(t.start("infrakit-flavor-swarm", "flavor-swarm", &[]));
    }
    let out = t.ikctl(&["plugin", "ls", "-o", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed: Vec<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["health"], "serving", "{p}");
            (
                p["name"].as_str().unwrap().to_string(),
                p["spis"].to_string(),
            )
        })
        .collect();
    let mut expected = vec![
        ("flavor-vanilla", "Flavor"),
        ("flavor-zookeeper", "Flavor"),
        ("group", "Group"),
        ("instance-file", "Instance"),
        ("instance-process", "Instance"),
        ("instance-terraform", "Instance"),
        ("instance-vagrant", "Instance"),
    ];
    if docker {
        expected.push(("flavor-swarm", "Flavor"));
        expected.push(("instance-docker", "Instance"));
        expected.sort();
    }
    assert_eq!(
        listed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        expected.iter().map(|(n, _)| *n).collect::<Vec<_>>()
    );
    for ((name, spis), (_, spi)) in listed.iter().zip(&expected) {
        assert!(spis.contains(spi), "{name} serves {spis}, not {spi}");
    }
    drop(plugins);
}
