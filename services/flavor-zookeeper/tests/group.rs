//! A ZooKeeper ensemble as a group of pets, run by the real group controller through the real
//! process instance plugin and this flavor: it forms a quorum, a member killed with `kill -9`
//! is replaced with the same identity and rejoins, and a settings change is rolled one member
//! at a time while a kazoo client keeps writing, without losing an acknowledged write.

use crate::support::*;
use infrakit_testkit::GroupHarness;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const IDS: [&str; 3] = ["127.0.0.11", "127.0.0.12", "127.0.0.13"];

/// The members of group `id`: instance ID by logical ID.
fn members(g: &mut GroupHarness, id: &str) -> BTreeMap<String, String> {
    g.describe(id)
        .map(|d| {
            d.instances
                .into_iter()
                .map(|i| (i.logical_id, i.id))
                .collect()
        })
        .unwrap_or_default()
}

fn spec(group: &str, ports: [u16; 3], max_client_cnxns: u32) -> serde_json::Value {
    serde_json::json!({
        "ID": group,
        "Properties": {
            "Allocation": {"LogicalIDs": IDS},
            "Instance": {"Plugin": "instance-process", "Properties": {"StopGracePeriod": "5s"}},
            "Flavor": {"Plugin": "flavor-zookeeper", "Properties": {
                "ClientPort": ports[0], "QuorumPort": ports[1], "ElectionPort": ports[2],
                "JavaOpts": TEST_JAVA_OPTS,
                "Settings": {"tickTime": 500, "initLimit": 20, "syncLimit": 10,
                             "maxClientCnxns": max_client_cnxns},
                "StartGracePeriod": "30s"}},
            // A logical ID is an address two members cannot share: replace in place, one at a time.
            "Updating": {"MaxSurge": 0, "MaxUnavailable": 1}
        }
    })
}

/// Members that answer `ruok`.
fn alive(port: u16) -> usize {
    IDS.iter()
        .filter(|h| four(h, port, "ruok").is_some_and(|a| a == "imok"))
        .count()
}

/// Members that serve as leader or follower.
fn voting(port: u16) -> usize {
    IDS.iter()
        .filter(|h| mode(h, port).is_some_and(|m| m == "leader" || m == "follower"))
        .count()
}

