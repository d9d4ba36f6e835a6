//! A cattle group of processes through the real group controller and vanilla flavor: it
//! converges, a process killed with kill -9 is replaced, and destroying the group stops every
//! process.

use crate::support::*;
use rustix::process::Signal;
use std::collections::BTreeSet;
use std::time::Instant;

#[test]
fn a_group_of_processes_converges_heals_a_killed_member_and_is_destroyed() {
    let mut env = Env::new();
    env.start_plugin();
    env.start_vanilla();
    env.start_group(&["--health-interval", "200ms"]);
    let mut g = env.group();
    let mut c = env.client();
    let members = |c: &mut Client| -> BTreeSet<(String, u32)> {
        c.describe(&[("infrakit.group", "sleepers")])
            .iter()
            .map(|d| (d.id.clone(), props(d)["Pid"].as_u64().unwrap_or(0) as u32))
            .collect()
    };

    let t = Instant::now();
    g.commit(&serde_json::json!({
        "ID": "sleepers",
        "Properties": {
            "Allocation": {"Size": 3},
            "Instance": {"Plugin": PLUGIN, "Properties": {"Command": "exec sleep 1000", "StopGracePeriod": "2s"}},
            "Flavor": {"Plugin": "flavor-vanilla", "Properties": {}}
        }
    }));
    wait_until("3 processes, group converged", || {
        members(&mut c).len() == 3
            && members(&mut c).iter().all(|(_, p)| running(*p))
            && g.converged("sleepers", 3)
    });
    eprintln!(
        "timing: commit -> 3 processes running and converged in {:?}",
        t.elapsed()
    );

    let before = members(&mut c);
    let (victim, pid) = before.iter().next().unwrap().clone();
    let t = Instant::now();
    signal(pid, Signal::KILL);
    wait_until("the killed process is replaced", || {
        let now = members(&mut c);
        now.len() == 3
            && !now.iter().any(|(id, _)| *id == victim)
            && now.iter().all(|(_, p)| running(*p))
            && g.converged("sleepers", 3)
    });
    eprintln!(
        "timing: kill -9 -> replaced and converged in {:?}",
        t.elapsed()
    );

    let pids: Vec<u32> = members(&mut c).iter().map(|(_, p)| *p).collect();
    g.destroy("sleepers");
    wait_until("every process of the group stopped", || {
        members(&mut c).is_empty() && pids.iter().all(|p| !running(*p))
    });
}
