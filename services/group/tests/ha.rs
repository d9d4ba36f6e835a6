//! Group controllers sharing their groups through a real etcd (`--store etcd://...`): the real
//! binaries over real sockets, a real etcd cluster on loopback ports.

// Tests fail loudly: unwrap and expect are how a broken expectation is reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Samplers sleep between looks; readiness is always waited for with `eventually`.
#![allow(clippy::disallowed_methods)]

use infrakit_spi::group::v1::group_client::GroupClient;
use infrakit_testkit::etcd::EtcdCluster;
use infrakit_testkit::{GroupHarness, Mesh, Signal, bin, eventually};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TTL: &str = "3s";
const TTL_SECS: u64 = 3;

/// One test's world: etcd, the file instance plugin, the vanilla flavor, and controllers.
struct World {
    mesh: Mesh,
    etcd: EtcdCluster,
    inst: PathBuf,
    controllers: Vec<(String, usize)>,
}

impl World {
    fn new(members: usize) -> Self {
        let mut mesh = Mesh::new("ikha");
        let etcd = EtcdCluster::start(mesh.path(), members);
        let inst = mesh.join("instances");
        let dir = inst.display().to_string();
        mesh.start(
            &bin("infrakit-instance-file"),
            "instance-file",
            &["--dir", &dir],
        );
        mesh.start_vanilla();
        Self {
            mesh,
            etcd,
            inst,
            controllers: Vec::new(),
        }
    }

    /// Starts controller `ctl-<n>` serving as plugin `group-<n>`; returns its index.
    fn start_controller(&mut self, n: usize) -> usize {
        let url = self.etcd.url();
        let name = format!("ctl-{n}");
        let i = self.mesh.start(
            &bin("infrakit-group"),
            &format!("group-{n}"),
            &[
                "--store",
                &url,
                "--controller-name",
                &name,
                "--lease-ttl",
                TTL,
                "--health-interval",
                "200ms",
                "--resync-interval",
                "1s",
            ],
        );
        self.controllers.push((name, i));
        self.controllers.len() - 1
    }

    /// Starts controller `ctl-<n>` on a free loopback TCP port, registered with discovery as
    /// `group` (beside the other controllers started so). Its lease outlives the test, so a
    /// killed controller stays registered and clients have to get past it. Returns its index
    /// and endpoint.
    fn start_tcp_controller(&mut self, n: usize) -> (usize, String) {
        let port = infrakit_testkit::free_port();
        let endpoint = format!("tcp://127.0.0.1:{port}");
        let name = format!("ctl-{n}");
        let log = self.mesh.join(&format!("{name}.log"));
        let child = std::process::Command::new(bin("infrakit-group"))
            .args(["--name", "group", "--listen", &endpoint, "--insecure"])
            .args(["--store", &self.etcd.url(), "--controller-name", &name])
            .args(["--lease-ttl", TTL, "--health-interval", "200ms"])
            .args(["--resync-interval", "1s"])
            .env("INFRAKIT_PLUGINS_DIR", self.mesh.plugins())
            .env("INFRAKIT_REGISTER_TTL", "300")
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let i = self.mesh.adopt(child, log);
        self.controllers.push((name, i));
        (i, endpoint)
    }

    /// Runs `ikctl ARGS...` against this world's plugins directory.
    fn ikctl(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(bin("ikctl"))
            .args(args)
            .env("INFRAKIT_PLUGINS_DIR", self.mesh.plugins())
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    fn group(&self, n: usize) -> GroupHarness {
        self.mesh.client(&format!("group-{n}"), GroupClient::new)
    }

    /// The owner of each group, as etcd has it.
    fn owners(&self) -> BTreeMap<String, String> {
        self.etcd
            .get_prefix("/infrakit/owners/")
            .into_iter()
            .map(|(k, v)| (k.trim_start_matches("/infrakit/owners/").to_string(), v))
            .collect()
    }

    fn logs(&self) -> String {
        self.mesh.logs()
    }
}

fn spec(id: &str, size: u32, note: &str, healthy_for: &str) -> serde_json::Value {
    json!({"ID": id, "Properties": {
        "Allocation": {"Size": size},
        "Instance": {"Plugin": "instance-file", "Properties": {"Note": note}},
        "Flavor": {"Plugin": "flavor-vanilla", "Properties": {"Init": ["true"]}},
        "Updating": {"MaxSurge": 2, "MaxUnavailable": 0, "HealthyFor": healthy_for, "Deadline": "10m"},
        "Health": {"GracePeriod": "10s"}
    }})
}

/// The instance files of the directory: ID → (group, provision token, note).
fn instances(dir: &Path) -> HashMap<String, (String, String, String)> {
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".json").filter(|n| !n.starts_with('.')) else {
            continue;
        };
        let Ok(v) = std::fs::read(e.path())
            .map_err(|_| ())
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).map_err(|_| ()))
        else {
            continue;
        };
        let tag = |k: &str| v["Tags"][k].as_str().unwrap_or_default().to_string();
        let note = v["Spec"]["Properties"]["Note"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        out.insert(
            id.to_string(),
            (tag("infrakit.group"), tag("infrakit.provision.token"), note),
        );
    }
    out
}

