//! Provision (a command, an Init script), the environment and working directory of the
//! process, its log, Describe filters, Label, the provision token, and Validate's errors.

use crate::support::*;
use infrakit_spi::instance::v1::*;
use serde_json::json;
use std::collections::HashMap;
use std::time::Instant;

fn read_env(path: &std::path::Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_command_runs_in_its_work_directory_with_the_contract_environment_and_logs_its_output() {
    let mut env = Env::new();
    env.start_plugin();
    let mut c = env.client();
    let mut s = spec(
        json!({"Command": "env > env.txt; pwd > pwd.txt; echo to-stdout; echo to-stderr >&2; exec sleep 1000",
               "Env": {"MODE": "demo"}}),
        &[
            ("tier", "web"),
            ("infrakit.logical-id", "x"),
            ("infrakit.group", "g1"),
        ],
    );
    s.logical_id = Some("db-1".into());
    let t = Instant::now();
    let id = c.provision(s).unwrap();
    let provisioned = t.elapsed();
    let work = env.instance(&id).join("work");
    wait_until("the command wrote its environment", || {
        std::fs::read_to_string(work.join("pwd.txt")).is_ok_and(|s| s.ends_with('\n'))
    });
    eprintln!(
        "timing: Provision returned in {provisioned:?}; the command had run in {:?}",
        t.elapsed()
    );

    let vars = read_env(&work.join("env.txt"));
    assert_eq!(vars["INFRAKIT_INSTANCE_ID"], id);
    assert_eq!(
        vars["INFRAKIT_INSTANCE_DIR"],
        env.instance(&id).display().to_string()
    );
    assert_eq!(vars["INFRAKIT_LOGICAL_ID"], "db-1");
    assert_eq!(vars["INFRAKIT_TAG_TIER"], "web");
    assert_eq!(vars["INFRAKIT_TAG_INFRAKIT_LOGICAL_ID"], "x");
    assert_eq!(vars["INFRAKIT_TAG_INFRAKIT_GROUP"], "g1");
    assert_eq!(vars["MODE"], "demo");
    let tags: HashMap<String, String> = serde_json::from_str(&vars["INFRAKIT_TAGS"]).unwrap();
    assert_eq!(
        tags,
        tag_map(&[
            ("tier", "web"),
            ("infrakit.logical-id", "x"),
            ("infrakit.group", "g1")
        ])
    );
    assert!(
        !vars.contains_key("INFRAKIT_LISTEN"),
        "the plugin's listen address is not passed on"
    );
    assert!(vars.contains_key("PATH"), "the plugin's environment is");
    assert_eq!(
        std::fs::read_to_string(work.join("pwd.txt"))
            .unwrap()
            .trim(),
        std::fs::canonicalize(&work).unwrap().display().to_string()
    );

    let log = env.instance(&id).join("output.log");
    wait_until("both streams in the log", || {
        std::fs::read_to_string(&log)
            .is_ok_and(|l| l.contains("to-stdout") && l.contains("to-stderr"))
    });

    let d = c.find(&id).expect("listed");
    assert_eq!(d.state, InstanceState::Running as i32);
    assert_eq!(d.logical_id.as_deref(), Some("db-1"));
    assert_eq!(d.tags["tier"], "web");
    let p = props(&d);
    let pid = p["Pid"].as_u64().unwrap() as u32;
    assert_eq!(p["Log"], log.display().to_string());
    let stat = infrakit_instance_process::procfs::stat(pid).unwrap();
    assert_eq!(
        stat.pgrp as u32, pid,
        "the instance leads its own process group"
    );
    assert_eq!(
        std::fs::read_to_string(env.instance(&id).join("pid"))
            .unwrap()
            .trim(),
        pid.to_string()
    );

    c.destroy(&id).unwrap();
    assert!(!running(pid));
    assert!(!env.instance(&id).exists());
}

#[test]
fn the_init_script_runs_when_properties_have_no_command() {
    let mut env = Env::new();
    env.start_plugin();
    let mut c = env.client();
    let mut s = spec(json!({"StopGracePeriod": "1s"}), &[]);
    s.init = "#!/bin/sh\necho \"from init as $0\" > init.txt\nexec sleep 1000\n".into();
    let id = c.provision(s).unwrap();
    let out = env.instance(&id).join("work/init.txt");
    wait_until("the Init script ran", || {
        std::fs::read_to_string(&out).is_ok_and(|s| s.ends_with('\n'))
    });
    let script = env.instance(&id).join("init.sh");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap().trim(),
        format!("from init as {}", script.display())
    );
    assert!(c.find(&id).is_some());
}

