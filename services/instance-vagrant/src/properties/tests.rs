use super::*;
use serde_json::json;

fn paths(v: &Value) -> Vec<String> {
    parse(v, "$.properties")
        .unwrap_err()
        .0
        .into_iter()
        .map(|v| v.path)
        .collect()
}

#[test]
fn a_full_docker_spec_parses() {
    let p = parse(
        &json!({"Image": "bb:1", "Memory": 64, "CPUs": 0.5, "Network": "pets",
                "Command": ["sleep", "1"], "Env": {"A": "1"}, "Labels": {"team": "web"},
                "Template": "/etc/t.tmpl"}),
        "$.properties",
    )
    .unwrap();
    assert_eq!(p.provider, Provider::Docker);
    assert_eq!(p.image.as_deref(), Some("bb:1"));
    assert_eq!(p.memory_mib, Some(64));
    assert_eq!(p.cpus, Some(0.5));
    assert_eq!(p.command, vec!["sleep", "1"]);
    assert_eq!(p.env["A"], "1");
    assert_eq!(p.template, Some(PathBuf::from("/etc/t.tmpl")));
}

#[test]
fn a_virtualbox_spec_needs_a_box_and_no_docker_fields() {
    let p = parse(
        &json!({"Provider": "virtualbox", "Box": "debian/bookworm64", "Memory": 1024, "CPUs": 2}),
        "$.properties",
    )
    .unwrap();
    assert_eq!(p.provider, Provider::Virtualbox);
    assert_eq!(p.box_name.as_deref(), Some("debian/bookworm64"));
    assert_eq!(
        paths(&json!({"Provider": "virtualbox", "Image": "x", "CPUs": 1.5})),
        vec![
            "$.properties.Box",
            "$.properties.Image",
            "$.properties.CPUs"
        ]
    );
}

#[test]
fn misspelt_fields_get_a_suggestion_and_do_not_also_count_as_missing() {
    let bad = parse(&json!({"Imag": "bb:1"}), "$.properties").unwrap_err();
    assert_eq!(bad.0.len(), 1, "{bad}");
    assert_eq!(bad.0[0].path, "$.properties.Imag");
    assert!(bad.0[0].fix.contains("\"Image\""), "{bad}");
    let bad = parse(&json!({"Image": "x", "Provider": "dockr"}), "$.properties").unwrap_err();
    assert!(bad.0[0].fix.contains("\"docker\""), "{bad}");
}

#[test]
fn every_bad_field_is_reported_at_its_path() {
    let p = paths(&json!({
        "Image": "has space", "Memory": 1, "CPUs": 0, "Network": "", "Command": [1],
        "Env": {"A=B": "x"}, "Labels": {"infrakit.x": "y", "ok": 3}, "Template": "relative",
        "Box": "b"
    }));
    for want in [
        "$.properties.Image",
        "$.properties.Memory",
        "$.properties.CPUs",
        "$.properties.Network",
        "$.properties.Command[0]",
        "$.properties.Env[\"A=B\"]",
        "$.properties[\"Labels\"]",
        "$.properties.Template",
        "$.properties.Box",
    ] {
        if want.contains("[\"Labels\"]") {
            assert!(
                p.iter().any(|x| x.starts_with("$.properties.Labels")),
                "{p:?}"
            );
            continue;
        }
        assert!(p.contains(&want.to_string()), "{want} missing from {p:?}");
    }
    assert_eq!(paths(&json!(null)), vec!["$.properties.Image"]);
    assert_eq!(paths(&json!([1])), vec!["$.properties"]);
}