/// Watches the instance directory from a thread: the most instances of `group` ever seen at
/// once, and every provision token with the instance IDs that carried it.
struct Sampler {
    stop: Arc<AtomicBool>,
    most: Arc<AtomicUsize>,
    tokens: Arc<Mutex<HashMap<String, BTreeSet<String>>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(dir: PathBuf, group: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let most = Arc::new(AtomicUsize::new(0));
        let tokens: Arc<Mutex<HashMap<String, BTreeSet<String>>>> = Arc::default();
        let (s, m, t, g) = (
            stop.clone(),
            most.clone(),
            tokens.clone(),
            group.to_string(),
        );
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let now = instances(&dir);
                let mine: Vec<_> = now.iter().filter(|(_, v)| v.0 == g).collect();
                m.fetch_max(mine.len(), Ordering::SeqCst);
                let mut t = t.lock().unwrap();
                for (id, (_, token, _)) in mine {
                    t.entry(token.clone()).or_default().insert(id.clone());
                }
                drop(t);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Self {
            stop,
            most,
            tokens,
            thread: Some(thread),
        }
    }

    /// (most instances at once, tokens used by more than one instance).
    fn finish(mut self) -> (usize, Vec<(String, BTreeSet<String>)>) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let dups = self
            .tokens
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(t, ids)| (t.clone(), ids.clone()))
            .collect();
        (self.most.load(Ordering::SeqCst), dups)
    }
}

fn count_notes(dir: &Path, group: &str, note: &str) -> usize {
    instances(dir)
        .values()
        .filter(|v| v.0 == group && v.2 == note)
        .count()
}

#[test]
fn thirty_groups_spread_over_three_controllers_each_managed_by_exactly_one() {
    let mut w = World::new(1);
    for n in 0..3 {
        w.start_controller(n);
    }
    let mut clients: Vec<GroupHarness> = (0..3).map(|n| w.group(n)).collect();
    for g in 0..30 {
        clients[g % 3].commit(&spec(&format!("g{g:02}"), 1, "v1", "0s"));
    }
    let ids: Vec<String> = (0..30).map(|g| format!("g{g:02}")).collect();
    // Settle: every controller names the same owner for each group, and the owners spread.
    let start = Instant::now();
    let mut settled = false;
    while start.elapsed() < Duration::from_secs(30) {
        let mut owner_of: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for c in clients.iter_mut() {
            for id in &ids {
                let o = c.describe(id).map(|d| d.owner).unwrap_or_default();
                owner_of.entry(id).or_default().insert(o);
            }
        }
        let agreed: Vec<&String> = owner_of
            .values()
            .filter(|o| o.len() == 1)
            .filter_map(|o| o.iter().next())
            .filter(|o| !o.is_empty())
            .collect();
        let per: Vec<usize> = (0..3)
            .map(|n| agreed.iter().filter(|o| ***o == format!("ctl-{n}")).count())
            .collect();
        if agreed.len() == 30 && per.iter().all(|&k| (1..=15).contains(&k)) {
            settled = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        settled,
        "the groups never spread; owners: {:?}\n{}",
        w.owners(),
        w.logs()
    );
    eventually(
        "every group converged",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || instances(&w.inst).len() == 30,
    );
    // At no moment did two controllers manage one group: each controller's claims and releases,
    // on one clock, never overlap another's.
    let mut spans: BTreeMap<String, Vec<(String, String, usize)>> = BTreeMap::new();
    for (n, (_, i)) in w.controllers.clone().into_iter().enumerate() {
        let log = w.mesh.proc(i).logs();
        let mut open: HashMap<String, String> = HashMap::new();
        for line in log.lines() {
            let (Some(ts), Some(g)) = (line.split_whitespace().next(), group_of(line)) else {
                continue;
            };
            if line.contains("kind=claimed") {
                open.insert(g, ts.to_string());
            } else if line.contains("kind=released") {
                let from = open.remove(&g).unwrap_or_default();
                spans.entry(g).or_default().push((from, ts.to_string(), n));
            }
        }
        for (g, from) in open {
            spans.entry(g).or_default().push((from, "~".to_string(), n));
        }
    }
    for (g, mut s) in spans {
        s.sort();
        for pair in s.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "group {g} managed by two controllers at once: {pair:?}\n{}",
                w.logs()
            );
        }
    }
}

