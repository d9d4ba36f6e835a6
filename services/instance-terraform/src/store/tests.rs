//! The store against a temporary directory, with plans and states made by hand (no Terraform).

use super::*;
use crate::tfjson::Resource;
use serde_json::json;

fn props() -> serde_json::Value {
    json!({"resource": {"terraform_data": {
        "input": {"v": 1},
        "provisioner": [{"local-exec": {"when": "destroy", "command": "echo bye"}}]
    }}})
}

fn add(store: &Store, tags: &[(&str, &str)]) -> String {
    let id = names::new_id();
    let record = Record {
        id: id.clone(),
        logical_id: None,
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        init: "boot".into(),
        properties: props(),
        phase: Phase::Pending,
        created_ms: 1,
        broken: None,
        gave_up: None,
        attempts: 0,
    };
    let rendered = render_record(&record).unwrap();
    store.provision(record, rendered).unwrap();
    id
}

fn snap(addrs: &[&str]) -> Snapshot {
    Snapshot {
        resources: addrs
            .iter()
            .map(|a| {
                (
                    a.to_string(),
                    Resource {
                        tainted: false,
                        values: json!({"input": {"v": 1}}),
                    },
                )
            })
            .collect(),
        checks: Default::default(),
    }
}

fn plan(addrs: &[&str]) -> PlanView {
    PlanView {
        prior: snap(addrs),
        actions: Default::default(),
    }
}

fn state_of(store: &Store, id: &str) -> InstanceState {
    store
        .describe(&HashMap::new(), false)
        .into_iter()
        .find(|d| d.id == id)
        .map(|d| d.state())
        .unwrap()
}

fn file(store: &Store, id: &str) -> Option<serde_json::Value> {
    disk::read_opt(&store.dir().join(names::instance_file(id)))
        .unwrap()
        .map(|b| serde_json::from_slice(&b).unwrap())
}

#[test]
fn provision_writes_sidecar_and_file_and_is_pending_until_seen_in_the_state() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path()).unwrap();
    let mut rx = s.subscribe();
    let id = add(&s, &[("g", "1")]);
    assert_eq!(
        rx.try_recv().unwrap().kind,
        InstanceEventKind::Created as i32
    );
    assert_eq!(state_of(&s, &id), InstanceState::Pending);
    let f = file(&s, &id).unwrap();
    assert_eq!(
        f["resource"]["terraform_data"][&id]["input"]["init"],
        "boot"
    );
    let view = s.prepare_cycle().unwrap();
    assert!(view.types.contains("terraform_data"));
    let addr = format!("terraform_data.{id}");
    s.after_apply(&snap(&[&addr]), &view, Some(&[])).unwrap();
    assert_eq!(state_of(&s, &id), InstanceState::Running);
    assert_eq!(
        rx.try_recv().unwrap().kind,
        InstanceEventKind::StateChanged as i32
    );
    // Restart: tags and phase come back from the sidecar.
    let s2 = Store::open(d.path()).unwrap();
    let all = s2.describe(&[("g".to_string(), "1".to_string())].into(), false);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].state(), InstanceState::Running);
}

#[test]
fn destroy_writes_removed_blocks_and_forgets_once_the_state_is_empty() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path()).unwrap();
    let id = add(&s, &[]);
    let addr = format!("terraform_data.{id}");
    let view = s.prepare_cycle().unwrap();
    s.after_apply(&snap(&[&addr]), &view, Some(&[])).unwrap();
    s.destroy(&id).unwrap();
    assert_eq!(state_of(&s, &id), InstanceState::Terminating);
    let f = file(&s, &id).unwrap();
    assert_eq!(f["removed"][0]["from"], addr);
    assert_eq!(
        f["removed"][0]["provisioner"][0]["local-exec"]["command"],
        "echo bye"
    );
    let view = s.prepare_cycle().unwrap();
    s.after_apply(&snap(&[&addr]), &view, Some(&[])).unwrap();
    assert_eq!(s.len(), 1, "still in the state: not destroyed yet");
    s.after_apply(&snap(&[]), &view, Some(&[])).unwrap();
    assert!(s.is_empty());
    assert!(file(&s, &id).is_none());
    assert!(
        disk::list(&d.path().join(".infrakit/instances"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_file_deleted_by_hand_destroys_its_instance() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path()).unwrap();
    let id = add(&s, &[]);
    std::fs::remove_file(d.path().join(names::instance_file(&id))).unwrap();
    s.prepare_cycle().unwrap();
    assert_eq!(state_of(&s, &id), InstanceState::Terminating);
    assert!(file(&s, &id).unwrap().get("removed").is_some());
}

#[test]
fn a_lost_instance_is_destroyed_and_asks_for_a_new_plan() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path()).unwrap();
    let id = add(&s, &[]);
    let addr = format!("terraform_data.{id}");
    let view = s.prepare_cycle().unwrap();
    s.after_apply(&snap(&[&addr]), &view, Some(&[])).unwrap();
    assert!(!s.after_plan(&plan(&[&addr])).unwrap());
    assert!(s.after_plan(&plan(&[])).unwrap(), "lost: plan again");
    assert_eq!(state_of(&s, &id), InstanceState::Terminating);
    s.after_apply(&snap(&[]), &view, Some(&[])).unwrap();
    assert!(s.is_empty());
}

