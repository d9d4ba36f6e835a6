//! One plugin, driven directly: Provision returns at once and the instance is PENDING until
//! Terraform has created it; tags filter, Label changes them in place, a restart keeps them;
//! Destroy runs the destroy-time provisioner; bad Properties are refused with JSON paths; a
//! configuration Terraform rejects fails only its own instance; a file deleted by hand is
//! destroyed, not leaked.

use crate::support::*;
use infrakit_spi::instance::v1::*;
use std::time::Instant;

const GROUP: &str = "infrakit.group";

fn pid_of(env: &Env, id: &str) -> Option<u32> {
    env.instance_processes()
        .into_iter()
        .map(|(pid, _)| pid)
        .find(|pid| environ(*pid).get("IKT_ID").map(String::as_str) == Some(id))
}

#[test]
fn provision_is_pending_then_running_and_destroy_really_destroys() {
    let Some(mut env) = Env::new("lifecycle") else {
        return;
    };
    env.start_plugin(&[]);
    let mut c = env.client();
    let group = format!("g-{}", env.id);
    let props = env.instance_properties("1", 0);

    // Provision returns at once; the instances are listed PENDING from then on.
    let t = Instant::now();
    let a = c
        .provision(instance_spec(
            props.clone(),
            &[(GROUP, &group), ("tier", "web")],
            "exec sleep 3600",
            None,
        ))
        .unwrap();
    let b = c
        .provision(instance_spec(
            props.clone(),
            &[(GROUP, &group), ("tier", "web")],
            "exec sleep 3600",
            None,
        ))
        .unwrap();
    let rpc = t.elapsed();
    assert!(rpc.as_millis() < 1000, "two Provision calls took {rpc:?}");
    let states = c.states();
    assert_eq!(states.len(), 2);
    assert!(
        states.values().all(|s| *s == InstanceState::Pending),
        "{states:?}"
    );

    let took = wait_until("both instances running", || {
        c.states()
            .values()
            .filter(|s| **s == InstanceState::Running)
            .count()
            == 2
    });
    eprintln!(
        "timing: Provision -> DescribeInstances shows RUNNING in {:?}",
        t.elapsed()
    );
    let _ = took;
    assert!(
        pid_of(&env, &a).is_some() && pid_of(&env, &b).is_some(),
        "{}",
        env.logs()
    );

    // Tags filter with AND.
    assert_eq!(c.describe(&[("tier", "web"), (GROUP, &group)]).len(), 2);
    assert_eq!(c.describe(&[("tier", "db")]).len(), 0);

    // Label: the tag changes at once and reaches the state in place (same process).
    let pid_a = pid_of(&env, &a).unwrap();
    let id = a.clone();
    c.call(async |cl| {
        cl.label(LabelRequest {
            fence: None,
            r#type: String::new(),
            id,
            labels: [("tier".to_string(), "db".to_string())].into(),
        })
        .await
    })
    .unwrap();
    assert_eq!(c.describe(&[("tier", "db")]).len(), 1);
    wait_until("the label reaches the Terraform state", || {
        c.describe(&[("tier", "db")]).first().is_some_and(|d| {
            let v: serde_json::Value = serde_json::from_slice(&d.properties).unwrap();
            v["values"]["input"]["tags"]["tier"] == "db"
        })
    });
    assert_eq!(pid_of(&env, &a), Some(pid_a), "labelling did not recreate");

    // Destroy: TERMINATING at once, then gone, and the destroy-time provisioner ran.
    let t = Instant::now();
    c.destroy(&b).unwrap();
    assert_eq!(c.states().get(&b), Some(&InstanceState::Terminating));
    wait_until("b is gone", || !c.states().contains_key(&b));
    eprintln!(
        "timing: Destroy -> gone from DescribeInstances in {:?}",
        t.elapsed()
    );
    assert_eq!(pid_of(&env, &b), None, "b's process was stopped");
    assert!(env.lines("destroyed.log").contains(&b));
    assert_eq!(
        c.destroy("instance-0000000000000000").unwrap_err().code(),
        tonic::Code::NotFound
    );

    // A restarted plugin still knows the tags (they are kept beside the file).
    env.proc(0).kill();
    env.start_plugin(&[]);
    let mut c = env.client();
    let d = c.describe(&[("tier", "db")]);
    assert_eq!(d.len(), 1, "{}", env.logs());
    assert_eq!(d[0].id, a);
    assert_eq!(d[0].tags[GROUP], group);
    assert_eq!(d[0].state(), InstanceState::Running);

    c.destroy(&a).unwrap();
    wait_until("everything is gone", || c.states().is_empty());
    assert!(
        env.instance_processes().is_empty(),
        "{:?}",
        env.instance_processes()
    );
    assert!(env.state_addresses().is_empty());
    assert!(env.instance_files().is_empty());
    assert_eq!(
        env.lines("created.log").len(),
        2,
        "each instance was created once"
    );
}

