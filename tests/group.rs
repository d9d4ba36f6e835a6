//! The group controller over real plugins: convergence, self-healing, plans, restarts in the
//! middle of changes, observation failures, health remediation, and rollouts that fail.

use crate::group_support::*;
use crate::support::*;
use infrakit_spi::group::v1::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

fn note_of(v: &serde_json::Value) -> String {
    v["Spec"]["Properties"]["Note"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn a_group_converges_heals_deleted_instances_and_is_destroyed() {
    let m = Mesh::start();
    let plan = m
        .commit(&cattle("cattle", 5, "v1"), false)
        .unwrap()
        .plan
        .unwrap();
    assert_eq!(plan.summary, "Managing 5 instances");
    let d = m.wait_converged("cattle", 5);
    assert_eq!(m.instances().len(), 5);
    for i in &d.instances {
        assert_eq!(i.tags["infrakit.group"], "cattle");
        assert_eq!(i.tags["tier"], "web", "the flavor's tags are applied");
    }
    let before: BTreeSet<String> = m.instances().into_iter().map(|(id, _)| id).collect();
    let victims: Vec<&String> = before.iter().take(2).collect();
    for v in &victims {
        std::fs::remove_file(m.inst.join(format!("{v}.json"))).unwrap();
    }
    wait_until("the two deleted instances are replaced", || {
        let now: BTreeSet<String> = m.instances().into_iter().map(|(id, _)| id).collect();
        now.len() == 5 && victims.iter().all(|v| !now.contains(*v))
    });
    m.wait_converged("cattle", 5);

    let left = m
        .call(async |c| {
            c.destroy_group(DestroyGroupRequest {
                id: "cattle".into(),
            })
            .await
        })
        .unwrap();
    assert!(left.remaining <= 5);
    wait_until("the group and its instances are gone", || {
        m.instances().is_empty()
            && m.describe("cattle")
                .is_err_and(|s| s.code() == tonic::Code::NotFound)
    });
    assert!(
        !m.t.join("state/cattle.json").exists(),
        "nothing is left in the state directory"
    );
}

#[test]
fn the_seed_demo_plan_has_no_side_effect_and_applying_it_rolls_5_and_adds_5() {
    let m = Mesh::start();
    m.commit(&cattle("cattle", 5, "v1"), false).unwrap();
    m.wait_converged("cattle", 5);
    let before = m.instances();

    let r = m.commit(&cattle("cattle", 10, "v2"), true).unwrap();
    let plan = r.plan.unwrap();
    assert_eq!(
        plan.summary,
        "Performing a rolling update on 5 instances, then adding 5 instances to increase the group size to 10"
    );
    assert_eq!((plan.roll, plan.create), (5, 5));
    // A pretend commit changes nothing. Force a reconcile pass after it (heal a deleted
    // instance): that pass must still work to the old spec (5 instances of v1).
    let victim = before[0].0.clone();
    std::fs::remove_file(m.inst.join(format!("{victim}.json"))).unwrap();
    wait_until("the deleted instance is healed", || {
        let now = m.instances();
        now.len() == 5 && now.iter().all(|(id, _)| *id != victim)
    });
    m.wait_converged("cattle", 5);
    assert!(
        m.instances().iter().all(|(_, v)| note_of(v) == "v1"),
        "still v1 after the pretend commit"
    );
    let specs = m
        .call(async |c| c.inspect_groups(InspectGroupsRequest {}).await)
        .unwrap();
    let props: serde_json::Value = serde_json::from_slice(&specs.groups[0].properties).unwrap();
    assert_eq!(props["Allocation"]["Size"], 5);

    m.commit(&cattle("cattle", 10, "v2"), false).unwrap();
    m.wait_converged("cattle", 10);
    let after = m.instances();
    assert_eq!(after.len(), 10);
    assert!(
        after.iter().all(|(_, v)| note_of(v) == "v2"),
        "every instance runs v2"
    );
    let noop = m
        .commit(&cattle("cattle", 10, "v2"), true)
        .unwrap()
        .plan
        .unwrap();
    assert!(noop.noop, "{noop:?}");
}

#[test]
fn set_size_and_destroy_instances_resize_without_rolling() {
    let m = Mesh::start();
    m.commit(&cattle("g", 4, "v1"), false).unwrap();
    m.wait_converged("g", 4);
    let r = m
        .call(async |c| {
            c.set_size(SetSizeRequest {
                id: "g".into(),
                size: 6,
            })
            .await
        })
        .unwrap();
    assert_eq!((r.previous, r.size), (4, 6));
    m.wait_converged("g", 6);
    let victim = m.instances()[0].0.clone();
    let st = m
        .call(async |c| {
            c.destroy_instances(DestroyInstancesRequest {
                id: "g".into(),
                instance_ids: vec![victim.clone(), "instance-stranger".into()],
            })
            .await
        })
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::NotFound);
    assert!(
        st.message().contains("instance-stranger"),
        "{}",
        st.message()
    );
    assert_eq!(m.instances().len(), 6, "nothing was destroyed");
    let r = m
        .call(async |c| {
            c.destroy_instances(DestroyInstancesRequest {
                id: "g".into(),
                instance_ids: vec![victim.clone()],
            })
            .await
        })
        .unwrap();
    assert_eq!(r.size, 5);
    m.wait_converged("g", 5);
    assert!(
        m.instances().iter().all(|(id, _)| *id != victim),
        "the named instance is the one removed"
    );
}

/// Starts a thread that samples the number of instance files until stopped; returns the max.
fn sample_max(
    dir: std::path::PathBuf,
) -> (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::thread::JoinHandle<usize>,
) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    let h = std::thread::spawn(move || {
        let mut max = 0;
        // Sampling, not waiting: the loop looks every 2 ms until told to stop.
        #[allow(clippy::disallowed_methods)]
        while !s.load(std::sync::atomic::Ordering::Relaxed) {
            max = max.max(instance_files(&dir));
            std::thread::sleep(Duration::from_millis(2));
        }
        max
    });
    (stop, h)
}

