//! A seeded simulation of the whole driver: the worker, its operations and the manager, over
//! fake plugins that lag, lose replies, fail and hang, with instances dying, health flapping,
//! listing outages, commits, resizes and controller crashes at random points. Invariants are
//! checked after every step of 100 ms. `SIM_SEED=<n>` replays one seed, `SIM_SEEDS=<n>` runs
//! seeds 1 to n, `SIM_STEPS` changes the length; each seed prints what it went through.

use super::fakes::{Behaviour, Call, Rig};
use super::{cattle, controller, spec};
use crate::manager::Manager;
use infrakit_group_core::{Health, Time};
use infrakit_spi::instance::v1::DestroyReason;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tonic::Code;

/// A small deterministic generator (xorshift64*), so a seed replays exactly.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1_000_000.0 < p
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn millis(&mut self, max: u64) -> Duration {
        Duration::from_millis(self.below(max))
    }
}

/// What the simulation knows that the controller may not.
struct World {
    rig: Rig,
    rng: Rng,
    pets: bool,
    /// (time, desired) of every commit, to bound the size.
    desired: Vec<(Time, u32)>,
    /// Health changes by instance: (time, health).
    health: HashMap<String, Vec<(Time, Health)>>,
    /// Health faults to end: (when, instance).
    recoveries: Vec<(Time, String)>,
    /// When the current listing outage started, if one is on.
    outage_since: Option<Time>,
    version: u32,
}

const SURGE: u32 = 1;

fn seeds() -> Vec<u64> {
    let var = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
    match var("SIM_SEED") {
        Some(seed) => vec![seed],
        None => (1..=var("SIM_SEEDS").unwrap_or(6)).collect(),
    }
}

