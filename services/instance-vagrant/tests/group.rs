//! A group of two Vagrant machines through the real group controller and vanilla flavor: it
//! converges, a container removed outside the plugin (`docker rm -f`) is replaced, and
//! destroying the group removes every container and directory.

use crate::support::*;
use std::collections::BTreeSet;
use std::time::Instant;

#[test]
fn a_group_of_two_converges_heals_and_is_destroyed_without_leftovers() {
    let Some(mut env) = Env::new("group") else {
        return;
    };
    let image = env.build_image("1");
    let plugin = env.plugin_name();
    let group_id = format!("vg-{}", env.id);
    env.start_plugin(&[]);
    env.start_vanilla();
    env.start_group(&["--health-interval", "200ms"]);
    let mut g = env.group();
    let running = |env: &Env| -> BTreeSet<String> {
        env.containers()
            .into_iter()
            .filter(|(_, s)| s == "running")
            .map(|(n, _)| n)
            .collect()
    };

    let t = Instant::now();
    g.commit(&serde_json::json!({
        "ID": group_id,
        "Properties": {
            "Allocation": {"Size": 2},
            "Instance": {"Plugin": plugin, "Properties": {"Image": image, "Memory": 64}},
            "Flavor": {"Plugin": "flavor-vanilla", "Properties": {
                "Init": ["trap 'exit 0' TERM", "echo serving", "sleep 3600 & wait"]}}
        }
    }));
    wait_until("2 running machines, group converged", || {
        running(&env).len() == 2 && g.converged(&group_id, 2)
    });
    eprintln!(
        "timing: commit -> 2 machines running and converged in {:?}",
        t.elapsed()
    );
    assert_eq!(env.instance_dirs().len(), 2);
    let before = running(&env);

    // A container removed behind the plugin's back: reported gone, replaced by the group.
    let victim = before.iter().next().unwrap().clone();
    let t = Instant::now();
    docker_ok(&["rm", "-f", &victim]);
    wait_until("the removed machine is replaced", || {
        let now = running(&env);
        now.len() == 2
            && !now.contains(&victim)
            && g.converged(&group_id, 2)
            && env.instance_dirs().len() == 2
            && !env.instance_dirs().contains(&victim)
    });
    eprintln!(
        "timing: docker rm -f -> replaced and converged in {:?}",
        t.elapsed()
    );

    // Destroying the group leaves no container and no directory.
    let t = Instant::now();
    g.destroy(&group_id);
    wait_until("every machine and directory is removed", || {
        env.containers().is_empty() && env.instance_dirs().is_empty() && g.gone(&group_id)
    });
    eprintln!(
        "timing: destroy group of 2 -> nothing left in {:?}",
        t.elapsed()
    );
}
