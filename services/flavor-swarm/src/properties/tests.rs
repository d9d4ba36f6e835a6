use super::*;
use serde_json::json;

fn problems(v: Value, subtype: Option<Role>) -> Vec<String> {
    parse(&v, "$.properties", subtype)
        .unwrap_err()
        .0
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn every_field_parses() {
    let p = parse(
        &json!({
            "Role": "manager", "JoinAddresses": ["10.0.0.2:2377"], "AdvertiseAddr": "eth0",
            "EngineLabels": {"zone": "a"}, "Init": ["a", "b"], "JoinTimeout": "2m",
            "DrainTimeout": "5s"
        }),
        "$",
        None,
    )
    .unwrap();
    assert_eq!(p.role, Role::Manager);
    assert_eq!(p.join_addresses, vec!["10.0.0.2:2377"]);
    assert_eq!(p.advertise_addr.as_deref(), Some("eth0"));
    assert_eq!(p.engine_labels["zone"], "a");
    assert_eq!(p.init, vec!["a", "b"]);
    assert_eq!(p.join_timeout, Duration::from_secs(120));
    assert_eq!(p.drain_timeout, Duration::from_secs(5));
    assert_eq!(
        parse(&json!({"Init": "x"}), "$", None).unwrap().init,
        vec!["x"]
    );
}

#[test]
fn defaults_make_a_worker_and_the_subtype_chooses_the_role() {
    let p = parse(&Value::Null, "$", None).unwrap();
    assert_eq!(p, SwarmProperties::default());
    assert_eq!(p.role, Role::Worker);
    assert_eq!(p.join_timeout, DEFAULT_JOIN_TIMEOUT);
    let p = parse(&json!({}), "$", Some(Role::Manager)).unwrap();
    assert_eq!(p.role, Role::Manager);
    let p = parse(&json!({"Role": "manager"}), "$", Some(Role::Manager)).unwrap();
    assert_eq!(p.role, Role::Manager);
}

#[test]
fn a_role_that_contradicts_the_subtype_is_refused() {
    let got = problems(json!({"Role": "manager"}), Some(Role::Worker));
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with(
            "$.properties.Role: is \"manager\" but the plugin was addressed as <name>/worker"
        ),
        "{got:?}"
    );
    assert!(got[0].contains("flavor-swarm/manager"), "{got:?}");
}

#[test]
fn every_violation_is_reported_at_its_path() {
    let got = problems(
        json!({
            "Rol": "worker", "Role": "boss", "JoinAddresses": ["10.0.0.2"], "AdvertiseAddr": "a b",
            "EngineLabels": {"infrakit.link": "x", "a=b": "c", "n": 1}, "Init": 3,
            "JoinTimeout": "0s", "DrainTimeout": "2m"
        }),
        None,
    );
    for want in [
        "$.properties.Rol: is not a field of the swarm flavor (fix: did you mean \"Role\"?)",
        "$.properties.Role: is not a role",
        "$.properties.JoinAddresses[0]: \"10.0.0.2\" is not a host:port address",
        "$.properties.AdvertiseAddr: is not an address",
        "$.properties.EngineLabels[\"infrakit.link\"]: uses the reserved prefix",
        "$.properties.EngineLabels[\"a=b\"]: is not a label name",
        "$.properties.EngineLabels.n: must be a string",
        "$.properties.Init: must be a list of lines or a string",
        "$.properties.JoinTimeout: is zero",
        "$.properties.DrainTimeout: is 120s, longer than 50s",
    ] {
        assert!(
            got.iter().any(|g| g.starts_with(want)),
            "{want}\nin {got:#?}"
        );
    }
    assert_eq!(got.len(), 10, "{got:#?}");
}

#[test]
fn a_non_object_is_refused() {
    let got = problems(json!(["worker"]), None);
    assert_eq!(
        got,
        vec!["$.properties: must be an object, found an array (fix: write {\"Role\": \"worker\"})"]
    );
}

#[test]
fn durations_combine_units_and_nonsense_is_named() {
    let p = parse(
        &json!({"JoinTimeout": "1h30m", "DrainTimeout": " 20s "}),
        "$",
        None,
    )
    .unwrap();
    assert_eq!(p.join_timeout, Duration::from_secs(5400));
    assert_eq!(p.drain_timeout, Duration::from_secs(20));
    for bad in ["", "5", "s", "5x", "1m-3s", "99999999999999999999h"] {
        let got = problems(json!({ "JoinTimeout": bad }), None);
        assert_eq!(
            got,
            [format!(
                "$.properties.JoinTimeout: {bad:?} is not a duration (fix: write a duration such as \"30s\" or \"5m\")"
            )]
        );
    }
}