#[test]
fn kill_9_during_a_scale_up_resumes_without_an_extra_instance() {
    let mut m = Mesh::start();
    let (stop, sampler) = sample_max(m.inst.clone());
    m.commit(&cattle("big", 300, "v1"), false).unwrap();
    wait_until("the scale-up is under way", || instance_files(&m.inst) > 0);
    m.kill_group();
    let mid = instance_files(&m.inst);
    m.start_group();
    m.wait_converged("big", 300);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let max = sampler.join().unwrap();
    assert_eq!(instance_files(&m.inst), 300);
    assert!(
        max <= 300,
        "at most 300 instances ever existed, saw {max} (killed at {mid})"
    );
}

#[test]
fn kill_9_during_a_rolling_update_resumes_it_within_the_surge() {
    let mut m = Mesh::start();
    let spec = |note: &str| {
        let mut s = cattle("roll", 6, note);
        s["Properties"]["Updating"] =
            serde_json::json!({"MaxSurge": 1, "MaxUnavailable": 0, "HealthyFor": "200ms"});
        s
    };
    m.commit(&spec("v1"), false).unwrap();
    m.wait_converged("roll", 6);
    let (stop, sampler) = sample_max(m.inst.clone());
    m.commit(&spec("v2"), false).unwrap();
    wait_until("the update has replaced some but not all instances", || {
        let n = m
            .instances()
            .iter()
            .filter(|(_, v)| note_of(v) == "v2")
            .count();
        (2..6).contains(&n)
    });
    m.kill_group();
    m.start_group();
    m.wait_converged("roll", 6);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let max = sampler.join().unwrap();
    assert!(m.instances().iter().all(|(_, v)| note_of(v) == "v2"));
    assert!(
        max <= 7,
        "never more than desired + surge instances, saw {max}"
    );
}

