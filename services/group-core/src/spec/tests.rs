//! Spec parsing and validation.

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn minimal() -> Value {
    json!({"ID": "workers", "Properties": {
        "Allocation": {"Size": 3},
        "Instance": {"Plugin": "instance-file", "Properties": {"Note": "v1"}},
        "Flavor": {"Plugin": "flavor-vanilla"}}})
}

fn errors(v: Value) -> Vec<(String, String, String)> {
    match GroupSpec::from_json(&v) {
        Ok(_) => panic!("expected violations"),
        Err(e) => {
            e.0.into_iter()
                .map(|v| (v.path, v.problem, v.fix))
                .collect()
        }
    }
}

fn paths(v: Value) -> Vec<String> {
    errors(v).into_iter().map(|(p, _, _)| p).collect()
}

#[test]
fn a_minimal_spec_gets_every_default() {
    let s = GroupSpec::from_json(&minimal()).unwrap();
    assert_eq!(s.id(), "workers");
    assert_eq!(s.allocation(), &Allocation::Size(3));
    assert_eq!(s.flavor().properties, Value::Null);
    assert_eq!(s.updating(), &UpdatePolicy::default());
    assert_eq!(s.updating().max_surge, Quantity::Percent(10));
    assert_eq!(s.updating().deadline, Duration::from_secs(600));
    assert!(s.updating().auto_rollback);
    assert_eq!(s.health().grace_period, Duration::from_secs(30));
    assert_eq!(s.remediation().max_unhealthy, Quantity::Percent(34));
    assert_eq!(s.remediation().backoff.max, Duration::from_secs(300));
    assert_eq!(s.config_hash(), crate::hash::config_hash(&s));
}

#[test]
fn every_violation_is_reported_at_once_with_its_path_and_fix() {
    let v = json!({"ID": "", "Propertiez": {}, "Properties": {
        "Alocation": {"Size": 3},
        "Instance": {"Plugin": "../evil"},
        "Flavor": {"Plugin": 7},
        "Updating": {"Deadline": "ten minutes", "MaxSurge": "200%"},
        "Health": {"GracePeriod": 30}}});
    let e = errors(v);
    let got: Vec<&str> = e.iter().map(|(p, _, _)| p.as_str()).collect();
    for want in [
        "$.Propertiez",
        "$.ID",
        "$.Properties.Alocation",
        "$.Properties.Allocation",
        "$.Properties.Instance.Plugin",
        "$.Properties.Flavor.Plugin",
        "$.Properties.Updating.MaxSurge",
        "$.Properties.Updating.Deadline",
        "$.Properties.Health.GracePeriod",
    ] {
        assert!(got.contains(&want), "{want} missing from {got:?}");
    }
    let unknown = e
        .iter()
        .find(|(p, _, _)| p == "$.Properties.Alocation")
        .unwrap();
    assert_eq!(unknown.2, "did you mean \"Allocation\"?");
    assert!(
        e.iter()
            .all(|(_, problem, fix)| !problem.is_empty() && !fix.is_empty())
    );
}

#[test]
fn allocation_needs_exactly_one_method() {
    let mut v = minimal();
    v["Properties"]["Allocation"] = json!({});
    assert!(errors(v.clone())[0].1.contains("must not be blank"));
    v["Properties"]["Allocation"] = json!({"Size": 2, "LogicalIDs": ["a"]});
    assert!(errors(v)[0].1.contains("only one may be used"));
}

#[test]
fn logical_ids_must_be_unique_and_not_blank() {
    let mut v = minimal();
    v["Properties"]["Allocation"] = json!({"LogicalIDs": ["a", "", "a", 3, " b"]});
    assert_eq!(
        paths(v.clone()),
        [
            "$.Properties.Allocation.LogicalIDs[1]",
            "$.Properties.Allocation.LogicalIDs[2]",
            "$.Properties.Allocation.LogicalIDs[3]",
            "$.Properties.Allocation.LogicalIDs[4]"
        ]
    );
    v["Properties"]["Allocation"] = json!({"LogicalIDs": []});
    assert!(errors(v)[0].1.contains("is empty"));
}