/// The group a log line of an event is about.
fn group_of(line: &str) -> Option<String> {
    let rest = line.split("group=\"").nth(1)?;
    Some(rest.split('"').next()?.to_string())
}

#[test]
fn a_killed_owner_s_rolling_update_is_finished_by_another_controller_without_duplicates() {
    let mut w = World::new(1);
    w.start_controller(0);
    w.start_controller(1);
    let mut c0 = w.group(0);
    c0.commit(&spec("web", 20, "v1", "0s"));
    eventually(
        "20 members",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || count_notes(&w.inst, "web", "v1") == 20,
    );
    let owner = |w: &World| w.owners().get("web").cloned().unwrap_or_default();
    eventually(
        "an owner",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || !owner(&w).is_empty(),
    );
    let sampler = Sampler::start(w.inst.clone(), "web");
    // Each step of the roll waits 1 s of health, so the roll takes about 10 s.
    let first = owner(&w);
    let n = if first == "ctl-0" { 0 } else { 1 };
    w.group(n).commit(&spec("web", 20, "v2", "1s"));
    eventually(
        "the roll under way",
        Duration::from_secs(20),
        Duration::from_millis(20),
        || (4..=12).contains(&count_notes(&w.inst, "web", "v2")),
    );
    let killed_at = Instant::now();
    let i = w.controllers[n].1;
    w.mesh.proc(i).kill();
    let survivor = 1 - n;
    let mut c = w.group(survivor);
    eventually(
        "the survivor owns the group",
        Duration::from_secs(TTL_SECS + 2),
        Duration::from_millis(20),
        || owner(&w) == format!("ctl-{survivor}") && c.describe("web").is_ok(),
    );
    let took = killed_at.elapsed();
    eventually(
        "the roll finished",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || count_notes(&w.inst, "web", "v2") == 20 && instances(&w.inst).len() == 20,
    );
    let (most, dups) = sampler.finish();
    assert!(
        most <= 22,
        "{most} members at once: more than desired + surge"
    );
    assert!(dups.is_empty(), "provision tokens used twice: {dups:?}");
    eprintln!("takeover after kill -9: {took:?}");
}