#[test]
fn kill_9_during_a_pets_rolling_update_loses_no_logical_id() {
    let mut m = Mesh::start();
    let spec = |note: &str| {
        serde_json::json!({
            "ID": "pets",
            "Properties": {
                "Allocation": {"LogicalIDs": ["10.0.0.1", "10.0.0.2", "10.0.0.3"]},
                "Instance": {"Plugin": "instance-file", "Properties": {"Note": note}},
                "Flavor": {"Plugin": "flavor-vanilla"},
                "Updating": {"HealthyFor": "200ms"}
            }
        })
    };
    m.commit(&spec("v1"), false).unwrap();
    m.wait_converged("pets", 3);
    m.commit(&spec("v2"), false).unwrap();
    wait_until("one pet has been replaced", || {
        m.instances().iter().any(|(_, v)| note_of(v) == "v2")
    });
    m.kill_group();
    m.start_group();
    m.wait_converged("pets", 3);
    let by_id: BTreeMap<String, String> = m
        .instances()
        .into_iter()
        .map(|(_, v)| (v["LogicalID"].as_str().unwrap().to_string(), note_of(&v)))
        .collect();
    assert_eq!(
        by_id.len(),
        3,
        "exactly one instance per logical ID: {by_id:?}"
    );
    assert!(by_id.values().all(|n| n == "v2"), "{by_id:?}");
}

#[test]
fn a_failing_describe_is_degraded_and_destroys_nothing() {
    let m = Mesh::start();
    m.commit(&cattle("g", 4, "v1"), false).unwrap();
    m.wait_converged("g", 4);
    let before = m.instances();
    m.file.signal("STOP");
    wait_until("the group reports Degraded", || {
        m.describe("g")
            .is_ok_and(|d| d.phase == Phase::Degraded as i32)
    });
    let d = m.describe("g").unwrap();
    assert!(d.last_error.unwrap().message.contains("DescribeInstances"));
    m.file.signal("CONT");
    m.wait_converged("g", 4);
    assert_eq!(m.instances(), before, "nothing was created or destroyed");
}

fn checked(
    id: &str,
    size: u32,
    note: &str,
    check: &str,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut s = cattle(id, size, note);
    s["Properties"]["Flavor"]["Properties"]["HealthCheck"] = check.into();
    for (k, v) in extra.as_object().unwrap() {
        s["Properties"][k] = v.clone();
    }
    s
}

#[test]
fn unhealthy_instances_are_replaced_within_the_cap_and_not_beyond() {
    let m = Mesh::start();
    let sick = m.t.join("sick");
    std::fs::create_dir_all(&sick).unwrap();
    let check = format!("test ! -e {}/$INFRAKIT_INSTANCE_ID", sick.display());
    let spec = checked(
        "h",
        6,
        "v1",
        &check,
        serde_json::json!({"Health": {"GracePeriod": "0s", "UnhealthyAfter": "200ms"}, "Remediation": {"MaxUnhealthy": 2}}),
    );
    m.commit(&spec, false).unwrap();
    m.wait_converged("h", 6);
    let ids: Vec<String> = m.instances().into_iter().map(|(id, _)| id).collect();

    // Three sick instances: more than the cap of 2, so none is replaced and the status says why.
    for id in &ids[..3] {
        std::fs::write(sick.join(id), "").unwrap();
    }
    wait_until("the group stops at the remediation cap", || {
        m.describe("h")
            .is_ok_and(|d| d.phase == Phase::Failing as i32 && d.healthy == 3)
    });
    let now: BTreeSet<String> = m.instances().into_iter().map(|(id, _)| id).collect();
    assert!(
        ids[..3].iter().all(|id| now.contains(id)),
        "nothing is replaced beyond the cap"
    );

    // Within the cap: both sick instances are replaced, and only from now on.
    let lifted = std::time::SystemTime::now();
    std::fs::remove_file(sick.join(&ids[2])).unwrap();
    m.wait_converged("h", 6);
    let events = m.describe("h").unwrap().recent_events;
    for e in events.iter().filter(|e| e.kind == "destroyed") {
        let t = e.time.unwrap();
        let at = std::time::UNIX_EPOCH + Duration::new(t.seconds as u64, t.nanos as u32);
        assert!(
            at >= lifted,
            "{} was destroyed while the cap was exceeded",
            e.instance_id
        );
    }
    let now: BTreeSet<String> = m.instances().into_iter().map(|(id, _)| id).collect();
    assert!(
        !now.contains(&ids[0]) && !now.contains(&ids[1]),
        "the sick instances were replaced"
    );
    assert!(now.contains(&ids[2]), "the recovered instance was kept");
}

