//! A plugin killed (SIGKILL) in the middle of an apply: the apply is not interrupted, the
//! restarted plugin knows the pending instances at once, waits for Terraform's state lock, and
//! reports them RUNNING, each created exactly once; destroying them leaks nothing.

use crate::support::*;
use infrakit_spi::instance::v1::InstanceState;
use std::collections::BTreeSet;

#[test]
fn a_plugin_killed_mid_apply_finishes_after_restart_without_duplicates() {
    let Some(mut env) = Env::new("restart") else {
        return;
    };
    let first = env.start_plugin(&[]);
    let mut c = env.client();
    // Creation takes 3 s, so the apply is surely running when the plugin is killed.
    let props = env.instance_properties("1", 3);
    let ids: BTreeSet<String> = (0..3)
        .map(|_| {
            c.provision(instance_spec(
                props.clone(),
                &[("role", "r")],
                "exec sleep 3600",
                None,
            ))
            .unwrap()
        })
        .collect();
    wait_until("the apply has started", || env.join("applying").exists());
    env.proc(first).kill();
    assert!(
        !processes_with("IKT_RUN", &env.id).is_empty(),
        "terraform outlives the plugin"
    );

    env.start_plugin(&[]);
    let mut c = env.client();
    let states = c.states();
    assert_eq!(
        states.keys().cloned().collect::<BTreeSet<_>>(),
        ids,
        "the restarted plugin lists the pending instances at once"
    );
    wait_until("all three running", || {
        let s = c.states();
        s.len() == 3 && s.values().all(|s| *s == InstanceState::Running)
    });
    let mut created = env.lines("created.log");
    created.sort();
    assert_eq!(
        created,
        ids.iter().cloned().collect::<Vec<_>>(),
        "each instance was created exactly once"
    );
    assert_eq!(env.instance_processes().len(), 3);
    assert_eq!(c.describe(&[("role", "r")]).len(), 3);

    for id in &ids {
        c.destroy(id).unwrap();
    }
    wait_until("everything is gone", || c.states().is_empty());
    assert!(
        env.instance_processes().is_empty(),
        "{:?}",
        env.instance_processes()
    );
    assert!(env.state_addresses().is_empty());
    assert!(env.instance_files().is_empty());
}