#[test]
fn logical_ids_hold_only_a_safe_character_set() {
    let long = "a".repeat(254);
    let bad = [
        "a/b",
        "..",
        ".",
        "a\0b",
        "a b",
        "é",
        "x\ty",
        long.as_str(),
        "../etc",
    ];
    let mut v = minimal();
    v["Properties"]["Allocation"] = json!({ "LogicalIDs": bad });
    let e = errors(v);
    let got: Vec<&str> = e.iter().map(|(p, _, _)| p.as_str()).collect();
    let want: Vec<String> = (0..bad.len())
        .map(|i| format!("$.Properties.Allocation.LogicalIDs[{i}]"))
        .collect();
    assert_eq!(got, want);
    assert!(e[0].1.contains("holds '/'"), "{}", e[0].1);
    assert!(e[1].1.contains("names a directory"), "{}", e[1].1);
    assert!(e[7].1.contains("more than 253"), "{}", e[7].1);
    assert!(e.iter().all(|(_, _, fix)| fix.contains("letters, digits")));

    let good = [
        "db-1",
        "10.0.0.11",
        "fe80::1",
        "node_a.example.com",
        "...",
        &"z".repeat(253),
    ];
    let mut v = minimal();
    v["Properties"]["Allocation"] = json!({ "LogicalIDs": good });
    let s = GroupSpec::from_json(&v).unwrap();
    assert_eq!(s.desired(), 6);
}

#[test]
fn group_ids_cannot_name_a_path() {
    for bad in ["..", ".", "a/b", "a\0", ".hidden", "-x", "a b"] {
        let mut v = minimal();
        v["ID"] = json!(bad);
        assert_eq!(paths(v), ["$.ID"], "{bad:?}");
    }
}

#[test]
fn sizes_are_bounded_whole_numbers_and_quoted_numbers_get_a_fix() {
    let mut v = minimal();
    v["Properties"]["Allocation"]["Size"] = json!(100_001);
    assert!(
        errors(v.clone())[0]
            .1
            .contains("larger than the maximum of 100000")
    );
    v["Properties"]["Allocation"]["Size"] = json!("5");
    assert_eq!(
        errors(v.clone())[0].2,
        "write it as a number without quotes: 5"
    );
    v["Properties"]["Allocation"]["Size"] = json!(-1);
    assert!(errors(v)[0].1.contains("whole number"));
}

#[test]
fn quantities_are_counts_or_percentages() {
    let mut v = minimal();
    v["Properties"]["Updating"] = json!({"MaxSurge": "25%", "MaxUnavailable": 2});
    let s = GroupSpec::from_json(&v).unwrap();
    assert_eq!(s.updating().max_surge, Quantity::Percent(25));
    assert_eq!(s.updating().max_unavailable, Quantity::Count(2));
    for bad in [json!("101%"), json!("x%"), json!("lots"), json!(1.5)] {
        v["Properties"]["Updating"] = json!({ "MaxSurge": bad });
        assert_eq!(
            paths(v.clone()),
            ["$.Properties.Updating.MaxSurge"],
            "{bad}"
        );
    }
}

#[test]
fn infrakit_updating_duration_maps_to_healthy_for_and_count_is_refused_with_a_fix() {
    let mut v = minimal();
    v["Properties"]["Updating"] = json!({"Duration": "30s"});
    assert_eq!(
        GroupSpec::from_json(&v).unwrap().updating().healthy_for,
        Duration::from_secs(30)
    );
    v["Properties"]["Updating"] = json!({"Count": 3});
    let e = errors(v.clone());
    assert!(e[0].2.contains("HealthyFor"), "{e:?}");
    v["Properties"]["Updating"] = json!({"Duration": "30s", "HealthyFor": "10s"});
    assert_eq!(paths(v), ["$.Properties.Updating.Duration"]);
}

