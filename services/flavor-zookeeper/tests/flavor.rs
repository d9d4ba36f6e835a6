//! The flavor alone: Validate and Prepare over gRPC, and Healthy and Drain against three real
//! ZooKeeper members started from Prepare's Init scripts.

use crate::support::*;
use infrakit_spi::flavor::v1::*;
use infrakit_spi::instance::v1::{InstanceDescription, InstanceSpec, InstanceState};
use std::time::{Duration, Instant};

const IDS: [&str; 3] = ["127.0.0.21", "127.0.0.22", "127.0.0.23"];

fn allocation(ids: &[&str]) -> Option<Allocation> {
    Some(Allocation {
        size: 0,
        logical_ids: ids.iter().map(|s| s.to_string()).collect(),
    })
}

fn props(ports: [u16; 3]) -> Vec<u8> {
    serde_json::json!({
        "ClientPort": ports[0], "QuorumPort": ports[1], "ElectionPort": ports[2],
        "JavaOpts": TEST_JAVA_OPTS,
        "Settings": {"tickTime": 500, "initLimit": 20, "syncLimit": 10},
        "StartGracePeriod": "30s"
    })
    .to_string()
    .into_bytes()
}

fn instance(k: usize) -> InstanceDescription {
    InstanceDescription {
        id: format!("member-{k}"),
        logical_id: Some(IDS[k].to_string()),
        state: InstanceState::Running as i32,
        ..Default::default()
    }
}

fn healthy(f: &mut Flavor, p: &[u8], k: usize) -> HealthyResponse {
    let req = HealthyRequest {
        r#type: String::new(),
        properties: p.to_vec(),
        instance: Some(instance(k)),
    };
    f.call(async |c| c.healthy(req).await).expect("Healthy")
}

fn drain(f: &mut Flavor, p: &[u8], k: usize) -> Result<DrainResponse, tonic::Status> {
    let req = DrainRequest {
        fence: None,
        r#type: String::new(),
        properties: p.to_vec(),
        instance: Some(InstanceDescription {
            id: format!("member-{k}"),
            logical_id: Some(IDS[k].to_string()),
            ..Default::default()
        }),
    };
    f.call(async |c| c.drain(req).await)
}

fn prepare(
    f: &mut Flavor,
    p: &[u8],
    logical_id: Option<&str>,
) -> Result<InstanceSpec, tonic::Status> {
    let req = PrepareRequest {
        r#type: String::new(),
        properties: p.to_vec(),
        spec: Some(InstanceSpec {
            logical_id: logical_id.map(str::to_string),
            tags: [("infrakit.group".to_string(), "zk".to_string())].into(),
            ..Default::default()
        }),
        allocation: allocation(&IDS),
        index: Some(Index {
            group: "zk".into(),
            sequence: 1,
        }),
    };
    f.call(async |c| c.prepare(req).await)
        .map(|r| r.spec.expect("a spec"))
}

#[test]
fn validate_and_prepare_name_every_bad_field_by_its_json_path() {
    let mut env = Env::new();
    let mut f = env.start_flavor();
    let bad = |f: &mut Flavor, properties: serde_json::Value, alloc: Option<Allocation>| {
        let req = ValidateRequest {
            r#type: String::new(),
            properties: properties.to_string().into_bytes(),
            allocation: alloc,
        };
        f.call(async |c| c.validate(req).await).unwrap_err()
    };

    let st = bad(
        &mut f,
        serde_json::json!({"ClientPrt": 1, "Settings": {"dataDir": "/x"}}),
        allocation(&["10.0.0.1", "10.0.0.1", "not_a_host", "10.0.0.4"]),
    );
    assert_eq!(st.code(), tonic::Code::InvalidArgument);
    let paths = violation_paths(&st);
    for want in [
        "$.properties.ClientPrt",
        "$.properties.Settings.dataDir",
        "$.allocation.logical_ids",
        "$.allocation.logical_ids[1]",
        "$.allocation.logical_ids[2]",
    ] {
        assert!(
            paths.iter().any(|p| p == want),
            "{want} missing from {paths:?}"
        );
    }
    assert!(
        st.message().contains("did you mean \"ClientPort\"?"),
        "{}",
        st.message()
    );

    // Cattle are refused; an even size needs AllowEvenSize.
    let st = bad(
        &mut f,
        serde_json::json!({}),
        Some(Allocation {
            size: 3,
            logical_ids: vec![],
        }),
    );
    assert_eq!(violation_paths(&st), vec!["$.allocation.size"]);
    let even = allocation(&["10.0.0.1", "10.0.0.2"]);
    let st = bad(&mut f, serde_json::json!({}), even.clone());
    assert!(st.message().contains("AllowEvenSize"), "{}", st.message());
    let req = ValidateRequest {
        r#type: String::new(),
        properties: br#"{"AllowEvenSize": true}"#.to_vec(),
        allocation: even,
    };
    f.call(async |c| c.validate(req).await)
        .expect("an even size when allowed");

    // Prepare needs one of the allocation's logical IDs.
    let p = props([2181, 2888, 3888]);
    let st = prepare(&mut f, &p, None).unwrap_err();
    assert_eq!(violation_paths(&st), vec!["$.spec.logical_id"]);
    let st = prepare(&mut f, &p, Some("10.9.9.9")).unwrap_err();
    assert_eq!(violation_paths(&st), vec!["$.spec.logical_id"]);
    let spec = prepare(&mut f, &p, Some(IDS[1])).expect("prepare");
    assert_eq!(spec.tags["zookeeper.myid"], "2");
    assert_eq!(spec.tags["zookeeper.client-port"], "2181");
    assert!(
        spec.init.contains("server.3=127.0.0.23:2888:3888"),
        "{}",
        spec.init
    );
    assert!(
        spec.init.contains("clientPortAddress=127.0.0.22"),
        "{}",
        spec.init
    );
    assert!(
        spec.init
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("exec 'java'")
    );
    drop(env);
}