#[test]
fn a_frozen_owner_that_wakes_up_after_the_group_moved_does_nothing_and_steps_down() {
    let mut w = World::new(1);
    w.start_controller(0);
    w.start_controller(1);
    w.group(0).commit(&spec("api", 6, "v1", "0s"));
    eventually(
        "6 members",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || count_notes(&w.inst, "api", "v1") == 6,
    );
    let owner = |w: &World| w.owners().get("api").cloned().unwrap_or_default();
    eventually(
        "an owner",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || !owner(&w).is_empty(),
    );
    let old = if owner(&w) == "ctl-0" { 0 } else { 1 };
    let new = 1 - old;
    w.group(old).commit(&spec("api", 6, "v2", "1s"));
    eventually(
        "the roll under way",
        Duration::from_secs(20),
        Duration::from_millis(20),
        || count_notes(&w.inst, "api", "v2") >= 2,
    );
    let frozen_epoch = w.group(old).describe("api").unwrap().epoch;
    assert!(frozen_epoch > 0);
    let pid = {
        let i = w.controllers[old].1;
        w.mesh.proc(i).pid().unwrap()
    };
    infrakit_testkit::procfs::signal(pid, Signal::STOP);
    let frozen_log_len = w.mesh.logs_of(&format!("group-{old}")).len();
    eventually(
        "the group moved and progressed",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || owner(&w) == format!("ctl-{new}") && count_notes(&w.inst, "api", "v2") >= 4,
    );
    infrakit_testkit::procfs::signal(pid, Signal::CONT);
    eventually(
        "the roll finished",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || count_notes(&w.inst, "api", "v2") == 6 && instances(&w.inst).len() == 6,
    );
    // The old owner steps down on its own, and does nothing under its old claim after it woke
    // up: whatever it does next is under a new claim (the group may be handed back to it).
    let log_of = |w: &World| {
        let all = w.mesh.logs_of(&format!("group-{old}"));
        all.get(frozen_log_len..).unwrap_or_default().to_string()
    };
    eventually(
        "the old owner stepped down",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || log_of(&w).contains("released the group"),
    );
    // The instance plugin remembers the newest owner's epoch, so a late call of the old owner
    // would be refused there too.
    let fences: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.inst.join(".fences.json")).unwrap()).unwrap();
    let fenced = fences["api"].as_u64().unwrap_or_default();
    assert!(
        fenced > frozen_epoch,
        "the plugin's fence for the group is {fenced}, not above the frozen owner's epoch {frozen_epoch}"
    );
    let after = log_of(&w);
    let old_claim = after.split("owns the group now").next().unwrap_or_default();
    assert!(
        old_claim.contains("released the group"),
        "the old owner claimed again before stepping down:\n{after}"
    );
    for kind in ["kind=provisioned", "kind=destroyed", "kind=labelled"] {
        assert!(
            !old_claim.lines().any(|l| l.contains(kind)),
            "the deposed owner acted ({kind}) after waking up:\n{after}"
        );
    }
}

#[test]
fn without_an_etcd_quorum_nothing_acts_and_with_it_back_everything_resumes() {
    let mut w = World::new(3);
    w.start_controller(0);
    w.start_controller(1);
    w.group(0).commit(&spec("db", 3, "v1", "0s"));
    eventually(
        "3 members",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || count_notes(&w.inst, "db", "v1") == 3,
    );
    eventually(
        "an owner",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || w.owners().contains_key("db"),
    );
    for n in 0..2 {
        let d = w.group(n).describe("db").unwrap();
        assert_eq!(
            d.owner,
            w.owners()["db"],
            "controller {n} names another owner"
        );
    }
    w.etcd.kill_member(1);
    w.etcd.kill_member(2);
    // Within one lease TTL (and a margin for the check) both controllers stop managing it.
    eventually(
        "both controllers stopped acting",
        Duration::from_secs(TTL_SECS + 5),
        Duration::from_millis(50),
        || {
            (0..2).all(|n| {
                w.group(n).describe("db").is_ok_and(|d| {
                    d.phase == infrakit_spi::group::v1::Phase::Degraded as i32
                        && d.message.contains("cannot reach etcd")
                })
            })
        },
    );
    // A member removed now is not replaced while there is no quorum.
    let victim = instances(&w.inst).into_keys().next().unwrap();
    std::fs::remove_file(w.inst.join(format!("{victim}.json"))).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        instances(&w.inst).len(),
        2,
        "something acted without an etcd quorum"
    );
    w.etcd.start_member(1);
    w.etcd.start_member(2);
    w.etcd.wait_healthy();
    eventually(
        "healed once etcd is back",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || count_notes(&w.inst, "db", "v1") == 3,
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(instances(&w.inst).len(), 3, "an instance was duplicated");
}