#[test]
fn describe_filters_by_every_tag_and_label_changes_tags() {
    let mut env = Env::new();
    env.start_plugin();
    let mut c = env.client();
    let cmd = json!({"Command": "sleep 1000"});
    let a = c
        .provision(spec(cmd.clone(), &[("group", "a"), ("tier", "web")]))
        .unwrap();
    let b = c
        .provision(spec(cmd.clone(), &[("group", "a"), ("tier", "db")]))
        .unwrap();
    let other = c.provision(spec(cmd, &[("group", "b")])).unwrap();
    let ids = |c: &mut Client, tags: &[(&str, &str)]| {
        let mut v: Vec<String> = c.describe(tags).into_iter().map(|d| d.id).collect();
        v.sort();
        v
    };
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(ids(&mut c, &[("group", "a")]), both);
    assert_eq!(
        ids(&mut c, &[("group", "a"), ("tier", "web")]),
        vec![a.clone()]
    );
    assert_eq!(ids(&mut c, &[("group", "b")]), vec![other.clone()]);
    assert_eq!(ids(&mut c, &[]).len(), 3);

    let labels = tag_map(&[("tier", "cache")]);
    let id = a.clone();
    c.call(async |c| {
        c.label(LabelRequest {
            fence: None,
            r#type: String::new(),
            id,
            labels,
        })
        .await
    })
    .unwrap();
    assert_eq!(ids(&mut c, &[("tier", "cache")]), vec![a.clone()]);
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.instance(&a).join("instance.json")).unwrap())
            .unwrap();
    assert_eq!(rec["Tags"]["tier"], "cache");

    let err = c
        .call(async |c| {
            c.label(LabelRequest {
                fence: None,
                r#type: String::new(),
                id: "instance-nope".into(),
                labels: tag_map(&[("x", "y")]),
            })
            .await
        })
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
}

#[test]
fn a_repeated_provision_with_the_same_token_returns_the_same_instance() {
    let mut env = Env::new();
    env.start_plugin();
    let mut c = env.client();
    c.assert_provision_idempotent(|token| {
        with_token(
            spec(json!({"Command": "sleep 1000"}), &[("infrakit.group", "g")]),
            token,
        )
    });
    assert_eq!(c.describe(&[("infrakit.group", "g")]).len(), 2);
}

#[test]
fn instance_records_and_pid_files_are_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mut env = Env::new();
    env.start_plugin();
    let mut c = env.client();
    let id = c
        .provision(spec(
            json!({"Command": "sleep 1000", "Env": {"TOKEN": "secret"}}),
            &[],
        ))
        .unwrap();
    for file in ["instance.json", "pid"] {
        let mode = std::fs::metadata(env.instance(&id).join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
}

#[test]
fn invalid_properties_are_refused_naming_their_json_paths() {
    let mut env = Env::new();
    env.start_plugin();
    let mut c = env.client();
    let validate = |c: &mut Client, p: &str| {
        let properties = p.as_bytes().to_vec();
        c.call(async |c| {
            c.validate(ValidateRequest {
                r#type: String::new(),
                properties,
            })
            .await
        })
    };
    let err = validate(
        &mut c,
        r#"{"Comand": "x", "Restart": "sometimes", "StopGracePeriod": "5", "Env": {"A": 1, "INFRAKIT_TAGS": "x"}}"#,
    )
    .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let mut paths = violation_paths(&err);
    paths.sort();
    assert_eq!(
        paths,
        [
            "$.properties.Comand",
            "$.properties.Env.A",
            "$.properties.Env.INFRAKIT_TAGS",
            "$.properties.Restart",
            "$.properties.StopGracePeriod",
        ]
    );
    assert!(
        err.message().contains("did you mean \"Command\"?"),
        "{}",
        err.message()
    );
    let err = validate(&mut c, r#"{"Command": "  "}"#).unwrap_err();
    assert_eq!(violation_paths(&err), ["$.properties.Command"]);
    let err = validate(&mut c, "{").unwrap_err();
    assert_eq!(violation_paths(&err), ["$.properties"]);
    validate(&mut c, "{}").expect("no Command is fine: the flavor's Init may run");
    validate(
        &mut c,
        r#"{"Command": "sleep 1", "Restart": "always", "StopGracePeriod": "500ms"}"#,
    )
    .unwrap();

    let err = c.provision(spec(json!({}), &[])).unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(violation_paths(&err), ["$.spec.properties.Command"]);
    let err = c
        .provision(spec(
            json!({"Command": "sleep 1", "StopGracePeriod": "2m"}),
            &[],
        ))
        .unwrap_err();
    assert_eq!(violation_paths(&err), ["$.spec.properties.StopGracePeriod"]);
    assert!(c.describe(&[]).is_empty(), "nothing was created");
    assert_eq!(
        std::fs::read_dir(env.instances()).unwrap().count(),
        0,
        "no directory was left"
    );
}
