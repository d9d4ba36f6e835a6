//! Pets and templates: a logical ID becomes the host name or, on a user-defined network, the
//! static IP; a user's Vagrantfile template replaces the built-in one; a bad `--template`
//! keeps the plugin from starting.

use crate::support::*;
use infrakit_spi::instance::v1::*;
use std::process::{Command, Stdio};

#[test]
fn pets_get_their_logical_id_as_host_name_or_static_ip() {
    let Some(mut env) = Env::new("pets") else {
        return;
    };
    let image = env.build_image("1");
    let (net, prefix) = env.network();
    env.start_plugin(&[]);
    let mut c = env.client();
    let host = format!("db-{}", env.id);
    let ip = format!("{prefix}7");
    let by_name = c
        .provision(spec(
            serde_json::json!({"Image": image}),
            &[],
            SERVE,
            Some(&host),
        ))
        .unwrap();
    let by_ip = c
        .provision(spec(
            serde_json::json!({"Image": image, "Network": net}),
            &[],
            SERVE,
            Some(&ip),
        ))
        .unwrap();
    c.wait_state(&by_name, InstanceState::Running);
    c.wait_state(&by_ip, InstanceState::Running);
    assert_eq!(
        c.find(&by_name).unwrap().logical_id.as_deref(),
        Some(host.as_str())
    );
    assert_eq!(
        docker_ok(&["inspect", "--format", "{{.Config.Hostname}}", &by_name]),
        host
    );
    let addr = docker_ok(&[
        "inspect",
        "--format",
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
        &by_ip,
    ]);
    assert_eq!(addr, ip);
    c.destroy(&by_name).unwrap();
    c.destroy(&by_ip).unwrap();
    assert!(env.containers().is_empty(), "{:?}", env.containers());
}

#[test]
fn a_user_template_replaces_the_built_in_one() {
    let Some(mut env) = Env::new("template") else {
        return;
    };
    let image = env.build_image("1");
    let tmpl = env.join("my.Vagrantfile");
    std::fs::write(
        &tmpl,
        "# my template for {{ID}}\n\
         Vagrant.configure(\"2\") do |config|\n\
         \x20 config.vm.synced_folder \".\", \"/vagrant\", disabled: true\n\
         \x20 config.vm.provider \"docker\" do |d|\n\
         \x20   d.name = {{NAME}}\n\
         \x20   d.image = {{IMAGE}}\n\
         \x20   d.has_ssh = false\n\
         \x20   d.cmd = {{CMD}}\n\
         \x20   d.env = {{ENV}}.merge('FROM_TEMPLATE' => 'yes')\n\
         \x20   d.create_args = {{CREATE_ARGS}}\n\
         \x20 end\n\
         end\n",
    )
    .unwrap();

    // A template that does not parse keeps the plugin from starting, saying why.
    let bad = env.join("bad.Vagrantfile");
    std::fs::write(&bad, "x = {{NOPE}}\n").unwrap();
    let out = Command::new(plugin_binary())
        .args(["--template", &bad.display().to_string(), "--dir"])
        .arg(env.join("unused"))
        .env("INFRAKIT_PLUGINS_DIR", env.plugins())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("{{NOPE}} is not a known placeholder"), "{err}");

    env.start_plugin(&[]);
    let mut c = env.client();
    let id = c
        .provision(spec(
            serde_json::json!({"Image": image, "Template": tmpl, "Env": {"MODE": "test"}}),
            &[("tier", "web")],
            SERVE,
            None,
        ))
        .unwrap();
    c.wait_state(&id, InstanceState::Running);
    let vf = std::fs::read_to_string(env.instances().join(&id).join("Vagrantfile")).unwrap();
    assert!(vf.starts_with(&format!("# my template for '{id}'")), "{vf}");
    let envs = docker_ok(&["inspect", "--format", "{{json .Config.Env}}", &id]);
    assert!(
        envs.contains("FROM_TEMPLATE=yes") && envs.contains("MODE=test"),
        "{envs}"
    );
    let labels = docker_ok(&["inspect", "--format", "{{json .Config.Labels}}", &id]);
    assert!(labels.contains("\"tier\":\"web\""), "{labels}");
    c.destroy(&id).unwrap();
    assert!(env.containers().is_empty(), "{:?}", env.containers());
}
