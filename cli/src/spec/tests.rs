use super::*;
use serde_json::json;

#[test]
fn an_infrakit_spec_becomes_the_spi_message() {
    let v = json!({
        "Properties": {"image": "busybox", "cmd": ["sleep", "1"]},
        "Tags": {"infrakit.group": "workers", "n": 3, "on": true},
        "Init": "#!/bin/sh\necho hi",
        "LogicalID": "10.0.0.5",
        "Attachments": [{"ID": "vol-1", "Type": "ebs"}],
    });
    let s = instance_spec_from_json(&v).unwrap();
    let props: Value = serde_json::from_slice(&s.properties).unwrap();
    assert_eq!(props, json!({"image": "busybox", "cmd": ["sleep", "1"]}));
    assert_eq!(s.tags["infrakit.group"], "workers");
    assert_eq!(s.tags["n"], "3");
    assert_eq!(s.tags["on"], "true");
    assert_eq!(s.init, "#!/bin/sh\necho hi");
    assert_eq!(s.logical_id.as_deref(), Some("10.0.0.5"));
    assert_eq!(
        (
            s.attachments[0].id.as_str(),
            s.attachments[0].r#type.as_str()
        ),
        ("vol-1", "ebs")
    );
}

#[test]
fn field_names_match_ignoring_case_like_go() {
    let s = instance_spec_from_json(&json!({"properties": {"a": 1}, "logicalid": "x"})).unwrap();
    assert_eq!(s.properties, br#"{"a":1}"#);
    assert_eq!(s.logical_id.as_deref(), Some("x"));
}

#[test]
fn missing_and_null_fields_are_empty() {
    let s = instance_spec_from_json(&json!({"Properties": null, "LogicalID": null})).unwrap();
    assert!(s.properties.is_empty());
    assert_eq!(s.logical_id, None);
    assert!(instance_spec_from_json(&json!({})).is_ok());
}

#[test]
fn every_problem_is_reported_at_its_path() {
    let v = json!({
        "Tagz": {},
        "Init": 3,
        "Attachments": [{"Type": "ebs"}, "vol-2", {"ID": "v", "Kind": "x"}],
    });
    let errs = instance_spec_from_json(&v).unwrap_err();
    let paths: Vec<&str> = errs.0.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "$.Attachments[0].ID",
            "$.Attachments[1]",
            "$.Attachments[2].Kind",
            "$.Init",
            "$.Tagz"
        ]
    );
    let tagz = &errs.0[4];
    assert_eq!(tagz.fix, "did you mean \"Tags\"?");
}

#[test]
fn a_spec_that_is_not_an_object_is_refused() {
    let errs = instance_spec_from_json(&json!(["a"])).unwrap_err();
    assert_eq!(errs.0[0].path, "$");
    assert_eq!(errs.0[0].problem, "must be an object, found an array");
}

#[test]
fn specs_round_trip_in_infrakit_shape() {
    let v = json!({
        "Properties": {"image": "busybox"},
        "Tags": {"a": "1", "b": "2"},
        "Init": "",
        "LogicalID": null,
        "Attachments": [],
    });
    let spec = instance_spec_from_json(&v).unwrap();
    let view = instance_spec_view(&spec);
    assert_eq!(serde_json::to_value(&view).unwrap(), v);
    let text = serde_json::to_string(&view).unwrap();
    let order: Vec<usize> = SPEC_FIELDS
        .iter()
        .map(|f| text.find(&format!("\"{f}\"")).unwrap())
        .collect();
    assert!(order.is_sorted(), "fields in InfraKit's order: {text}");
}

#[test]
fn properties_that_are_not_json_are_shown_as_text() {
    assert_eq!(properties_value(b"not json"), json!("not json"));
    assert_eq!(properties_value(b""), Value::Null);
}
