//! A group of docker-in-docker workers through the real group controller and the real Docker
//! instance plugin: it converges once both have joined and are Ready, a killed worker is
//! replaced by one that joins, the dead worker's node is swept, and destroying the group drains
//! and removes every node, leaving only the local manager.
//!
//! The Docker instance plugin must accept `Privileged` (or, where the engine refuses it,
//! `CapAdd`/`CapDrop`/`SecurityOpt`). `INFRAKIT_TEST_INSTANCE_DOCKER_BIN` may point at another
//! build of it.

use crate::support::*;
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn instance_docker() -> PathBuf {
    match std::env::var_os("INFRAKIT_TEST_INSTANCE_DOCKER_BIN") {
        Some(p) => PathBuf::from(p),
        None => bin("infrakit-instance-docker"),
    }
}

/// The group's worker nodes: `(id, status)` of every node whose engine carries the group label.
fn nodes(group: &str) -> Vec<(String, String)> {
    docker_ok(&[
        "node",
        "ls",
        "--filter",
        &format!("label=infrakit.group={group}"),
        "--format",
        "{{.ID}}\t{{.Status}}",
    ])
    .lines()
    .filter_map(|l| l.split_once('\t'))
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

#[test]
fn a_group_of_dind_workers_joins_heals_and_leaves_no_nodes_behind() {
    let Some(mut env) = Env::new("group") else {
        return;
    };
    let swarm = env.init_swarm();
    let docker_plugin = format!("docker-{}", env.id);
    let state = env.join("docker-state").display().to_string();
    env.start(&instance_docker(), &docker_plugin, &["--state-dir", &state]);
    env.start_flavor();
    env.start_group(&[]);
    let mut g = env.group();
    let group = format!("sw-{}", env.id);
    let mut instance = json!({
        "Image": DIND_IMAGE,
        "Entrypoint": ["/usr/local/bin/dind"],
        "Command": ["dockerd"],
        "Network": swarm.network,
        "Volumes": ["/var/lib/docker"],
        "StopTimeout": "5s"
    });
    for (k, v) in Privileges::probe().properties().as_object().unwrap() {
        instance[k] = v.clone();
    }
    let spec = json!({
        "ID": group,
        "Properties": {
            "Allocation": {"Size": 2},
            "Instance": {"Plugin": docker_plugin, "Properties": instance},
            "Flavor": {"Plugin": "flavor-swarm/worker", "Properties": {"JoinTimeout": "60s"}}
        }
    });
    let members = || {
        let out = docker_ok(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=infrakit.group={group}"),
            "--filter",
            &format!("label=infrakit.instance-docker={docker_plugin}"),
            "--format",
            "{{.Names}}",
        ]);
        out.lines().map(str::to_string).collect::<Vec<_>>()
    };

    let t = Instant::now();
    if let Err(st) = g.try_commit(&spec) {
        panic!(
            "the group refused the spec: {}\n(the Docker instance plugin must accept {} for \
             docker-in-docker instances; INFRAKIT_TEST_INSTANCE_DOCKER_BIN may point at a build that does)",
            st.message(),
            Privileges::probe().properties()
        );
    }
    wait_until("2 workers joined, Ready and the group converged", || {
        g.converged(&group, 2)
    });
    eprintln!(
        "timing: commit -> 2 dind workers joined, Ready and the group converged in {:?}",
        t.elapsed()
    );
    let ready: Vec<_> = nodes(&group)
        .into_iter()
        .filter(|n| n.1 == "Ready")
        .collect();
    assert_eq!(ready.len(), 2, "{ready:?}");

    // Kill a worker: the group replaces it, the new one joins, the dead one's node is swept.
    let before = members();
    assert_eq!(before.len(), 2, "{before:?}");
    let victim = before[0].clone();
    let t = Instant::now();
    docker_ok(&["kill", &victim]);
    wait_until("the killed worker is replaced by one that joined", || {
        let now = members();
        !now.contains(&victim) && now.len() == 2 && g.converged(&group, 2)
    });
    eprintln!(
        "timing: docker kill of a worker -> replaced, joined and converged in {:?}",
        t.elapsed()
    );
    wait_for(
        "the dead worker's node is removed from the swarm",
        Duration::from_secs(45),
        || {
            let n = nodes(&group);
            n.len() == 2 && n.iter().all(|x| x.1 == "Ready")
        },
    );
    eprintln!(
        "timing: docker kill -> the dead worker's node swept in {:?}",
        t.elapsed()
    );

    // Destroy: every member drained (node removed) and destroyed.
    let t = Instant::now();
    g.destroy(&group);
    wait_until("the group's containers and nodes are gone", || {
        members().is_empty() && nodes(&group).is_empty() && g.gone(&group)
    });
    eprintln!(
        "timing: destroy -> 2 workers drained, removed and destroyed in {:?}",
        t.elapsed()
    );
    assert_eq!(
        env.other_nodes(),
        Vec::<String>::new(),
        "no nodes left behind"
    );
}
