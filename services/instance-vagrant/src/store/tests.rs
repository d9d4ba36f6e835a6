use super::*;
use crate::record::{StoredSpec, write_json};

fn new_instance(store: &Store, id: &str, tags: &[(&str, &str)]) {
    let dir = store.dir(id);
    std::fs::create_dir(&dir).unwrap();
    let spec = StoredSpec {
        id: id.into(),
        logical_id: None,
        provider: "docker".into(),
        properties: serde_json::json!({"Image": "bb:1"}),
        init: String::new(),
        attachments: vec![],
        created: 1,
    };
    let tags: BTreeMap<String, String> = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let state = StateRecord::now(Phase::Creating, vec![]);
    write_json(&dir.join(record::SPEC_FILE), &spec).unwrap();
    write_json(&dir.join(record::TAGS_FILE), &tags).unwrap();
    write_json(&dir.join(record::STATE_FILE), &state).unwrap();
    store.insert(Loaded { spec, tags, state });
}

fn look(store: &Store, id: &str, m: Option<Machine>) -> Vec<String> {
    store.observe(&Observation {
        started: Instant::now(),
        covered: vec![id.to_string()],
        found: m.map(|m| (id.to_string(), m)).into_iter().collect(),
    })
}

fn state(store: &Store, id: &str) -> InstanceState {
    store.get(id).unwrap().instance_state()
}

#[test]
fn describe_filters_by_every_tag_and_tags_survive_a_reopen() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    new_instance(&store, "web-000000000001", &[("g", "web"), ("v", "1")]);
    new_instance(&store, "db-000000000002", &[("g", "db")]);
    let q = |pairs: &[(&str, &str)]| {
        let tags: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        store.describe(&tags, false).len()
    };
    assert_eq!(q(&[]), 2);
    assert_eq!(q(&[("g", "web")]), 1);
    assert_eq!(q(&[("g", "web"), ("v", "2")]), 0);
    store
        .label(
            "web-000000000001",
            &BTreeMap::from([("v".to_string(), "2".to_string())]),
        )
        .unwrap();
    assert_eq!(q(&[("g", "web"), ("v", "2")]), 1);
    assert!(matches!(
        store.label("nope-000000000000", &BTreeMap::new()),
        Err(StoreError::NotFound(_))
    ));
    assert!(
        Store::open(d.path()).is_err(),
        "a second plugin cannot share the directory"
    );
    drop(store);
    let store = Store::open(d.path()).unwrap();
    assert_eq!(store.len(), 2);
    assert_eq!(store.get("web-000000000001").unwrap().tags["v"], "2");
}

#[test]
fn a_running_instance_whose_machine_vanished_is_gone_but_only_on_a_fresh_look() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let id = "web-000000000001";
    new_instance(&store, id, &[]);
    let mut events = store.subscribe();
    assert_eq!(state(&store, id), InstanceState::Pending);
    assert!(look(&store, id, None).is_empty(), "creating: not gone");
    let stale = Instant::now();
    store
        .set_phase(id, Phase::Running, vec!["done".into()])
        .unwrap();
    assert_eq!(state(&store, id), InstanceState::Running);
    let old_look = store.observe(&Observation {
        started: stale,
        covered: vec![id.into()],
        found: HashMap::new(),
    });
    assert!(
        old_look.is_empty(),
        "a look older than the phase is ignored"
    );
    assert!(look(&store, id, Some(Machine::Stopped("exited".into()))).is_empty());
    assert_eq!(state(&store, id), InstanceState::Failed);
    assert_eq!(store.get(id).unwrap().state_name(), "stopped");
    assert!(look(&store, id, Some(Machine::Running)).is_empty());
    assert_eq!(state(&store, id), InstanceState::Running);
    assert!(
        !store
            .transition(id, Some(Phase::Creating), Phase::Failed, vec![])
            .unwrap(),
        "only from the expected phase"
    );
    assert_eq!(look(&store, id, None), vec![id.to_string()]);
    assert!(store.get(id).is_none());
    let kinds: Vec<i32> = std::iter::from_fn(|| events.try_recv().ok())
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            InstanceEventKind::StateChanged as i32,
            InstanceEventKind::StateChanged as i32,
            InstanceEventKind::StateChanged as i32,
            InstanceEventKind::Gone as i32,
        ]
    );
}

#[test]
fn properties_show_the_state_and_the_last_output() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let id = "web-000000000001";
    new_instance(&store, id, &[]);
    store.set_progress(id, "==> default: Creating the container...");
    let desc = store.describe(&HashMap::new(), true);
    let p: serde_json::Value = serde_json::from_slice(&desc[0].properties).unwrap();
    assert_eq!(p["State"], "creating");
    assert_eq!(p["Progress"], "==> default: Creating the container...");
    store
        .set_phase(
            id,
            Phase::Failed,
            vec!["boom".into(), "vagrant up failed".into()],
        )
        .unwrap();
    let desc = store.describe(&HashMap::new(), true);
    let p: serde_json::Value = serde_json::from_slice(&desc[0].properties).unwrap();
    assert_eq!(p["State"], "failed");
    assert_eq!(p["Output"][0], "boom");
    assert_eq!(desc[0].state, InstanceState::Failed as i32);
    assert!(
        store.describe(&HashMap::new(), false)[0]
            .properties
            .is_empty()
    );
}
