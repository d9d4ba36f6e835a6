//! Groups of Terraform instances through the real group controller and vanilla flavor: the
//! group converges, scales up and down, replaces a destroyed member, rolls an update, heals
//! drift (a resource removed from the state, a failed check, a file deleted by hand), and
//! destroying the group leaves no process, no state and no file behind.

use crate::support::*;
use infrakit_spi::instance::v1::InstanceState;
use std::collections::BTreeSet;
use std::time::Instant;

/// This test's group (`tf-<run>`) of Terraform instances through the vanilla flavor.
struct Group {
    g: GroupHarness,
    id: String,
}

impl Group {
    fn new(env: &Env) -> Self {
        Self {
            g: env.group(),
            id: format!("tf-{}", env.id),
        }
    }

    fn commit(&mut self, size: u32, properties: serde_json::Value) {
        self.g.commit(&serde_json::json!({
            "ID": self.id,
            "Properties": {
                "Allocation": {"Size": size},
                "Instance": {"Plugin": "instance-terraform", "Properties": properties},
                "Flavor": {"Plugin": "flavor-vanilla", "Properties": {"Init": ["exec sleep 3600"]}},
                "Updating": {"MaxSurge": 1, "MaxUnavailable": 0}
            }
        }));
    }

    fn converged(&mut self, n: u32) -> bool {
        self.g.converged(&self.id, n)
    }

    fn destroy(&mut self) {
        self.g.destroy(&self.id);
    }
}

/// The plugin, the vanilla flavor and the group controller in a new test world, with a Group
/// and an Instance client; `None` when the test is skipped.
fn start(test: &str) -> Option<(Env, Group, Client)> {
    let mut env = Env::new(test)?;
    env.start_plugin(&[]);
    env.start_vanilla();
    env.start_group(&["--health-interval", "200ms", "--poll-interval", "250ms"]);
    let g = Group::new(&env);
    let c = env.client();
    Some((env, g, c))
}

/// The running members (per the plugin) and the instance processes, checked to match.
fn members(c: &mut Client) -> BTreeSet<String> {
    c.describe(&[])
        .into_iter()
        .filter(|d| d.state() == InstanceState::Running)
        .map(|d| d.id)
        .collect()
}

/// The instance IDs of the live instance processes.
fn process_ids(env: &Env) -> BTreeSet<String> {
    env.instance_processes()
        .into_iter()
        .filter_map(|(pid, _)| environ(pid).get("IKT_ID").cloned())
        .collect()
}

/// Waits until the group has `n` members, converged, each with exactly one live process.
fn settled(g: &mut Group, c: &mut Client, env: &Env, n: usize, what: &str) -> BTreeSet<String> {
    let mut last = BTreeSet::new();
    wait_until(what, || {
        last = members(c);
        last.len() == n
            && c.describe(&[]).len() == n
            && process_ids(env) == last
            && env.instance_processes().len() == n
            && g.converged(n as u32)
    });
    last
}

fn everything_is_gone(g: &mut Group, c: &mut Client, env: &Env) {
    g.destroy();
    wait_until("the group's instances are destroyed", || {
        c.describe(&[]).is_empty() && env.instance_processes().is_empty()
    });
    assert!(env.state_addresses().is_empty(), "the state is empty");
    assert!(env.instance_files().is_empty(), "no instance file is left");
    let created = env.lines("created.log").len();
    let destroyed = env.lines("destroyed.log").len();
    assert_eq!(
        created, destroyed,
        "every instance created was destroyed by its provisioner"
    );
}