#[test]
fn a_rollout_that_never_gets_healthy_halts_and_rolls_back_when_asked() {
    let m = Mesh::start();
    // Healthy only when the instance's file says v1: v2 instances never become healthy.
    let check = format!(
        "grep -q '\"v1\"' {}/$INFRAKIT_INSTANCE_ID.json",
        m.inst.display()
    );
    let policy = |rollback: bool| {
        serde_json::json!({
            "Updating": {"MaxSurge": 1, "Deadline": "1s", "AutoRollback": rollback},
            "Health": {"GracePeriod": "0s", "UnhealthyAfter": "100ms"}
        })
    };
    m.commit(&checked("r", 3, "v1", &check, policy(true)), false)
        .unwrap();
    let good = m.wait_converged("r", 3);
    m.commit(&checked("r", 3, "v2", &check, policy(true)), false)
        .unwrap();
    wait_until("the failed rollout is rolled back", || {
        m.describe("r")
            .is_ok_and(|d| d.recent_events.iter().any(|e| e.kind == "rollback"))
    });
    let back = m.wait_converged("r", 3);
    assert_eq!(
        back.spec_hash, good.spec_hash,
        "the previous spec is restored"
    );
    assert!(m.instances().iter().all(|(_, v)| note_of(v) == "v1"));
    assert!(m.instances().len() == 3);

    m.commit(&checked("r", 3, "v2", &check, policy(false)), false)
        .unwrap();
    wait_until(
        "without rollback the update halts, naming the reason",
        || {
            m.describe("r").is_ok_and(|d| {
                d.phase == Phase::Paused as i32
                    && d.update
                        .as_ref()
                        .is_some_and(|u| !u.halted_reason.is_empty())
            })
        },
    );
    let d = m.describe("r").unwrap();
    assert!(d.healthy >= 3, "old instances keep serving: {d:?}");
    assert_eq!(
        m.instances()
            .iter()
            .filter(|(_, v)| note_of(v) == "v1")
            .count(),
        3
    );
}

#[test]
fn a_bad_spec_is_refused_with_every_violation_and_its_path() {
    let m = Mesh::start();
    let spec = serde_json::json!({
        "ID": "bad",
        "Properties": {
            "Allocation": {"Size": 3, "LogicalIDs": ["a"]},
            "Instance": {"Plugin": "instance-fil", "Properties": {}},
            "Flavor": {"Plugin": "flavor-vanilla", "Properties": {"Inti": []}},
            "Updatng": {}
        }
    });
    let st = m.commit(&spec, false).unwrap_err();
    assert_eq!(st.code(), tonic::Code::InvalidArgument);
    let msg = st.message();
    assert!(msg.contains("$.Properties.Updatng"), "{msg}");
    assert!(msg.contains("Updating"), "did-you-mean: {msg}");
    assert!(msg.contains("$.Properties.Allocation"), "{msg}");
    let st = m
        .commit(
            &cattle("bad", 3, "x")
                .tap(|s| s["Properties"]["Instance"]["Plugin"] = "instance-fil".into()),
            false,
        )
        .unwrap_err();
    assert!(
        st.message().contains("$.Properties.Instance.Plugin"),
        "{}",
        st.message()
    );
    assert!(
        st.message().contains("did you mean \"instance-file\""),
        "{}",
        st.message()
    );
    let mut s = cattle("bad", 3, "x");
    s["Properties"]["Flavor"]["Properties"] = serde_json::json!({"Inti": []});
    let st = m.commit(&s, false).unwrap_err();
    assert!(
        st.message().contains("$.Properties.Flavor.Properties.Inti"),
        "{}",
        st.message()
    );
    assert!(m.describe("bad").is_err(), "nothing was committed");
}

/// Applies a change to a value and returns it.
trait Tap: Sized {
    fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
}

impl Tap for serde_json::Value {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}
