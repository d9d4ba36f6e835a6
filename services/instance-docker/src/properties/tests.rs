use super::*;
use serde_json::json;

fn problems(v: Value) -> Vec<String> {
    parse(&v, "$.properties")
        .unwrap_err()
        .0
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_full_spec_parses() {
    let p = parse(
        &json!({
            "Image": "web:1",
            "Command": ["serve"],
            "Entrypoint": ["/bin/web"],
            "Env": {"A": "1"},
            "Labels": {"team": "web"},
            "Ports": ["8080:80/tcp"],
            "Mounts": [{"Type": "tmpfs", "Target": "/tmp"}],
            "Volumes": ["data:/data:ro"],
            "Network": "bridge",
            "RestartPolicy": "on-failure:3",
            "Resources": {"CPUs": 0.5, "Memory": "256m"},
            "HostnameFromLogicalID": true,
            "StopTimeout": "5s"
        }),
        "$.properties",
    )
    .unwrap();
    assert_eq!(p.image, "web:1");
    assert_eq!(p.env, vec!["A=1"]);
    assert_eq!(p.mounts.len(), 2);
    assert_eq!(p.restart, Restart::OnFailure(Some(3)));
    assert_eq!(p.nano_cpus, Some(500_000_000));
    assert_eq!(p.memory, Some(256 << 20));
    assert_eq!(p.hostname, Hostname::FromLogicalId);
    assert_eq!(p.stop_timeout, Some(5));
}

#[test]
fn image_is_required_and_defaults_are_docker_s() {
    assert_eq!(
        problems(json!(null)),
        vec![
            "$.properties.Image: is required (fix: name an image that is on the engine, e.g. {\"Image\": \"web:1\"})"
        ]
    );
    let p = parse(&json!({"Image": "x"}), "$").unwrap();
    assert_eq!(p.restart, Restart::No);
    assert_eq!(p.hostname, Hostname::Default);
    assert_eq!(p.command, None);
}

#[test]
fn unknown_fields_get_a_suggestion_and_no_duplicate_required_error() {
    let v = problems(json!({"image": "x", "Comand": ["a"], "Resources": {"Memroy": "1g"}}));
    assert_eq!(v.len(), 3, "{v:?}");
    assert!(
        v.iter()
            .any(|p| p.starts_with("$.properties.image: is not a field")
                && p.contains("did you mean \"Image\"")),
        "{v:?}"
    );
    assert!(
        v.iter().any(|p| p.contains("did you mean \"Command\"")),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|p| p.starts_with("$.properties.Resources.Memroy") && p.contains("\"Memory\"")),
        "{v:?}"
    );
}

#[test]
fn every_violation_is_reported_at_its_path() {
    let v = problems(json!({
        "Image": 3,
        "Env": ["NOEQUALS", "=x"],
        "Labels": {"infrakit.group": "g"},
        "Ports": ["80/icmp"],
        "Mounts": [{"Type": "bind", "Source": "rel", "Target": "x"}],
        "RestartPolicy": "allways",
        "Resources": {"CPUs": 0, "Memory": "1m"},
        "Hostname": "bad host",
        "StopTimeout": "2m"
    }));
    let paths: Vec<&str> = v.iter().map(|p| p.split(':').next().unwrap()).collect();
    for want in [
        "$.properties.Image",
        "$.properties.Env[0]",
        "$.properties.Env[1]",
        "$.properties.Labels[\"infrakit.group\"]",
        "$.properties.Ports[0]",
        "$.properties.Mounts[0].Target",
        "$.properties.Mounts[0].Source",
        "$.properties.RestartPolicy",
        "$.properties.Resources.CPUs",
        "$.properties.Resources.Memory",
        "$.properties.Hostname",
        "$.properties.StopTimeout",
    ] {
        assert!(paths.contains(&want), "{want} missing from {v:#?}");
    }
    assert!(
        v.iter().any(|p| p.contains("did you mean \"always\"")),
        "{v:?}"
    );
}

#[test]
fn conflicting_fields_are_refused() {
    let v = problems(json!({"Image": "x", "Hostname": "a", "HostnameFromLogicalID": true}));
    assert!(v[0].contains("conflicts with Hostname"), "{v:?}");
    let v = problems(json!({"Image": "x", "Network": "host", "Ports": ["80"], "Hostname": "a"}));
    assert_eq!(v.len(), 2, "{v:?}");
    let v = problems(json!({"Image": "x", "Volumes": ["/a", "v:/a"]}));
    assert!(v[0].contains("mounts \"/a\" twice"), "{v:?}");
}

#[test]
fn env_accepts_a_map_or_a_list() {
    let p = parse(&json!({"Image": "x", "Env": ["A=1", "B=x=y"]}), "$").unwrap();
    assert_eq!(p.env, vec!["A=1", "B=x=y"]);
}

#[test]
fn privileges_are_checked() {
    let p = parse(
        &json!({"Image": "x", "Privileged": true, "CapAdd": ["ALL", "CAP_NET_ADMIN"],
                "CapDrop": ["sys_resource"], "SecurityOpt": ["seccomp=unconfined"]}),
        "$",
    )
    .unwrap();
    assert!(p.privileged);
    assert_eq!(p.cap_add, vec!["ALL", "CAP_NET_ADMIN"]);
    assert_eq!(p.cap_drop, vec!["sys_resource"]);
    assert_eq!(p.security_opt, vec!["seccomp=unconfined"]);
    let got = problems(json!({
        "Image": "x", "Privileged": "yes", "CapAdd": ["NET ADMIN"], "CapDrop": "ALL",
        "SecurityOpt": [""]
    }));
    for want in [
        "$.properties.Privileged",
        "$.properties.CapAdd[0]",
        "$.properties.CapDrop",
        "$.properties.SecurityOpt[0]",
    ] {
        assert!(got.iter().any(|g| g.starts_with(want)), "{want} in {got:?}");
    }
}
