//! `ikctl group` against the real group controller.

use crate::support::*;

fn mesh(t: &TestDir) -> Vec<Proc> {
    let home = t.path().display().to_string();
    vec![
        t.start(
            "infrakit-instance-file",
            "instance-file",
            &["--dir", &format!("{home}/instances")],
        ),
        t.start("infrakit-flavor-vanilla", "flavor-vanilla", &[]),
        t.start(
            "infrakit-group",
            "group",
            &["--state-dir", &format!("{home}/state")],
        ),
    ]
}

fn ok(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}\n{}", stdout(o), stderr(o));
    stdout(o)
}

#[test]
fn resize_inspect_events_free_and_errors_through_ikctl() {
    let t = TestDir::new();
    let _m = mesh(&t);
    let spec = "ID: web\nProperties:\n  Allocation: {Size: 2}\n  Instance: {Plugin: instance-file, Properties: {Note: yaml}}\n  Flavor: {Plugin: flavor-vanilla}\n";
    ok(&t.ikctl_stdin(&["group", "commit", "-", "--wait"], Some(spec)));

    let out = ok(&t.ikctl(&["group", "set-size", "web", "4"]));
    assert!(
        out.contains("Group web at 2 instances, scale to 4"),
        "{out}"
    );
    ok(&t.ikctl_stdin(
        &["group", "commit", "-", "--wait"],
        Some(&spec.replace("Size: 2", "Size: 4")),
    ));
    assert_eq!(instance_files(&t.join("instances")), 4);

    let inspect = ok(&t.ikctl(&["group", "inspect", "web", "-o", "json"]));
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let spec_json = if v.is_array() { v[0].clone() } else { v };
    assert_eq!(
        spec_json["Properties"]["Allocation"]["Size"], 4,
        "{spec_json}"
    );

    let ls = ok(&t.ikctl(&["group", "ls", "-q"]));
    assert_eq!(ls.trim(), "web");
    let events = ok(&t.ikctl(&["group", "events", "web"]));
    assert!(events.contains("provisioned"), "{events}");

    let d = ok(&t.ikctl(&["group", "describe", "web", "-o", "json"]));
    let d: serde_json::Value = serde_json::from_str(&d).unwrap();
    for k in [
        "id",
        "phase",
        "desired",
        "actual",
        "healthy",
        "up_to_date",
        "spec_hash",
        "instances",
    ] {
        assert!(d.get(k).is_some(), "describe JSON lacks {k}: {d}");
    }
    let victim = d["instances"][0]["id"].as_str().unwrap().to_string();
    let out = ok(&t.ikctl(&["group", "destroy-instances", "web", &victim]));
    assert!(out.contains(&victim), "{out}");
    wait_until("the group shrinks to 3 without the named instance", || {
        !t.join(&format!("instances/{victim}.json")).exists()
            && instance_files(&t.join("instances")) == 3
    });

    let out = t.ikctl(&["group", "stop-update", "web"]);
    assert_eq!(out.status.code(), Some(1), "no update in progress");
    let out = t.ikctl(&["group", "describe", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no group \"nope\""),
        "{}",
        stderr(&out)
    );

    ok(&t.ikctl(&["group", "free", "web"]));
    assert_eq!(
        instance_files(&t.join("instances")),
        3,
        "free leaves instances alone"
    );
    assert_eq!(
        t.ikctl(&["group", "describe", "web"]).status.code(),
        Some(1)
    );
}

#[test]
fn a_bad_spec_prints_every_violation_and_exits_1() {
    let t = TestDir::new();
    let _m = mesh(&t);
    let spec = r#"{"ID": "bad", "Properties": {"Allocation": {"Size": -1}, "Instance": {"Plugin": "instance-file"}, "Flavor": {"Plugin": "flavor-vanilla", "Properties": {"Inti": []}}, "Updatng": {}}}"#;
    let out = t.ikctl_stdin(&["group", "commit", "-"], Some(spec));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("$.Properties.Allocation.Size"), "{err}");
    assert!(err.contains("$.Properties.Updatng"), "{err}");
}