#[test]
fn members_from_prepared_init_scripts_form_a_quorum_and_healthy_follows_them() {
    if skip_without_zookeeper(
        "members_from_prepared_init_scripts_form_a_quorum_and_healthy_follows_them",
        false,
    ) {
        return;
    }
    let mut env = Env::new();
    let mut f = env.start_flavor();
    let ports = free_ports(&IDS);
    let p = props(ports);
    let scripts: Vec<String> = IDS
        .iter()
        .map(|id| prepare(&mut f, &p, Some(id)).expect("prepare").init)
        .collect();

    // Start the three members the way the process plugin would.
    let t = Instant::now();
    let mut members: Vec<Member> = scripts
        .iter()
        .enumerate()
        .map(|(k, s)| Member::start(&env.join(&format!("m{}", k + 1)), s, IDS[k]))
        .collect();
    for k in 0..3 {
        let h = healthy(&mut f, &p, k);
        assert_eq!(
            h.health(),
            Health::Unknown,
            "member {k} right after start: {h:?}"
        );
        assert!(h.reason.starts_with("starting"), "{}", h.reason);
        let again = h.recheck_after.expect("recheck_after");
        assert!(
            again.seconds == 0 && again.nanos > 0,
            "a short recheck while starting: {again:?}"
        );
    }
    let formed = wait_until("all three members HEALTHY", || {
        (0..3).all(|k| healthy(&mut f, &p, k).health() == Health::Healthy)
    });
    let formed = t.elapsed().max(formed);
    eprintln!("timing: 3 members started -> all HEALTHY (quorum formed) in {formed:?}");
    let modes: Vec<String> = IDS
        .iter()
        .map(|h| mode(h, ports[0]).unwrap_or_default())
        .collect();
    assert_eq!(
        modes.iter().filter(|m| *m == "leader").count(),
        1,
        "{modes:?}"
    );
    assert_eq!(
        modes.iter().filter(|m| *m == "follower").count(),
        2,
        "{modes:?}"
    );
    let h = healthy(&mut f, &p, 0);
    assert!(h.reason.contains("of a quorum"), "{}", h.reason);
    assert!(h.recheck_after.expect("recheck").seconds >= 1);

    // With every member serving, any one may be drained.
    drain(&mut f, &p, 0).expect("drain while the others keep the quorum");

    // Kill a follower: it is UNHEALTHY at once (it was healthy), the others stay HEALTHY.
    let victim = modes
        .iter()
        .position(|m| m == "follower")
        .expect("a follower");
    members[victim].kill();
    let h = healthy(&mut f, &p, victim);
    assert_eq!(h.health(), Health::Unhealthy, "{h:?}");
    assert!(h.reason.contains("does not answer"), "{}", h.reason);
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        for k in (0..3).filter(|k| *k != victim) {
            let h = healthy(&mut f, &p, k);
            assert_eq!(
                h.health(),
                Health::Healthy,
                "member {k} after the kill: {h:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    // Drain guards the quorum: the dead member may go, a serving one may not.
    drain(&mut f, &p, victim).expect("a member that does not serve may go");
    let other = (0..3).find(|k| *k != victim).unwrap();
    let st = drain(&mut f, &p, other).unwrap_err();
    assert_eq!(st.code(), tonic::Code::FailedPrecondition, "{st:?}");
    assert!(
        st.message().contains("would lose the quorum"),
        "{}",
        st.message()
    );
    assert!(st.message().contains(IDS[victim]), "{}", st.message());

    // The same member started again rejoins: HEALTHY again.
    let t = Instant::now();
    members[victim] = Member::start(
        &env.join(&format!("m{}", victim + 1)),
        &scripts[victim],
        IDS[victim],
    );
    wait_until("the restarted member HEALTHY", || {
        healthy(&mut f, &p, victim).health() == Health::Healthy
    });
    eprintln!(
        "timing: killed member restarted -> HEALTHY again in {:?}",
        t.elapsed()
    );
    drain(&mut f, &p, other).expect("drain once the quorum is whole again");
    assert!(
        members[victim].logs().contains("FOLLOWING") || members[victim].logs().contains("LEADING"),
        "{}",
        members[victim].logs()
    );
    drop(members);
    drop(env);
}
