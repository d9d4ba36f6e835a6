//! Validate, Provision, DescribeInstances, Label and Destroy against the real engine, through the
//! real plugin binary.

use crate::support::*;
use infrakit_spi::instance::v1::*;
use serde_json::json;
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use tonic::Code;

#[test]
fn validate_names_the_missing_image_and_says_how_to_get_it() {
    let Some(mut env) = Env::new("validate") else {
        return;
    };
    let image = env.build_image("busybox", "1", true);
    env.start_plugin();
    let mut c = env.instance_client(&env.plugin_name());
    let validate = |c: &mut Client, v: serde_json::Value| {
        c.call(async |c| {
            c.validate(ValidateRequest {
                properties: v.to_string().into_bytes(),
                ..Default::default()
            })
            .await
        })
    };
    validate(&mut c, json!({"Image": image})).expect("a local image is valid");

    let missing = format!("infrakit-test/absent-{}:1", env.id);
    let st = validate(&mut c, json!({"Image": missing})).unwrap_err();
    assert_eq!(st.code(), Code::InvalidArgument);
    assert_eq!(violation_paths(&st), vec!["$.properties.Image"]);
    for hint in ["never pulls", "docker build -t", "docker load"] {
        assert!(st.message().contains(hint), "{hint}: {}", st.message());
    }

    let st = validate(
        &mut c,
        json!({"image": image, "Network": format!("nonet-{}", env.id), "Resources": {"Memory": "1k"}}),
    )
    .unwrap_err();
    let paths = violation_paths(&st);
    assert!(
        paths.contains(&"$.properties.image".to_string()),
        "{paths:?}"
    );
    assert!(
        st.message().contains("did you mean \"Image\""),
        "{}",
        st.message()
    );
    assert!(
        paths.contains(&"$.properties.Resources.Memory".to_string()),
        "{paths:?}"
    );

    let st = validate(
        &mut c,
        json!({"Image": image, "Network": format!("nonet-{}", env.id)}),
    )
    .unwrap_err();
    assert_eq!(violation_paths(&st), vec!["$.properties.Network"]);
    assert!(
        st.message().contains("docker network create"),
        "{}",
        st.message()
    );
}