#[test]
fn a_rejected_file_is_set_aside_and_its_instance_failed_then_forgotten() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path()).unwrap();
    let id = add(&s, &[]);
    let other = s
        .reject(&[(names::instance_file(&id), "Unsupported argument".into())].into())
        .unwrap();
    assert!(other.is_empty());
    assert!(file(&s, &id).is_none());
    assert_eq!(state_of(&s, &id), InstanceState::Failed);
    s.prepare_cycle().unwrap();
    assert!(file(&s, &id).is_none(), "it stays out");
    assert_eq!(state_of(&s, &id), InstanceState::Failed);
    s.destroy(&id).unwrap();
    assert!(s.is_empty());
    let unknown = s
        .reject(&[("provider.tf.json".to_string(), "x".to_string())].into())
        .unwrap();
    assert_eq!(unknown, ["provider.tf.json"]);
}

#[test]
fn repeated_applies_that_blame_an_instance_fail_it_but_blameless_failures_do_not() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path()).unwrap();
    let id = add(&s, &[]);
    let addr = format!("terraform_data.{id}");
    let lock = crate::tfjson::Diagnostic {
        severity: "error".into(),
        summary: "Error acquiring the state lock".into(),
        detail: String::new(),
        address: None,
        filename: None,
    };
    let blame = crate::tfjson::Diagnostic {
        address: Some(addr.clone()),
        summary: "local-exec provisioner error".into(),
        ..lock.clone()
    };
    let view = s.prepare_cycle().unwrap();
    for _ in 0..5 {
        s.after_apply(&snap(&[]), &view, Some(std::slice::from_ref(&lock)))
            .unwrap();
    }
    assert_eq!(state_of(&s, &id), InstanceState::Pending);
    for _ in 0..MAX_ATTEMPTS {
        s.after_apply(&snap(&[]), &view, Some(std::slice::from_ref(&blame)))
            .unwrap();
    }
    assert_eq!(state_of(&s, &id), InstanceState::Failed);
    let d = &s.describe(&HashMap::new(), true)[0];
    let v: serde_json::Value = serde_json::from_slice(&d.properties).unwrap();
    assert!(
        v["problem"]
            .as_str()
            .unwrap()
            .contains("local-exec provisioner error"),
        "{v}"
    );
}

#[test]
fn label_rewrites_the_file_and_the_provision_token_finds_the_instance() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path()).unwrap();
    let id = add(&s, &[(PROVISION_TOKEN, "t-1")]);
    assert_eq!(s.find_by_token("t-1"), Some(id.clone()));
    assert_eq!(s.find_by_token("t-2"), None);
    s.label(&id, &[("tier".to_string(), "db".to_string())].into())
        .unwrap();
    let f = file(&s, &id).unwrap();
    assert_eq!(
        f["resource"]["terraform_data"][&id]["input"]["tags"]["tier"],
        "db"
    );
    assert!(matches!(
        s.label("instance-0000000000000000", &BTreeMap::new()),
        Err(StoreError::NotFound(_))
    ));
    s.destroy(&id).unwrap();
    assert_eq!(
        s.find_by_token("t-1"),
        None,
        "a leaving instance is not adopted"
    );
}

#[test]
fn files_without_a_sidecar_are_left_alone() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("provider.tf.json"), "{}").unwrap();
    let s = Store::open(d.path()).unwrap();
    s.prepare_cycle().unwrap();
    assert!(s.is_empty());
    assert!(d.path().join("provider.tf.json").exists());
}
