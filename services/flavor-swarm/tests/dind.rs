//! Docker-in-docker instances started straight from the flavor's Init (as the Docker instance
//! plugin would run it): a worker and a manager join the local engine's swarm and are judged
//! healthy; Drain removes the worker when given only its instance ID and demotes then removes the
//! manager; a killed worker's node turns Down, is judged unhealthy, and is swept away once nobody
//! asks about it any more.

use crate::support::calls::*;
use crate::support::*;
use infrakit_spi::flavor::v1::Health;
use infrakit_spi::instance::v1::InstanceDescription;
use serde_json::json;
use std::time::Instant;

/// The node carrying engine label `infrakit.link=<link>`, if any: `(id, status, manager status)`.
fn node_of(link: &str) -> Option<(String, String, String)> {
    let out = docker_ok(&[
        "node",
        "ls",
        "--filter",
        &format!("label=infrakit.link={link}"),
        "--format",
        "{{.ID}}\t{{.Status}}\t{{.ManagerStatus}}",
    ]);
    out.lines().next().map(|l| {
        let mut p = l.split('\t').map(str::to_string);
        (
            p.next().unwrap_or_default(),
            p.next().unwrap_or_default(),
            p.next().unwrap_or_default(),
        )
    })
}

fn link(spec: &infrakit_spi::instance::v1::InstanceSpec) -> String {
    spec.tags["infrakit.link"].clone()
}

#[test]
fn dind_workers_and_a_manager_join_are_judged_drained_and_swept() {
    let Some(mut env) = Env::new("dind") else {
        return;
    };
    let swarm = env.init_swarm();
    let flavor_proc = env.start_flavor();
    let mut f = env.flavor_client("flavor-swarm");
    let group = format!("g-{}", env.id);
    let none = json!({});

    // A worker joins: from container start to a HEALTHY verdict.
    let w1 = prepare(&mut f, "worker", &none, group_spec(&group, "w1"), 1).unwrap();
    let t = Instant::now();
    let c1 = env.run_dind("w1", &w1.init);
    let i1 = InstanceDescription {
        id: c1.clone(),
        ..described(&c1, &w1)
    };
    wait_until("the worker is HEALTHY", || {
        health(&mut f, "worker", &none, &i1) == Health::Healthy
    });
    eprintln!(
        "timing: dind worker start -> joined, Ready and HEALTHY in {:?}",
        t.elapsed()
    );
    let (node1, status, manager) = node_of(&link(&w1)).expect("the worker's node");
    assert_eq!((status.as_str(), manager.as_str()), ("Ready", ""));
    let labels = docker_ok(&[
        "node",
        "inspect",
        "-f",
        "{{json .Description.Engine.Labels}}",
        &node1,
    ]);
    let labels: serde_json::Value = serde_json::from_str(&labels).unwrap();
    assert_eq!(labels["infrakit.group"], group.as_str());
    assert_eq!(labels["infrakit.swarm.role"], "worker");
    // Healthy wrote the instance ID into the node's labels, for a Drain that has only the ID.
    let spec_label = || {
        docker_ok(&[
            "node",
            "inspect",
            "-f",
            "{{index .Spec.Labels \"infrakit.instance\"}}",
            &node1,
        ])
    };
    wait_until("the node is labelled with its instance ID", || {
        spec_label() == c1
    });

    // A manager joins and must be a reachable manager.
    let m1 = prepare(&mut f, "manager", &none, group_spec(&group, "m1"), 2).unwrap();
    let t = Instant::now();
    let cm = env.run_dind("m1", &m1.init);
    let im = described(&cm, &m1);
    wait_until("the manager is HEALTHY", || {
        health(&mut f, "manager", &none, &im) == Health::Healthy
    });
    eprintln!(
        "timing: dind manager start -> joined, Reachable and HEALTHY in {:?}",
        t.elapsed()
    );
    let (nodem, _, manager) = node_of(&link(&m1)).expect("the manager's node");
    assert_eq!(manager, "Reachable");
    // Judged as a worker group it would be fine too; a worker judged as a manager is not.
    let h = healthy(&mut f, "manager", &none, &i1);
    assert_eq!(h.health(), Health::Unhealthy, "{h:?}");
    assert!(
        h.reason
            .contains("is a worker, but the group wants managers"),
        "{h:?}"
    );

    // Drain the worker with its ID alone (as the group sends it): drained, then removed.
    let id_only = InstanceDescription {
        id: c1.clone(),
        ..Default::default()
    };
    let t = Instant::now();
    drain(&mut f, "worker", &none, &id_only).expect("drain the worker");
    eprintln!("timing: Drain of a ready worker took {:?}", t.elapsed());
    assert!(
        node_of(&link(&w1)).is_none(),
        "the worker's node is removed"
    );
    drain(&mut f, "worker", &none, &i1).expect("draining a node already gone succeeds");

    // Drain the manager: demoted first (a manager cannot be removed), then removed.
    let t = Instant::now();
    drain(&mut f, "manager", &none, &im).expect("drain the manager");
    eprintln!(
        "timing: Drain of a manager (demote, drain, remove) took {:?}",
        t.elapsed()
    );
    assert!(
        node_of(&link(&m1)).is_none(),
        "the manager's node is removed"
    );
    assert!(
        !docker_ok(&["node", "ls", "-q"]).contains(&nodem),
        "the manager is gone from the node list"
    );
    assert_eq!(env.other_nodes(), Vec::<String>::new());

    // A worker killed without a Drain: its node turns Down and the instance UNHEALTHY...
    let w2 = prepare(&mut f, "worker", &none, group_spec(&group, "w2"), 3).unwrap();
    let c2 = env.run_dind("w2", &w2.init);
    let i2 = described(&c2, &w2);
    wait_until("the second worker is HEALTHY", || {
        health(&mut f, "worker", &none, &i2) == Health::Healthy
    });
    // ...while a live member keeps being asked about, as a group does.
    let w3 = prepare(&mut f, "worker", &none, group_spec(&group, "w3"), 4).unwrap();
    let c3 = env.run_dind("w3", &w3.init);
    let i3 = described(&c3, &w3);
    wait_until("the third worker is HEALTHY", || {
        health(&mut f, "worker", &none, &i3) == Health::Healthy
    });
    let t = Instant::now();
    docker_ok(&["kill", &c2]);
    wait_until("the killed worker is UNHEALTHY", || {
        healthy(&mut f, "worker", &none, &i2)
            .reason
            .contains("is down")
    });
    eprintln!(
        "timing: docker kill -> node Down and UNHEALTHY in {:?}",
        t.elapsed()
    );
    // Nobody asks about the dead instance any more (its group replaced it): its node is swept.
    let t = Instant::now();
    wait_until("the dead worker's node is swept", || {
        assert_eq!(health(&mut f, "worker", &none, &i3), Health::Healthy);
        node_of(&link(&w2)).is_none()
    });
    eprintln!(
        "timing: dead worker's node swept {:?} after it was judged UNHEALTHY",
        t.elapsed()
    );
    drain(&mut f, "worker", &none, &i3).expect("drain the third worker");
    assert_eq!(
        env.other_nodes(),
        Vec::<String>::new(),
        "no nodes left behind"
    );
    assert_eq!(
        docker_ok(&["node", "ls", "-q"]),
        swarm.self_node,
        "only the local manager is left"
    );
    env.proc(flavor_proc).assert_running();
}