fn steps() -> usize {
    std::env::var("SIM_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000)
}

#[tokio::test(start_paused = true)]
async fn the_driver_keeps_its_promises_under_random_faults_and_crashes() {
    for seed in seeds() {
        if let Err(e) = run(seed).await {
            panic!(
                "seed {seed}: {e}\nreplay with: SIM_SEED={seed} cargo test -p infrakit-group sim"
            );
        }
    }
}

fn properties(pets: bool, size: u32, version: u32) -> serde_json::Value {
    let mut p = cattle(
        size,
        json!({
            "Health": {"GracePeriod": "0s", "UnhealthyAfter": "2s"},
            "Remediation": {"MaxUnhealthy": 1, "Backoff": {"Initial": "1s", "Max": "10s"}},
        }),
    );
    p["Instance"]["Properties"] = json!({"Note": format!("v{version}")});
    if pets {
        p["Allocation"] = json!({"LogicalIDs": ["a", "b", "c", "d"]});
        p["Updating"] = json!({"MaxSurge": 0, "MaxUnavailable": 1});
    } else {
        p["Updating"] = json!({"MaxSurge": SURGE, "MaxUnavailable": 0});
    }
    p
}

async fn run(seed: u64) -> Result<(), String> {
    // Two seeds in three run over a plugin that watches: the members are then kept current
    // from pushed changes, with resyncs and broken streams thrown in.
    let watched = !seed.is_multiple_of(3);
    let mut w = World {
        rig: if watched { Rig::watched() } else { Rig::new() },
        rng: Rng::new(seed),
        pets: seed.is_multiple_of(2),
        desired: Vec::new(),
        health: HashMap::new(),
        outage_since: None,
        recoveries: Vec::new(),
        version: 1,
    };
    let (mut mgr, mut shutdown) = controller(&w.rig).await;
    let mut crashes = 0;
    let mut size = if w.pets { 4 } else { 5 };
    commit(&w, &mgr, size).await?;
    w.desired.push((w.rig.clock.now(), size));
    for _ in 0..steps() {
        w.perturb();
        if w.rng.chance(0.003) {
            // kill -9 at a random point, and a restart at once or a little later
            shutdown.trigger();
            drop(mgr);
            crashes += 1;
            tokio::time::sleep(w.rng.millis(3000)).await;
            (mgr, shutdown) = controller(&w.rig).await;
        }
        if w.rng.chance(0.003) {
            w.version += 1;
            if commit(&w, &mgr, size).await.is_ok() {
                w.desired.push((w.rig.clock.now(), size));
            } else {
                w.version -= 1;
            }
        }
        if !w.pets && w.rng.chance(0.003) {
            let new = 1 + w.rng.below(7) as u32;
            if mgr.set_size("g", new).await.is_ok() {
                size = new;
                w.desired.push((w.rig.clock.now(), size));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        w.check()?;
    }
    let calls = w.rig.cloud.calls();
    let count = |f: fn(&Call) -> bool| calls.iter().filter(|(_, c)| f(c)).count();
    println!(
        "seed {seed} ({}, {}): {crashes} crashes, {} listings, {} provisions, {} destroys ({} for health), {} drains, {} instances created",
        if w.pets { "pets" } else { "cattle" },
        if watched { "watched" } else { "polled" },
        count(|c| matches!(c, Call::Describe)),
        count(|c| matches!(c, Call::Provision { .. })),
        count(|c| matches!(c, Call::Destroy { .. })),
        count(|c| matches!(
            c,
            Call::Destroy {
                reason: DestroyReason::Heal,
                ..
            }
        )),
        count(|c| matches!(c, Call::Drain { .. })),
        w.rig.cloud.with(|s| s.created.len()),
    );
    // A freed group never acts again.
    w.rig.cloud.describe_down.store(false, Ordering::SeqCst);
    mgr.free("g").await.map_err(|e| format!("free: {e}"))?;
    let at = w.rig.clock.now();
    tokio::time::sleep(Duration::from_secs(120)).await;
    if let Some((t, c)) = w.rig.cloud.calls().into_iter().find(|(t, _)| *t > at) {
        return Err(format!("a freed group acted at {t}: {c:?}"));
    }
    if w.rig.store.get("g").is_some() {
        return Err("a freed group's record came back".into());
    }
    drop(shutdown);
    Ok(())
}

async fn commit(w: &World, mgr: &Arc<Manager>, size: u32) -> Result<(), String> {
    mgr.commit(&spec("g", properties(w.pets, size, w.version)), false)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

// === impl World ===

impl World {
    /// Changes how the fakes behave, kills instances, flaps health, starts and ends outages.
    fn perturb(&mut self) {
        let now = self.rig.clock.now();
        let rng = &mut self.rng;
        if rng.chance(0.02) {
            let fail = match rng.below(20) {
                0 | 1 => Some(Code::Internal),
                2 => Some(Code::Unavailable),
                _ => None,
            };
            let b = Behaviour {
                delay: rng.millis(5000),
                fail,
                lose_reply: rng.chance(0.05),
            };
            self.rig.cloud.set("provision", b);
        }
        for kind in ["destroy", "drain", "healthy", "label", "describe"] {
            if rng.chance(0.01) {
                let b = Behaviour {
                    delay: rng.millis(if kind == "describe" { 500 } else { 3000 }),
                    fail: rng.chance(0.1).then_some(Code::Internal),
                    lose_reply: false,
                };
                self.rig.cloud.set(kind, b);
            }
        }
        if rng.chance(0.003) {
            self.rig.cloud.resync();
        }
        if rng.chance(0.003) {
            self.rig.cloud.drop_watches();
        }
        let ids = self.rig.cloud.ids();
        if !ids.is_empty() && rng.chance(0.01) {
            let id = &ids[rng.below(ids.len() as u64) as usize];
            self.rig.cloud.kill(id);
        }
        // Health faults come in episodes: unhealthy for 1 to 8 s, then healthy again (so
        // verdicts often go stale right when a heal is due).
        if !ids.is_empty() && self.rng.chance(0.02) {
            let id = ids[self.rng.below(ids.len() as u64) as usize].clone();
            let until = now.after(Duration::from_millis(1000 + self.rng.below(7000)));
            self.set_health(&id, Health::Unhealthy, now);
            self.recoveries.push((until, id));
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.recoveries)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.recoveries = later;
        for (_, id) in due {
            self.set_health(&id, Health::Healthy, now);
        }
        match self.outage_since {
            None if self.rng.chance(0.002) => {
                self.outage_since = Some(now);
                self.rig.cloud.set_down(true);
            }
            Some(since) if now.since(since) > Duration::from_secs(20) && self.rng.chance(0.01) => {
                self.outage_since = None;
                self.rig.cloud.set_down(false);
            }
            _ => {}
        }
    }

    fn set_health(&mut self, id: &str, h: Health, now: Time) {
        self.rig.cloud.set_health(id, h);
        self.health
            .entry(id.to_string())
            .or_default()
            .push((now, h));
    }

    /// The invariants, checked after every step.
    fn check(&self) -> Result<(), String> {
        let now = self.rig.clock.now();
        let live: Vec<(String, Option<String>)> = self.rig.cloud.with(|s| {
            s.instances
                .values()
                .map(|d| (d.id.clone(), d.logical_id.clone()))
                .collect()
        });
        // Never more than desired + surge (desired: the largest in force lately, since a
        // scale-down takes its time).
        let recent = now
            .since(Time::from_millis(0))
            .saturating_sub(Duration::from_secs(400));
        let most = self
            .desired
            .iter()
            .filter(|(t, _)| Duration::from_millis(t.as_millis()) >= recent)
            .map(|(_, d)| *d)
            .chain(self.desired.last().map(|(_, d)| *d))
            .max()
            .unwrap_or(0);
        let bound = most + if self.pets { 0 } else { SURGE };
        if live.len() as u32 > bound {
            return Err(format!(
                "{} instances live, more than desired + surge ({bound}) at {now}",
                live.len()
            ));
        }
        // No logical ID held by two live instances (pets roll destroy-first).
        let mut holders: HashMap<&str, &str> = HashMap::new();
        for (id, l) in &live {
            if let Some(l) = l
                && let Some(other) = holders.insert(l, id)
            {
                return Err(format!("logical ID {l} held by {other} and {id} at {now}"));
            }
        }
        let calls = self.rig.cloud.calls();
        for (t, c) in &calls {
            // No healthy member destroyed for health: healthy for the 3.5 s before the
            // destroy (the fresh check's answer and the drain, each under 3 s, fall in it).
            if let Call::Destroy {
                id,
                reason: DestroyReason::Heal,
            } = c
                && self.healthy_throughout(id, *t, Duration::from_millis(3500))
            {
                return Err(format!("{id} destroyed for health at {t} while healthy"));
            }
            // Nothing destroyed while the group cannot be observed (after the operations
            // decided before the outage have ended).
            if let (Call::Destroy { id, .. }, Some(since)) = (c, self.outage_since)
                && *t > since.after(Duration::from_secs(75))
            {
                return Err(format!(
                    "{id} destroyed at {t} during a listing outage since {since}"
                ));
            }
        }
        // Never more replacements for health in flight than the cap (1).
        if let Some(r) = self.rig.store.get("g") {
            let healing = r
                .state
                .leaving
                .iter()
                .filter(|d| d.reason == infrakit_group_core::DestroyReason::Heal)
                .count();
            if healing > 1 {
                return Err(format!(
                    "{healing} heal destroys in flight, above the cap of 1"
                ));
            }
        }
        Ok(())
    }

    /// True when `id` was healthy for the whole `window` before `t` (never set otherwise:
    /// fakes start healthy).
    fn healthy_throughout(&self, id: &str, t: Time, window: Duration) -> bool {
        let Some(changes) = self.health.get(id) else {
            return true;
        };
        let start = Time::from_millis(t.as_millis().saturating_sub(window.as_millis() as u64));
        let before = changes.iter().rev().find(|(at, _)| *at <= start);
        let during = changes.iter().filter(|(at, _)| *at > start && *at <= t);
        before.is_none_or(|(_, h)| *h == Health::Healthy)
            && during.into_iter().all(|(_, h)| *h == Health::Healthy)
    }
}
