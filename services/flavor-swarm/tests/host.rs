//! The flavor against the local engine alone: refused before the swarm exists, then a
//! single-node swarm (the local engine as its only manager) for Validate, Prepare (tokens,
//! manager address, tags, determinism), Healthy of an instance that never joins, and Drain of an
//! instance without a node and of the manager itself (refused).

use crate::support::calls::*;
use crate::support::*;
use infrakit_spi::flavor::v1::Health;
use serde_json::json;
use std::time::Duration;
use tonic::Code;

#[test]
fn a_single_node_swarm_prepares_judges_and_drains_without_instances() {
    let Some(mut env) = Env::new("host") else {
        return;
    };
    let flavor_proc = env.start_flavor();
    let mut f = env.flavor_client("flavor-swarm");
    let group = format!("g-{}", env.id);
    let none = json!({});

    // Before the swarm exists: Validate needs no swarm, Prepare says how to get one.
    validate(&mut f, "worker", "{}").expect("validate without a swarm");
    let st = prepare(&mut f, "worker", &none, group_spec(&group, "t1"), 1).unwrap_err();
    assert_eq!(st.code(), Code::FailedPrecondition, "{st:?}");
    assert!(
        st.message().contains("not in a swarm") && st.message().contains("docker swarm init"),
        "{st:?}"
    );

    // Validate: paths for bad Properties, NOT_FOUND for an unknown subtype.
    let st = validate(&mut f, "worker", r#"{"Rol": "x", "JoinTimeout": 5}"#).unwrap_err();
    assert_eq!(st.code(), Code::InvalidArgument);
    assert_eq!(
        violation_paths(&st),
        vec!["$.properties.Rol", "$.properties.JoinTimeout"]
    );
    let st = validate(&mut f, "worker", r#"{"Role": "manager"}"#).unwrap_err();
    assert_eq!(violation_paths(&st), vec!["$.properties.Role"]);
    let st = validate(&mut f, "boss", "{}").unwrap_err();
    assert_eq!(st.code(), Code::NotFound, "{st:?}");
    let st = validate(&mut f, "", "{not json").unwrap_err();
    assert_eq!(violation_paths(&st), vec!["$.properties"]);

    let swarm = env.init_swarm();
    let worker_token = docker_ok(&["swarm", "join-token", "-q", "worker"]);
    let manager_token = docker_ok(&["swarm", "join-token", "-q", "manager"]);
    let swarm_id = docker_ok(&["info", "--format", "{{.Swarm.Cluster.ID}}"]);

    // Prepare: the worker token, the manager's advertised address, tags; deterministic.
    let mut spec = group_spec(&group, "t1");
    spec.init = "echo from-the-instance-plugin".into();
    let w = prepare(&mut f, "worker", &none, spec.clone(), 1).unwrap();
    assert_eq!(w, prepare(&mut f, "worker", &none, spec, 1).unwrap());
    assert!(
        w.init
            .starts_with("echo from-the-instance-plugin\n# infrakit flavor-swarm")
    );
    assert!(
        w.init.contains(&format!("--token '{worker_token}'")),
        "{}",
        w.init
    );
    assert!(w.init.contains(&format!("'{}'", swarm.addr)), "{}", w.init);
    let link = w.tags["infrakit.link"].clone();
    assert_eq!(link.len(), 16);
    assert!(w.init.contains(&format!("\"infrakit.link={link}\"")));
    assert!(w.init.contains(&format!("\"infrakit.group={group}\"")));
    assert_eq!(w.tags["infrakit.swarm.id"], swarm_id);
    assert_eq!(w.tags["infrakit.swarm.role"], "worker");
    assert_eq!(w.tags["infrakit.group"], group, "the group's tags are kept");
    let other = prepare(&mut f, "worker", &none, group_spec(&group, "t2"), 2).unwrap();
    assert_ne!(other.tags["infrakit.link"], link, "one link per provision");

    // The manager role (by subtype or by Role) joins with the manager token; JoinAddresses win.
    let m = prepare(&mut f, "manager", &none, group_spec(&group, "t3"), 3).unwrap();
    assert!(m.init.contains(&format!("--token '{manager_token}'")));
    assert_eq!(m.tags["infrakit.swarm.role"], "manager");
    let props =
        json!({"Role": "manager", "JoinAddresses": ["lb.example:2377"], "AdvertiseAddr": "eth0"});
    let m = prepare(&mut f, "", &props, group_spec(&group, "t4"), 4).unwrap();
    assert!(m.init.contains(&format!("--token '{manager_token}'")));
    assert!(
        m.init.contains("for addr in 'lb.example:2377'; do"),
        "{}",
        m.init
    );
    assert!(m.init.contains("--advertise-addr 'eth0'"), "{}", m.init);

    // Healthy: an instance that never joins is UNKNOWN (asked again within a second), then
    // UNHEALTHY once JoinTimeout has passed since it was first asked about.
    let inst = described("i-never-joins", &w);
    let quick = json!({"JoinTimeout": "2s"});
    let h = healthy(&mut f, "worker", &quick, &inst);
    assert_eq!(h.health(), Health::Unknown, "{h:?}");
    assert!(h.reason.contains("has not joined the swarm yet"), "{h:?}");
    assert_eq!(h.recheck_after.unwrap().seconds, 1);
    wait_for(
        "UNHEALTHY after JoinTimeout",
        Duration::from_secs(10),
        || health(&mut f, "worker", &quick, &inst) == Health::Unhealthy,
    );
    let mut untagged = inst.clone();
    untagged.tags.remove("infrakit.link");
    let h = healthy(&mut f, "worker", &none, &untagged);
    assert_eq!(h.health(), Health::Unhealthy);
    assert!(
        h.reason.contains("was not prepared by the swarm flavor"),
        "{h:?}"
    );

    // Drain: an instance without a node is drained at once.
    drain(&mut f, "worker", &none, &inst).expect("drain of an instance without a node");
    // The manager the plugin talks to is never drained.
    docker_ok(&[
        "node",
        "update",
        "--label-add",
        "infrakit.instance=i-self",
        &swarm.self_node,
    ]);
    let st = drain(
        &mut f,
        "worker",
        &none,
        &described("i-self", &group_spec(&group, "x")),
    )
    .unwrap_err();
    assert_eq!(st.code(), Code::FailedPrecondition, "{st:?}");
    assert!(
        st.message().contains("the manager this plugin talks to"),
        "{st:?}"
    );
    assert_eq!(env.other_nodes(), Vec::<String>::new());
    assert_eq!(swarm_state(), "active");
    env.proc(flavor_proc).assert_running();
}