#[test]
fn bad_properties_are_refused_with_json_paths_and_nothing_is_written() {
    let Some(mut env) = Env::new("validation") else {
        return;
    };
    env.start_plugin(&[]);
    let mut c = env.client();
    let validate = |c: &mut Client, v: serde_json::Value| {
        c.call(async |cl| {
            cl.validate(ValidateRequest {
                r#type: String::new(),
                properties: v.to_string().into_bytes(),
            })
            .await
        })
    };
    validate(&mut c, env.instance_properties("1", 0)).unwrap();
    let e = validate(
        &mut c,
        serde_json::json!({"resource": {"terraform_data": {"count": 2, "input": {"id": "x"}}},
                           "chek": "x", "extra": {"d": {"resource": {"terraform_data": {"input": "{{ids}}"}}}}}),
    )
    .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        violation_paths(&e),
        [
            "$.properties.chek",
            "$.properties.resource.terraform_data.count",
            "$.properties.resource.terraform_data.input.id",
            "$.properties.extra.d.resource.terraform_data.input"
        ],
        "{}",
        e.message()
    );
    assert!(
        e.message().contains("did you mean \"check\""),
        "{}",
        e.message()
    );
    let e = validate(
        &mut c,
        serde_json::json!({"resource": {"terraform_data": {"input": "text"}}}),
    )
    .unwrap_err();
    assert_eq!(
        violation_paths(&e)[0],
        "$.properties.resource.terraform_data.input"
    );
    let e = c
        .provision(instance_spec(
            serde_json::json!({"resource": []}),
            &[("", "x")],
            "",
            Some(""),
        ))
        .unwrap_err();
    assert_eq!(
        violation_paths(&e),
        [
            "$.spec.properties.resource",
            "$.spec.tags",
            "$.spec.logical_id"
        ]
    );
    let e = c
        .provision(instance_spec(
            serde_json::json!({"resource": {"aws_instance": {"user_data": "mine"}}}),
            &[],
            "boot",
            None,
        ))
        .unwrap_err();
    assert_eq!(
        violation_paths(&e),
        ["$.spec.properties.resource.aws_instance.user_data"]
    );
    assert!(c.states().is_empty());
    assert!(env.instance_files().is_empty());
}

#[test]
fn a_configuration_terraform_rejects_fails_only_its_own_instance() {
    let Some(mut env) = Env::new("rejected") else {
        return;
    };
    env.start_plugin(&[]);
    let mut c = env.client();
    let good = c
        .provision(instance_spec(
            env.instance_properties("1", 0),
            &[],
            "exec sleep 3600",
            None,
        ))
        .unwrap();
    // Valid for the plugin, but terraform_data has no argument "bogus".
    let bad = c
        .provision(instance_spec(
            serde_json::json!({"resource": {"terraform_data": {"bogus": 1}}}),
            &[],
            "",
            None,
        ))
        .unwrap();
    wait_until("good running, bad failed", || {
        let s = c.states();
        s.get(&good) == Some(&InstanceState::Running) && s.get(&bad) == Some(&InstanceState::Failed)
    });
    let d = c.describe(&[]);
    let bad_desc = d.iter().find(|d| d.id == bad).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bad_desc.properties).unwrap();
    assert!(
        v["problem"]
            .as_str()
            .unwrap()
            .contains("Terraform rejected its configuration"),
        "{v}"
    );
    assert!(!env.instance_files().contains(&format!("{bad}.tf.json")));
    // A rejected instance is forgotten at once when destroyed: Terraform never had it.
    c.destroy(&bad).unwrap();
    assert!(!c.states().contains_key(&bad));
    c.destroy(&good).unwrap();
    wait_until("everything is gone", || c.states().is_empty());
    assert!(env.instance_processes().is_empty());
}

