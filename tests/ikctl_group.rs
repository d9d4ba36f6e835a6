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
