//! Extra resources: destroyed with their instance (destroy-time provisioners included), unless
//! kept: a cattle instance's kept extra is released from Terraform and left alone; a pet's kept
//! extra stays managed and is reused by the next instance with the same logical ID.

use crate::support::*;
use infrakit_spi::instance::v1::InstanceState;

/// A `terraform_data` that creates `run/<name>` and appends to `<name>.log`, and deletes the
/// file when destroyed.
fn file_resource(env: &Env, name: &str) -> serde_json::Value {
    let run = env.run_dir().display().to_string();
    let log = env.join(&format!("{name}.log")).display().to_string();
    serde_json::json!({"terraform_data": {
        "input": {"file": format!("{run}/{name}")},
        "provisioner": [
            {"local-exec": {"command": format!("touch ${{self.input.file}}; echo created >> {log}")}},
            {"local-exec": {"when": "destroy", "command": "rm -f ${self.input.file}"}}
        ]
    }})
}

#[test]
fn extras_go_with_their_instance_unless_kept() {
    let Some(mut env) = Env::new("extras") else {
        return;
    };
    env.start_plugin(&[]);
    let mut c = env.client();
    let run = env.run_dir();

    // Cattle: "disk" is destroyed with the instance, "addr" (kept) is released.
    let mut props = env.instance_properties("1", 0);
    props["extra"] = serde_json::json!({
        "disk": {"resource": file_resource(&env, "{{id}}.disk")},
        "addr": {"resource": file_resource(&env, "{{id}}.addr"), "keep": true},
    });
    let id = c
        .provision(instance_spec(props.clone(), &[], "exec sleep 3600", None))
        .unwrap();
    wait_until("cattle running", || {
        c.states().get(&id) == Some(&InstanceState::Running)
    });
    assert!(run.join(format!("{id}.disk")).exists());
    assert!(run.join(format!("{id}.addr")).exists());
    assert_eq!(env.state_addresses().len(), 3);
    c.destroy(&id).unwrap();
    wait_until("cattle gone", || c.states().is_empty());
    assert!(!run.join(format!("{id}.disk")).exists(), "disk destroyed");
    assert!(
        run.join(format!("{id}.addr")).exists(),
        "kept address left alone"
    );
    assert!(
        env.state_addresses().is_empty(),
        "and released from the state"
    );

    // Pet: the kept "vol" is named by the logical ID and reused by the next instance.
    let mut props = env.instance_properties("1", 0);
    props["extra"] = serde_json::json!({
        "vol": {"resource": file_resource(&env, "vol-{{logical_id}}"), "keep": true},
    });
    let first = c
        .provision(instance_spec(
            props.clone(),
            &[],
            "exec sleep 3600",
            Some("db-1"),
        ))
        .unwrap();
    wait_until("pet running", || {
        c.states().get(&first) == Some(&InstanceState::Running)
    });
    assert!(run.join("vol-db-1").exists());
    c.destroy(&first).unwrap();
    wait_until("first pet gone", || c.states().is_empty());
    assert!(run.join("vol-db-1").exists(), "the pet's volume is kept");
    let second = c
        .provision(instance_spec(
            props.clone(),
            &[],
            "exec sleep 3600",
            Some("db-1"),
        ))
        .unwrap();
    wait_until("second pet running", || {
        c.states().get(&second) == Some(&InstanceState::Running)
    });
    assert_eq!(
        env.lines("vol-{{logical_id}}.log").len(),
        0,
        "placeholders are substituted"
    );
    assert_eq!(
        env.lines("vol-db-1.log"),
        ["created"],
        "the volume was created once and reused"
    );
    let vol: Vec<String> = env
        .state_addresses()
        .into_iter()
        .filter(|a| a.contains("pet-db-1-"))
        .collect();
    assert_eq!(vol.len(), 1, "{vol:?}");
    c.destroy(&second).unwrap();
    wait_until("second pet gone", || c.states().is_empty());
    assert!(env.instance_processes().is_empty());
}