#[test]
fn any_controller_answers_for_any_group_and_relays_changes_to_its_owner() {
    let mut w = World::new(1);
    w.start_controller(0);
    w.start_controller(1);
    w.group(0).commit(&spec("shop", 2, "v1", "0s"));
    let owner = |w: &World| w.owners().get("shop").cloned().unwrap_or_default();
    eventually(
        "settled on its owner",
        Duration::from_secs(15),
        Duration::from_millis(50),
        || {
            let o = owner(&w);
            !o.is_empty() && (0..2).all(|n| w.group(n).describe("shop").is_ok_and(|d| d.owner == o))
        },
    );
    let other = if owner(&w) == "ctl-0" { 1 } else { 0 };
    let mut c = w.group(other);
    // A read on the other controller: from etcd, with the owner and its epoch.
    let d = c.wait_converged("shop", 2, Duration::from_secs(15));
    assert_eq!(d.owner, owner(&w));
    assert!(d.epoch > 0);
    // Changes sent to the other controller are carried out by the owner.
    c.commit(&spec("shop", 3, "v2", "0s"));
    eventually(
        "the owner rolled to v2 at 3",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || count_notes(&w.inst, "shop", "v2") == 3 && instances(&w.inst).len() == 3,
    );
    let answer = c.call(async |g| {
        g.set_size(infrakit_spi::group::v1::SetSizeRequest {
            id: "shop".into(),
            size: 1,
        })
        .await
    });
    assert_eq!(answer.unwrap().previous, 3);
    // A watch on the other controller follows the owner's events.
    let kinds = c
        .call(async |g| {
            let mut s = g
                .watch(infrakit_spi::group::v1::WatchRequest {
                    id: "shop".into(),
                    replay: true,
                })
                .await?
                .into_inner();
            let mut kinds = Vec::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while let Ok(Ok(Some(ev))) = tokio::time::timeout_at(deadline, s.message()).await {
                let done = ev.kind == "committed" && ev.message.contains("1 instance");
                kinds.push(format!("{}: {}", ev.kind, ev.message));
                if done {
                    break;
                }
            }
            Ok(tonic::Response::new(kinds))
        })
        .unwrap();
    assert!(
        kinds
            .iter()
            .any(|k| k.starts_with("committed") && k.contains("1 instance")),
        "the watch on the other controller did not see the scale-down: {kinds:#?}"
    );
    eventually(
        "scaled down to 1",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || instances(&w.inst).len() == 1,
    );
    // A bad spec sent to the other controller is refused there, naming the field.
    let bad = json!({"ID": "shop", "Properties": {"Allocation": {"Size": "three"}}});
    let st = c.try_commit(&bad).unwrap_err();
    assert_eq!(st.code(), tonic::Code::InvalidArgument, "{st:?}");
    let paths = infrakit_testkit::violation_paths(&st);
    assert!(paths.iter().any(|p| p.contains("Allocation")), "{paths:?}");
    // Inspect on either lists it.
    let listed = c
        .call(async |g| {
            g.inspect_groups(infrakit_spi::group::v1::InspectGroupsRequest {})
                .await
        })
        .unwrap();
    assert_eq!(listed.groups.len(), 1);
    // Freeing a group through a controller that does not own it answers at once.
    let owner_n = 1 - other;
    w.group(owner_n).commit(&spec("spare", 1, "v1", "0s"));
    eventually(
        "spare managed",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || w.owners().contains_key("spare"),
    );
    let spare_owner = w.owners()["spare"].clone();
    let via = if spare_owner == "ctl-0" { 1 } else { 0 };
    let t = Instant::now();
    w.group(via)
        .call(async |g| {
            g.free_group(infrakit_spi::group::v1::FreeGroupRequest { id: "spare".into() })
                .await
        })
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "FreeGroup took {:?}",
        t.elapsed()
    );
    eventually(
        "spare forgotten everywhere",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || (0..2).all(|n| w.group(n).gone("spare")),
    );
    // Destroying through the other controller removes everything, in etcd too.
    c.destroy("shop");
    eventually(
        "destroyed",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || instances(&w.inst).values().all(|v| v.0 != "shop") && c.gone("shop"),
    );
    eventually(
        "nothing left in etcd",
        Duration::from_secs(5),
        Duration::from_millis(50),
        || {
            w.etcd
                .get_prefix("/infrakit/")
                .iter()
                .all(|(k, _)| k.starts_with("/infrakit/controllers/"))
        },
    );
    assert_eq!(
        instances(&w.inst).len(),
        1,
        "the freed group's instance is left as it was"
    );
}