#[test]
fn an_instance_file_deleted_by_hand_is_destroyed_not_leaked() {
    let Some(mut env) = Env::new("deleted-file") else {
        return;
    };
    env.start_plugin(&[]);
    let mut c = env.client();
    let id = c
        .provision(instance_spec(
            env.instance_properties("1", 0),
            &[],
            "exec sleep 3600",
            None,
        ))
        .unwrap();
    wait_until("running", || {
        c.states().get(&id) == Some(&InstanceState::Running)
    });
    assert!(pid_of(&env, &id).is_some());
    std::fs::remove_file(env.work().join(format!("{id}.tf.json"))).unwrap();
    wait_until("the instance is gone", || !c.states().contains_key(&id));
    assert_eq!(
        pid_of(&env, &id),
        None,
        "the destroy-time provisioner stopped it"
    );
    assert!(env.lines("destroyed.log").contains(&id));
    assert!(env.state_addresses().is_empty());
}

#[test]
fn watchers_see_created_running_terminating_and_gone() {
    let Some(mut env) = Env::new("watch") else {
        return;
    };
    env.start_plugin(&[]);
    let mut c = env.client();
    let mut stream = c
        .call(async |cl| {
            cl.watch_instances(WatchInstancesRequest {
                r#type: String::new(),
                tags: [("w".to_string(), "1".to_string())].into(),
                since_revision: 0,
            })
            .await
        })
        .unwrap();
    let props = env.instance_properties("1", 0);
    let id = c
        .provision(instance_spec(
            props.clone(),
            &[("w", "1")],
            "exec sleep 3600",
            None,
        ))
        .unwrap();
    c.provision(instance_spec(
        props.clone(),
        &[("w", "other")],
        "exec sleep 3600",
        None,
    ))
    .unwrap();
    let mut next = |c: &mut Client| -> InstanceEvent {
        c.rt.block_on(async {
            tokio::time::timeout(PATIENCE, stream.message())
                .await
                .expect("an event in time")
                .expect("stream ok")
                .expect("stream open")
        })
    };
    let kinds = |e: &InstanceEvent| {
        (
            e.kind(),
            e.instance.as_ref().map(|i| (i.id.clone(), i.state())),
        )
    };
    assert_eq!(next(&mut c).kind(), InstanceEventKind::Resync);
    assert_eq!(
        kinds(&next(&mut c)),
        (
            InstanceEventKind::Created,
            Some((id.clone(), InstanceState::Pending))
        )
    );
    assert_eq!(
        kinds(&next(&mut c)),
        (
            InstanceEventKind::StateChanged,
            Some((id.clone(), InstanceState::Running))
        )
    );
    c.destroy(&id).unwrap();
    assert_eq!(
        kinds(&next(&mut c)),
        (
            InstanceEventKind::StateChanged,
            Some((id.clone(), InstanceState::Terminating))
        )
    );
    assert_eq!(kinds(&next(&mut c)).0, InstanceEventKind::Gone);
}

#[test]
fn provision_with_one_token_makes_one_instance_whose_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let Some(mut env) = Env::new("token") else {
        return;
    };
    env.start_plugin(&[]);
    let mut c = env.client();
    let group = format!("g-{}", env.id);
    // Slow to create, so the repeats arrive while Terraform is still creating the first.
    let props = env.instance_properties("1", 2);
    let ids = c.assert_provision_idempotent(|token| {
        with_token(
            instance_spec(props.clone(), &[(GROUP, &group)], "exec sleep 3600", None),
            token,
        )
    });
    let mode = |p: std::path::PathBuf| std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    for id in &ids {
        let tf = env.work().join(format!("{id}.tf.json"));
        let sidecar = env.work().join(format!(".infrakit/instances/{id}.json"));
        assert_eq!(mode(tf), 0o600, "the Terraform file holds Properties");
        assert_eq!(mode(sidecar), 0o600, "the sidecar holds Properties");
    }
    wait_until("both instances running", || {
        let s = c.states();
        s.len() == 2 && s.values().all(|s| *s == InstanceState::Running)
    });
    let mut created = env.lines("created.log");
    created.sort();
    let mut want = ids.to_vec();
    want.sort();
    assert_eq!(created, want, "Terraform created each instance once");
    for id in &ids {
        c.destroy(id).unwrap();
    }
    wait_until("everything is gone", || c.states().is_empty());
}