#[test]
fn an_ensemble_of_pets_forms_heals_and_rolls_without_losing_a_write() {
    if skip_without_zookeeper(
        "an_ensemble_of_pets_forms_heals_and_rolls_without_losing_a_write",
        true,
    ) {
        return;
    }
    let mut env = Env::new();
    let procs = env.join("procs");
    let procs_s = procs.display().to_string();
    env.start(
        &bin("infrakit-instance-process"),
        "instance-process",
        &["--dir", &procs_s],
    );
    env.start(&flavor_binary(), "flavor-zookeeper", &[]);
    env.start_group(&["--health-interval", "200ms"]);
    let mut g = env.group();
    let ports = free_ports(&IDS);
    let client = ports[0];
    let gid = format!("zk-{}", infrakit_runtime::socket::random_hex(3));

    // Form.
    let t = Instant::now();
    g.commit(&spec(&gid, ports, 60));
    wait_until("the ensemble converged: 3 members healthy", || {
        g.converged(&gid, 3)
    });
    let formed = t.elapsed();
    eprintln!(
        "timing: commit -> ensemble of 3 formed (group converged, all healthy) in {formed:?}"
    );
    assert_eq!(voting(client), 3);
    let first = members(&mut g, &gid);
    assert_eq!(first.keys().map(String::as_str).collect::<Vec<_>>(), IDS);

    // Heal: kill -9 of member 127.0.0.12's JVM.
    let victim_id = first[IDS[1]].clone();
    let cfg = format!("{procs_s}/{victim_id}/work/zoo.cfg");
    let pids = pids_mentioning(&cfg);
    assert_eq!(pids.len(), 1, "one JVM runs {cfg}: {pids:?}");
    let t = Instant::now();
    kill_pid(pids[0]);
    wait_until(
        "127.0.0.12 replaced with the same identity and rejoined",
        || {
            let m = members(&mut g, &gid);
            m.get(IDS[1]).is_some_and(|id| *id != victim_id)
                && g.converged(&gid, 3)
                && voting(client) == 3
        },
    );
    let healed = t.elapsed();
    eprintln!("timing: kill -9 of a member -> replaced, rejoined, group converged in {healed:?}");
    let d = g.describe(&gid).unwrap();
    let new = d.instances.iter().find(|i| i.logical_id == IDS[1]).unwrap();
    assert_eq!(new.tags["zookeeper.myid"], "2");
    assert_eq!(new.health, "healthy", "{}", new.health_reason);

    // Roll a settings change while a client keeps writing.
    let before = members(&mut g, &gid);
    let stop = env.join("writer.stop");
    let wlog = env.join("writer.log");
    let hosts: Vec<String> = IDS.iter().map(|h| format!("{h}:{client}")).collect();
    let mut child = Command::new(python())
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/writer.py"))
        .arg(hosts.join(","))
        .arg(format!("/{gid}"))
        .arg(&stop)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&wlog).unwrap())
        .spawn()
        .expect("start writer.py");
    let stdout = child.stdout.take().unwrap();
    let w = env.adopt(child, wlog);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let ready = rx.recv_timeout(Duration::from_secs(30));
    assert_eq!(
        ready.as_deref(),
        Ok("ready"),
        "writer log:\n{}",
        env.proc(w).logs()
    );
    std::thread::sleep(Duration::from_millis(500)); // some writes before the roll

    let t = Instant::now();
    let old_hash = g.describe(&gid).unwrap().spec_hash;
    g.commit(&spec(&gid, ports, 61));
    let mut min_alive = 3;
    let mut max_members = 0;
    wait_until("every member replaced by the new configuration", || {
        min_alive = min_alive.min(alive(client));
        let d = g.describe(&gid);
        max_members = max_members.max(d.as_ref().map_or(0, |d| d.instances.len()));
        let now = members(&mut g, &gid);
        d.is_ok_and(|d| d.spec_hash != old_hash)
            && now.len() == 3
            && now.iter().all(|(l, id)| before.get(l) != Some(id))
            && g.converged(&gid, 3)
    });
    let rolled = t.elapsed();
    eprintln!(
        "timing: rolling update of 3 members in {rolled:?} (fewest members alive at once: {min_alive})"
    );
    assert!(
        min_alive >= 2,
        "a majority kept running throughout the roll (fewest alive: {min_alive})"
    );
    assert!(
        max_members <= 3,
        "no member was added beside its old self ({max_members} listed)"
    );
    assert_eq!(voting(client), 3);
    let cfgs: Vec<String> = members(&mut g, &gid)
        .values()
        .map(|id| std::fs::read_to_string(format!("{procs_s}/{id}/work/zoo.cfg")).unwrap())
        .collect();
    assert!(
        cfgs.iter().all(|c| c.contains("maxClientCnxns=61\n")),
        "{cfgs:?}"
    );

    let drained = env
        .logs_of("flavor-zookeeper")
        .matches("the others keep the quorum")
        .count();
    assert!(
        drained >= 3,
        "each replaced member was drained while the others kept the quorum ({drained} drains logged)"
    );

    std::thread::sleep(Duration::from_millis(500)); // some writes after the roll
    std::fs::write(&stop, b"").unwrap();
    let summary = rx
        .recv_timeout(Duration::from_secs(45))
        .unwrap_or_else(|e| {
            panic!(
                "no summary from writer.py ({e}); log:\n{}",
                env.proc(w).logs()
            )
        });
    let s: serde_json::Value = serde_json::from_str(&summary).expect("writer summary JSON");
    eprintln!("writer: {s}");
    assert!(s["acked"].as_u64().unwrap() > 50, "{s}");
    assert_eq!(
        s["missing"],
        serde_json::json!([]),
        "acknowledged writes were lost: {s}"
    );

    // Destroy: every member's process ends.
    g.destroy(&gid);
    wait_until("every member's JVM gone", || {
        pids_of(&format!("{procs_s}/")).is_empty()
    });
}