#[test]
fn controllers_reach_etcd_over_tls_with_a_client_certificate() {
    let mut mesh = Mesh::new("ikhat");
    let dir = mesh.join("tls");
    infrakit_testkit::write_test_pki(&dir, &["localhost", "127.0.0.1"]);
    let port = infrakit_testkit::free_port();
    let peer = infrakit_testkit::free_port();
    let url = format!("https://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("etcd.log")).unwrap();
    let child = std::process::Command::new("etcd")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args([
            "--listen-client-urls",
            &url,
            "--advertise-client-urls",
            &url,
        ])
        .args([
            "--listen-peer-urls",
            &format!("http://127.0.0.1:{peer}"),
            "--initial-advertise-peer-urls",
            &format!("http://127.0.0.1:{peer}"),
            "--initial-cluster",
            &format!("default=http://127.0.0.1:{peer}"),
        ])
        .arg("--cert-file")
        .arg(dir.join("server.pem"))
        .arg("--key-file")
        .arg(dir.join("server.key"))
        .arg("--trusted-ca-file")
        .arg(dir.join("ca.pem"))
        .arg("--client-cert-auth")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("etcd runs (tests/setup/etcd.sh installs it)");
    mesh.adopt(child, dir.join("etcd.log"));
    let inst = mesh.join("instances").display().to_string();
    mesh.start(
        &bin("infrakit-instance-file"),
        "instance-file",
        &["--dir", &inst],
    );
    mesh.start_vanilla();
    let path = |f: &str| dir.join(f).display().to_string();
    mesh.start(
        &bin("infrakit-group"),
        "group",
        &[
            "--store",
            &url,
            "--etcd-ca",
            &path("ca.pem"),
            "--etcd-cert",
            &path("cert.pem"),
            "--etcd-key",
            &path("key.pem"),
            "--controller-name",
            "tls-1",
        ],
    );
    let mut g = mesh.group();
    eventually(
        "the controller joined over TLS",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || g.try_commit(&spec("secure", 2, "v1", "0s")).is_ok(),
    );
    let d = g.wait_converged("secure", 2, Duration::from_secs(20));
    assert_eq!(d.owner, "tls-1");
}

#[test]
fn a_second_controller_with_a_taken_name_waits_and_says_why() {
    let mut w = World::new(1);
    w.start_controller(0);
    let url = w.etcd.url();
    w.mesh.start(
        &bin("infrakit-group"),
        "group-dup",
        &[
            "--store",
            &url,
            "--controller-name",
            "ctl-0",
            "--lease-ttl",
            TTL,
        ],
    );
    eventually(
        "the duplicate says why it waits",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            w.mesh
                .logs_of("group-dup")
                .contains(r#"another controller named "ctl-0" is registered"#)
        },
    );
    // The first one is untouched: it still creates and manages groups.
    w.group(0).commit(&spec("solo", 1, "v1", "0s"));
    w.group(0)
        .wait_converged("solo", 1, Duration::from_secs(20));
}

/// The stdout of a successful ikctl run; fails the test with its stderr otherwise.
fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "ikctl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ikctl_reaches_tcp_controllers_through_discovery_as_group_past_a_killed_one() {
    let mut w = World::new(1);
    w.mesh.start(&bin("infrakit-discovery"), "discovery", &[]);
    let (a, ea) = w.start_tcp_controller(0);
    let (b, eb) = w.start_tcp_controller(1);
    eventually(
        "discovery lists both controllers as `group`, serving",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let ls = ok(w.ikctl(&["plugin", "ls", "-o", "json"]));
            let rows: serde_json::Value = serde_json::from_str(&ls).unwrap();
            let serving: BTreeSet<String> = rows
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["name"] == "group" && r["health"] == "serving")
                .map(|r| r["endpoint"].as_str().unwrap_or_default().to_string())
                .collect();
            serving == BTreeSet::from([ea.clone(), eb.clone()])
        },
    );
    let file = w.mesh.join("shop.json");
    std::fs::write(&file, spec("shop", 2, "v1", "0s").to_string()).unwrap();
    let file = file.display().to_string();
    ok(w.ikctl(&["group", "commit", &file, "--wait"]));

    // Kill the controller ikctl reaches first; the name keeps working through the other.
    let info = ok(w.ikctl(&["plugin", "info", "group", "-o", "json"]));
    let first: serde_json::Value = serde_json::from_str(&info).unwrap();
    let (dead, live) = if first["endpoint"] == ea.as_str() {
        (a, eb)
    } else {
        (b, ea)
    };
    w.mesh.proc(dead).kill();
    let info = ok(w.ikctl(&["plugin", "info", "group", "-o", "json"]));
    let now: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(now["endpoint"], live.as_str());
    assert_eq!(ok(w.ikctl(&["group", "ls", "-q"])).trim(), "shop");
    std::fs::write(
        w.mesh.join("shop.json"),
        spec("shop", 3, "v1", "0s").to_string(),
    )
    .unwrap();
    ok(w.ikctl(&["group", "commit", &file]));
    eventually(
        "the surviving controller scaled the group to 3",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || instances(&w.inst).len() == 3,
    );
}