#[test]
fn provision_describe_label_destroy_and_labels_survive_a_restart() {
    let Some(mut env) = Env::new("lifecycle") else {
        return;
    };
    let image = env.build_image("busybox", "1", true);
    let plugin = env.start_plugin();
    let name = env.plugin_name();
    let group = format!("g-{}", env.id);
    let mut c = env.instance_client(&name);
    let props = json!({
        "Image": image, "Command": ["sleep", "3600"], "StopTimeout": "1s",
        "Labels": {"team": "infra"}, "Env": {"MODE": "test"}, "Resources": {"Memory": "64m"}
    });
    let tags = [
        ("infrakit.group", group.as_str()),
        ("infrakit.provision.token", "tok-1"),
        ("tier", "web"),
    ];

    // Provision, twice with the same token: one container.
    let started = std::time::Instant::now();
    let id = c
        .call(async |c| {
            c.provision(ProvisionRequest {
                spec: Some(spec(props.clone(), &tags)),
                ..Default::default()
            })
            .await
        })
        .expect("provision")
        .id;
    eprintln!(
        "timing: provision (create + start) took {:?}",
        started.elapsed()
    );
    assert!(id.starts_with(&format!("{group}-")), "{id}");
    let again = c
        .call(async |c| {
            c.provision(ProvisionRequest {
                spec: Some(spec(props.clone(), &tags)),
                ..Default::default()
            })
            .await
        })
        .expect("repeated provision")
        .id;
    assert_eq!(again, id, "the same token returns the same container");
    let ours = containers(&[env.marker_filter()]);
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours[0].0, id);
    assert_eq!(ours[0].1, "running");

    // Describe: exactly the tags given (no image or property labels), RUNNING.
    let d = c.describe(&[("infrakit.group", &group)]);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].id, id);
    assert_eq!(d[0].state, InstanceState::Running as i32);
    let want: HashMap<String, String> = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(d[0].tags, want);
    let p: serde_json::Value = serde_json::from_slice(&d[0].properties).unwrap();
    assert_eq!(p["Image"], image.as_str());
    assert!(c.describe(&[("tier", "db")]).is_empty());
    assert!(
        c.describe(&[("team", "infra")]).is_empty(),
        "a property label is not a tag"
    );
    let inspected = docker_ok(&["inspect", "--format", "{{json .Config.Labels}}", &id]);
    let labels: HashMap<String, String> = serde_json::from_str(&inspected).unwrap();
    assert_eq!(labels["tier"], "web");
    assert_eq!(labels["team"], "infra");
    assert_eq!(labels["infrakit.instance-docker"], name);

    // Label: the plugin's view changes, Docker's labels cannot.
    c.call(async |c| {
        c.label(LabelRequest {
            id: id.clone(),
            labels: [("tier".into(), "db".into()), ("extra".into(), "1".into())].into(),
            ..Default::default()
        })
        .await
    })
    .expect("label");
    assert_eq!(c.describe(&[("tier", "db"), ("extra", "1")]).len(), 1);
    assert!(c.describe(&[("tier", "web")]).is_empty());
    let inspected = docker_ok(&[
        "inspect",
        "--format",
        "{{index .Config.Labels \"tier\"}}",
        &id,
    ]);
    assert_eq!(
        inspected, "web",
        "Docker keeps the label the container was created with"
    );

    // Restart the plugin: the label change is still there.
    env.proc(plugin).kill();
    env.start_plugin();
    let mut c = env.instance_client(&name);
    let d = c.describe(&[("tier", "db")]);
    assert_eq!(d.len(), 1, "the overlay survives a restart");
    assert_eq!(d[0].tags["extra"], "1");

    // A missing image fails Provision clearly, and leaves nothing behind.
    let missing = format!("infrakit-test/absent-{}:1", env.id);
    let st = c
        .call(async |c| {
            c.provision(ProvisionRequest {
                spec: Some(spec(
                    json!({"Image": missing}),
                    &[("infrakit.group", &group)],
                )),
                ..Default::default()
            })
            .await
        })
        .unwrap_err();
    assert_eq!(st.code(), Code::InvalidArgument);
    assert_eq!(violation_paths(&st), vec!["$.spec.properties.Image"]);
    assert_eq!(containers(&[env.marker_filter()]).len(), 1);

    // A container that is not ours is invisible and cannot be destroyed or labelled.
    let stranger = format!("stranger-{}", env.id);
    docker_ok(&[
        "run",
        "-d",
        "--name",
        &stranger,
        "-l",
        &format!("infrakit.group={group}"),
        &image,
    ]);
    assert_eq!(c.describe(&[("infrakit.group", &group)]).len(), 1);
    let st = c
        .call(async |c| {
            c.destroy(DestroyRequest {
                id: stranger.clone(),
                ..Default::default()
            })
            .await
        })
        .unwrap_err();
    assert_eq!(st.code(), Code::NotFound, "{st:?}");
    let st = c
        .call(async |c| {
            c.label(LabelRequest {
                id: stranger.clone(),
                labels: [("a".into(), "b".into())].into(),
                ..Default::default()
            })
            .await
        })
        .unwrap_err();
    assert_eq!(st.code(), Code::NotFound);
    assert_eq!(containers(&[format!("name=^{stranger}$")])[0].1, "running");

    // Destroy: stopped (drained) and removed; a second Destroy is NOT_FOUND.
    let started = std::time::Instant::now();
    c.call(async |c| {
        c.destroy(DestroyRequest {
            id: id.clone(),
            reason: DestroyReason::Terminate as i32,
            ..Default::default()
        })
        .await
    })
    .expect("destroy");
    eprintln!(
        "timing: destroy (stop with a 1s timeout + remove) took {:?}",
        started.elapsed()
    );
    assert!(containers(&[env.marker_filter()]).is_empty());
    assert!(c.describe(&[]).is_empty());
    let st = c
        .call(async |c| {
            c.destroy(DestroyRequest {
                id: id.clone(),
                ..Default::default()
            })
            .await
        })
        .unwrap_err();
    assert_eq!(st.code(), Code::NotFound);
    wait_until("the overlay forgets the removed container", || {
        let overlay =
            std::fs::read_to_string(env.join("docker-state/labels.json")).unwrap_or_default();
        !overlay.contains("\"tier\"")
    });
}

#[test]
fn the_plugin_refuses_to_start_without_an_engine_and_says_why() {
    let dir = tempfile::Builder::new()
        .prefix("ikd")
        .tempdir_in("/tmp")
        .unwrap();
    let out = std::process::Command::new(plugin_binary())
        .args([
            "--docker-host",
            "unix:///nonexistent/docker.sock",
            "--state-dir",
        ])
        .arg(dir.path().join("state"))
        .env("INFRAKIT_PLUGINS_DIR", dir.path().join("p"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach the Docker engine at unix:///nonexistent/docker.sock"),
        "{err}"
    );
    assert!(
        !dir.path().join("p/instance-docker.sock").exists(),
        "no socket is left behind"
    );
}

#[test]
fn provision_with_one_token_makes_one_container_sequentially_and_concurrently() {
    let Some(mut env) = Env::new("token") else {
        return;
    };
    let image = env.build_image("busybox", "1", true);
    env.start_plugin();
    let name = env.plugin_name();
    let group = format!("g-{}", env.id);
    let mut c = env.instance_client(&name);
    let props = json!({"Image": image, "Command": ["sleep", "3600"], "StopTimeout": "1s"});
    let ids = c.assert_provision_idempotent(|token| {
        with_token(spec(props.clone(), &[("infrakit.group", &group)]), token)
    });
    let ours = containers(&[env.marker_filter()]);
    assert_eq!(ours.len(), 2, "one container per token: {ours:?}");
    assert!(
        ours.iter().all(|(_, state, _)| state == "running"),
        "{ours:?}"
    );

    // The label overlay (tag values Docker cannot store) is private too.
    let id = ids[0].clone();
    c.call(async |c| {
        c.label(LabelRequest {
            fence: None,
            r#type: String::new(),
            id,
            labels: [("tier".to_string(), "db".to_string())].into(),
        })
        .await
    })
    .unwrap();
    let overlay = env.join("docker-state").join("labels.json");
    let mode = std::fs::metadata(&overlay).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    for id in &ids {
        c.destroy(id).unwrap();
    }
}