/// InfraKit's end-to-end script, translated to ikctl, compares these outputs.
#[test]
fn infrakit_scripts_get_the_plan_sentence_the_size_and_the_group_from_the_name() {
    let t = TestDir::new();
    let _m = mesh(&t);
    let spec = "ID: cattle\nProperties:\n  Allocation: {Size: 3}\n  Instance: {Plugin: instance-file, Properties: {Note: v1}}\n  Flavor: {Plugin: flavor-vanilla}\n";
    let out = ok(&t.ikctl_stdin(&["group", "commit", "-", "--pretend"], Some(spec)));
    assert_eq!(
        out,
        "Committing cattle would involve: Managing 3 instances\n"
    );
    ok(&t.ikctl_stdin(&["group", "commit", "-", "--wait"], Some(spec)));
    let v2 = spec.replace("Note: v1", "Note: v2");
    let out = ok(&t.ikctl_stdin(&["group", "commit", "-", "--pretend"], Some(&v2)));
    assert_eq!(
        out,
        "Committing cattle would involve: Performing a rolling update on 3 instances\n"
    );
    let out = ok(&t.ikctl_stdin(&["group", "commit", "-", "--pretend", "-v"], Some(&v2)));
    assert!(out.lines().count() > 1, "-v adds the counts: {out}");

    let out = ok(&t.ikctl(&["group", "-p", "group/cattle", "scale"]));
    assert_eq!(out, "Group cattle at 3 instances\n");
    let out = ok(&t.ikctl(&["group", "scale", "cattle"]));
    assert_eq!(out, "Group cattle at 3 instances\n");
    let out = ok(&t.ikctl(&["group", "-p", "group/cattle", "scale", "5"]));
    assert_eq!(out, "Group cattle at 3 instances, scale to 5\n");
    wait_until("the group grows to 5", || {
        instance_files(&t.join("instances")) == 5
    });
    let out = ok(&t.ikctl(&["group", "-p", "group/cattle", "scale"]));
    assert_eq!(out, "Group cattle at 5 instances\n");

    let ids = ok(&t.ikctl(&["group", "-p", "group/cattle", "describe", "-q"]));
    let victim = ids.lines().next().unwrap().to_string();
    let out = ok(&t.ikctl(&["group", "-p", "group/cattle", "destroy-instances", &victim]));
    assert_eq!(
        out,
        format!("Destroyed {victim}\nGroup cattle now at 4 instances\n")
    );
    wait_until("the named instance is gone and the group holds 4", || {
        !t.join(&format!("instances/{victim}.json")).exists()
            && instance_files(&t.join("instances")) == 4
    });
    ok(&t.ikctl(&["group", "destroy", "cattle", "--wait"]));
}

#[test]
fn pause_and_resume_round_trip_and_describe_shows_the_pause() {
    let t = TestDir::new();
    let _m = mesh(&t);
    let spec = "ID: web\nProperties:\n  Allocation: {Size: 1}\n  Instance: {Plugin: instance-file}\n  Flavor: {Plugin: flavor-vanilla}\n";
    ok(&t.ikctl_stdin(&["group", "commit", "-", "--wait"], Some(spec)));
    let out = ok(&t.ikctl(&["group", "pause", "web", "--reason", "kernel upgrade"]));
    assert!(out.starts_with("Paused web"), "{out}");
    let d = ok(&t.ikctl(&["group", "describe", "web"]));
    assert!(
        d.contains("paused") && d.contains("kernel upgrade") && d.contains('@'),
        "describe shows who paused it and why:\n{d}"
    );
    ok(&t.ikctl(&["group", "pause", "web"]));
    let out = ok(&t.ikctl(&["group", "-p", "group/web", "resume"]));
    assert_eq!(out, "Resumed web\n");
    let events = ok(&t.ikctl(&["group", "events", "web"]));
    assert!(
        events.contains("paused") && events.contains("resumed"),
        "{events}"
    );
    let out = t.ikctl(&["group", "pause", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no group \"nope\""),
        "{}",
        stderr(&out)
    );
}