#[test]
fn a_group_scales_replaces_and_rolls_through_terraform() {
    let Some((env, mut g, mut c)) = start("group") else {
        return;
    };

    let t = Instant::now();
    g.commit(3, env.instance_properties("1", 0));
    settled(&mut g, &mut c, &env, 3, "3 members");
    eprintln!(
        "timing: commit -> 3 instances running and converged in {:?}",
        t.elapsed()
    );

    let t = Instant::now();
    g.commit(5, env.instance_properties("1", 0));
    settled(&mut g, &mut c, &env, 5, "scaled up to 5");
    eprintln!("timing: scale 3 -> 5 in {:?}", t.elapsed());

    let t = Instant::now();
    g.commit(2, env.instance_properties("1", 0));
    let two = settled(&mut g, &mut c, &env, 2, "scaled down to 2");
    eprintln!("timing: scale 5 -> 2 in {:?}", t.elapsed());
    assert_eq!(env.lines("destroyed.log").len(), 3);

    // An instance destroyed behind the group's back is replaced.
    let victim = two.iter().next().unwrap().clone();
    let t = Instant::now();
    c.destroy(&victim).unwrap();
    wait_until("the destroyed member leaves", || {
        !members(&mut c).contains(&victim)
    });
    let now = settled(&mut g, &mut c, &env, 2, "the destroyed member is replaced");
    assert!(!now.contains(&victim));
    eprintln!("timing: destroyed member replaced in {:?}", t.elapsed());

    // Rolling update: every member is replaced by one with the new version.
    let old = now;
    let t = Instant::now();
    g.commit(2, env.instance_properties("2", 0));
    let new = settled(&mut g, &mut c, &env, 2, "rolled to version 2");
    assert!(new.is_disjoint(&old), "{old:?} {new:?}");
    wait_until("every process runs version 2", || {
        env.instance_processes()
            .iter()
            .all(|(pid, _)| environ(*pid).get("IKT_VERSION").map(String::as_str) == Some("2"))
    });
    eprintln!("timing: rolling update of 2 instances in {:?}", t.elapsed());

    everything_is_gone(&mut g, &mut c, &env);
}

#[test]
fn drift_is_noticed_and_the_group_heals_it() {
    let Some((env, mut g, mut c)) = start("drift") else {
        return;
    };
    g.commit(2, env.instance_properties("1", 0));
    let start = settled(&mut g, &mut c, &env, 2, "2 members");

    // 1. The resource leaves Terraform's state (its process is gone too): reported gone.
    let lost = start.iter().next().unwrap().clone();
    let pid: u32 = std::fs::read_to_string(env.run_dir().join(format!("{lost}.pid")))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::process::Command::new("kill")
        .arg(pid.to_string())
        .status()
        .unwrap();
    let t = Instant::now();
    env.terraform(&[
        "state",
        "rm",
        "-lock-timeout=30s",
        &format!("terraform_data.{lost}"),
    ]);
    wait_until("the lost member leaves the group", || {
        !members(&mut c).contains(&lost)
    });
    let now = settled(&mut g, &mut c, &env, 2, "the lost member is replaced");
    assert!(!now.contains(&lost));
    eprintln!("timing: state rm -> replaced in {:?}", t.elapsed());

    // 2. The process dies: the check fails, the instance is FAILED, destroyed and replaced.
    let failing = now.iter().next().unwrap().clone();
    let pidfile = env.run_dir().join(format!("{failing}.pid"));
    let pid = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .to_string();
    std::process::Command::new("kill")
        .arg(&pid)
        .status()
        .unwrap();
    let t = Instant::now();
    wait_until("the failing member leaves the group", || {
        !members(&mut c).contains(&failing)
    });
    let now = settled(&mut g, &mut c, &env, 2, "the failing member is replaced");
    assert!(!now.contains(&failing));
    assert!(env.lines("destroyed.log").contains(&failing));
    eprintln!("timing: failed check -> replaced in {:?}", t.elapsed());

    // 3. A member's file deleted by hand: destroyed (its process stopped) and replaced.
    let deleted = now.iter().next().unwrap().clone();
    std::fs::remove_file(env.work().join(format!("{deleted}.tf.json"))).unwrap();
    wait_until("the deleted member leaves the group", || {
        !members(&mut c).contains(&deleted)
    });
    let now = settled(&mut g, &mut c, &env, 2, "the deleted member is replaced");
    assert!(!now.contains(&deleted));
    assert!(env.lines("destroyed.log").contains(&deleted));

    g.destroy();
    wait_until("the group's instances are destroyed", || {
        c.describe(&[]).is_empty() && env.instance_processes().is_empty()
    });
    assert!(env.state_addresses().is_empty());
    assert!(env.instance_files().is_empty());
}
