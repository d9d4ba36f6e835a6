//! One instance from Provision to Destroy: Provision returns before `vagrant up` ends, Describe
//! shows the progress, the container carries the labels, a retried Provision is idempotent, tags
//! survive a plugin restart, and Destroy leaves nothing behind.

use crate::support::*;
use infrakit_spi::instance::v1::*;
use std::time::Instant;

#[test]
fn provision_describe_label_restart_and_destroy() {
    let Some(mut env) = Env::new("lifecycle") else {
        return;
    };
    let image = env.build_image("1");
    let plugin = env.start_plugin(&[]);
    let mut c = env.client();
    let group = format!("web-{}", env.id);
    let tags = [
        ("infrakit.group", group.as_str()),
        ("infrakit.provision.token", "token-1"),
        ("tier", "web"),
    ];
    let s = spec(
        serde_json::json!({"Image": image, "Memory": 64, "CPUs": 0.5}),
        &tags,
        SERVE,
        None,
    );

    // Provision does not wait for vagrant up.
    let t = Instant::now();
    let id = c.provision(s.clone()).unwrap();
    let provision_call = t.elapsed();
    let d = c.find(&id).expect("listed as soon as Provision returns");
    assert_eq!(d.state, InstanceState::Pending as i32, "{}", props(&d));
    assert_eq!(props(&d)["State"], "creating");
    assert!(id.starts_with(&group), "{id}");

    // A retried Provision (same token) returns the same instance.
    assert_eq!(c.provision(s).unwrap(), id);
    assert_eq!(c.describe(&[]).len(), 1);

    c.wait_state(&id, InstanceState::Running);
    let up = t.elapsed();
    eprintln!("timing: Provision call {provision_call:?}; Provision -> Describe RUNNING {up:?}");
    let d = c.find(&id).unwrap();
    let p = props(&d);
    assert_eq!(p["State"], "running");
    assert_eq!(p["Provider"], "docker");
    assert!(
        p["Output"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("Starting container")),
        "the last lines of vagrant up: {p}"
    );

    // The container: named after the instance, labelled with the ID and the tags, limited.
    let inspect = docker_ok(&[
        "inspect",
        "--format",
        "{{json .Config.Labels}}\t{{.Config.Hostname}}\t{{.HostConfig.Memory}}\t{{.HostConfig.NanoCpus}}",
        &id,
    ]);
    let mut f = inspect.split('\t');
    let labels: serde_json::Value = serde_json::from_str(f.next().unwrap()).unwrap();
    assert_eq!(labels[ID_LABEL], id.as_str());
    assert_eq!(labels["infrakit.group"], group.as_str());
    assert_eq!(labels["tier"], "web");
    assert_eq!(
        labels["infrakit.instance-vagrant.plugin"],
        env.plugin_name()
    );
    assert_eq!(f.next(), Some(id.as_str()), "cattle: host name = ID");
    assert_eq!(f.next(), Some("67108864"));
    assert_eq!(f.next(), Some("500000000"));
    assert_eq!(docker_ok(&["logs", &id]), "booting", "the Init script ran");

    // The directory: a Vagrantfile, the Init script, the tags.
    let dir = env.instances().join(&id);
    let vf = std::fs::read_to_string(dir.join("Vagrantfile")).unwrap();
    assert!(vf.contains(&format!("d.image = '{image}'")), "{vf}");
    assert_eq!(std::fs::read_to_string(dir.join("boot.sh")).unwrap(), SERVE);
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("tags.json")).unwrap()).unwrap();
    assert_eq!(stored["tier"], "web");

    // Label, then a plugin restart (kill -9): the tags and the instance survive.
    let idc = id.clone();
    c.call(async |c| {
        c.label(LabelRequest {
            fence: None,
            r#type: String::new(),
            id: idc,
            labels: [("tier".to_string(), "db".to_string())].into(),
        })
        .await
    })
    .unwrap();
    assert_eq!(c.describe(&[("tier", "db")]).len(), 1);
    env.proc(plugin).kill();
    env.start_plugin(&[]);
    let mut c = env.client();
    let d = c.find(&id).expect("still listed after a restart");
    assert_eq!(d.tags["tier"], "db");
    assert_eq!(d.tags["infrakit.group"], group);
    c.wait_state(&id, InstanceState::Running);

    // Destroy: vagrant destroy -f, no container, no directory.
    let t = Instant::now();
    c.destroy(&id).unwrap();
    eprintln!(
        "timing: Destroy call (vagrant destroy -f and cleanup) {:?}",
        t.elapsed()
    );
    assert!(c.describe(&[]).is_empty());
    assert!(env.containers().is_empty(), "{:?}", env.containers());
    assert!(env.instance_dirs().is_empty(), "{:?}", env.instance_dirs());
    let st = c.destroy(&id).unwrap_err();
    assert_eq!(st.code(), tonic::Code::NotFound);
}

#[test]
fn a_plugin_killed_during_vagrant_up_resumes_it_after_a_restart() {
    let Some(mut env) = Env::new("restart during up") else {
        return;
    };
    let image = env.build_image("1");
    let plugin = env.start_plugin(&[]);
    let mut c = env.client();
    let id = c
        .provision(spec(
            serde_json::json!({"Image": image}),
            &[("tier", "web")],
            SERVE,
            None,
        ))
        .unwrap();
    wait_until("vagrant up to start", || {
        props(&c.find(&id).unwrap())["Progress"].is_string()
    });
    env.proc(plugin).kill();
    env.start_plugin(&[]);
    let mut c = env.client();
    let d = c.find(&id).expect("listed after the restart");
    assert_ne!(d.state, InstanceState::Failed as i32, "{}", props(&d));
    c.wait_state(&id, InstanceState::Running);
    assert_eq!(env.containers().len(), 1, "{:?}", env.containers());
    let log = std::fs::read_to_string(env.instances().join(&id).join("vagrant.log")).unwrap();
    assert_eq!(
        log.matches("$ vagrant up").count(),
        2,
        "the first vagrant up kept running, then the new plugin ran it again: {log}"
    );
    c.destroy(&id).unwrap();
    assert!(env.containers().is_empty(), "{:?}", env.containers());
    assert!(env.instance_dirs().is_empty());
}

#[test]
fn provision_with_one_token_makes_one_machine_whose_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let Some(mut env) = Env::new("token") else {
        return;
    };
    let image = env.build_image("1");
    env.start_plugin(&[]);
    let mut c = env.client();
    let group = format!("tok-{}", env.id);
    let ids = c.assert_provision_idempotent(|token| {
        with_token(
            spec(
                serde_json::json!({"Image": image}),
                &[("infrakit.group", group.as_str())],
                SERVE,
                None,
            ),
            token,
        )
    });
    for id in &ids {
        let dir = env.instances().join(id);
        for (file, want) in [
            ("spec.json", 0o600),
            ("tags.json", 0o600),
            ("state.json", 0o600),
            ("Vagrantfile", 0o600),
            ("boot.sh", 0o700),
        ] {
            let mode = std::fs::metadata(dir.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, want, "{file}");
        }
    }
    for id in &ids {
        c.wait_state(id, InstanceState::Running);
    }
    assert_eq!(env.containers().len(), 2, "one machine per token");
    for id in &ids {
        c.destroy(id).unwrap();
    }
    assert!(env.containers().is_empty(), "{:?}", env.containers());
}