#[test]
fn surge_and_unavailable_may_not_both_be_zero() {
    let mut v = minimal();
    v["Properties"]["Updating"] = json!({"MaxSurge": 0, "MaxUnavailable": "0%"});
    assert_eq!(paths(v), ["$.Properties.Updating"]);
}

#[test]
fn backoff_and_deadline_must_be_sensible() {
    let mut v = minimal();
    v["Properties"]["Updating"] = json!({"Deadline": "0s"});
    v["Properties"]["Remediation"] =
        json!({"Backoff": {"Initial": "10s", "Max": "1s"}, "MaxUnhealty": 1});
    assert_eq!(
        paths(v),
        [
            "$.Properties.Updating.Deadline",
            "$.Properties.Remediation.MaxUnhealty",
            "$.Properties.Remediation.Backoff.Max"
        ]
    );
}

#[test]
fn budgets_round_surge_up_and_unavailable_down_and_never_both_zero() {
    let p = UpdatePolicy {
        max_surge: Quantity::Percent(10),
        max_unavailable: Quantity::Percent(10),
        ..Default::default()
    };
    assert_eq!(p.budget(5), (1, 0));
    assert_eq!(p.budget(100), (10, 10));
    let p = UpdatePolicy {
        max_surge: Quantity::Percent(0),
        max_unavailable: Quantity::Percent(10),
        ..Default::default()
    };
    assert_eq!(p.budget(5), (1, 0), "both zero: surge becomes 1");
    assert_eq!(p.budget(20), (0, 2));
}

#[test]
fn the_remediation_cap_rounds_down_but_is_at_least_one_unless_zero() {
    let r = RemediationPolicy::default();
    assert_eq!((r.cap(1), r.cap(3), r.cap(10), r.cap(100)), (1, 1, 3, 34));
    let off = RemediationPolicy {
        max_unhealthy: Quantity::Count(0),
        ..Default::default()
    };
    assert_eq!(off.cap(100), 0);
}

#[test]
fn with_size_resizes_cattle_only_and_keeps_the_hash() {
    let s = GroupSpec::from_json(&minimal()).unwrap();
    let bigger = s.with_size(10).unwrap();
    assert_eq!(bigger.desired(), 10);
    assert_eq!(bigger.config_hash(), s.config_hash());
    assert!(s.with_size(MAX_SIZE + 1).is_err());
    let mut v = minimal();
    v["Properties"]["Allocation"] = json!({"LogicalIDs": ["a"]});
    assert!(GroupSpec::from_json(&v).unwrap().with_size(2).is_err());
}

#[test]
fn to_json_writes_every_default_and_parses_back_to_the_same_spec() {
    let s = GroupSpec::from_json(&minimal()).unwrap();
    let j = s.to_json();
    assert_eq!(j["Properties"]["Updating"]["MaxSurge"], json!("10%"));
    assert_eq!(j["Properties"]["Updating"]["Deadline"], json!("10m"));
    assert_eq!(
        j["Properties"]["Remediation"]["Backoff"]["Max"],
        json!("5m")
    );
    assert_eq!(GroupSpec::from_json(&j).unwrap(), s);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn every_valid_spec_survives_to_json_and_back(
        size in 0u32..=MAX_SIZE,
        surge in 0u32..=100,
        percent in any::<bool>(),
        unavailable in 1u32..=50,
        healthy_ms in 0u64..=3_600_000,
        note in "[a-z ]{0,12}",
    ) {
        let surge = if percent { json!(format!("{surge}%")) } else { json!(surge) };
        let mut v = minimal();
        v["Properties"]["Allocation"]["Size"] = json!(size);
        v["Properties"]["Instance"]["Properties"]["Note"] = json!(note);
        v["Properties"]["Updating"] = json!({"MaxSurge": surge, "MaxUnavailable": unavailable,
            "HealthyFor": infrakit_model::duration::format(Duration::from_millis(healthy_ms))});
        let s = GroupSpec::from_json(&v).unwrap();
        prop_assert_eq!(GroupSpec::from_json(&s.to_json()).unwrap(), s);
    }
}
