//! One point of the scale curve, on a fresh mesh: converge G groups of N from zero, then idle
//! CPU, heals and CommitGroup latency on the converged groups.

use crate::args::{CurvePlan, CurvePoint};
use crate::fleet::{Done, Fleet};
use crate::mesh::{Mesh, Setup};
use crate::procfs::{CpuSample, cpu_sample, memory};
use crate::progress;
use crate::scenarios::{CPU_SERVICES, GROUP_ID, commit_group};
use crate::stats::fmt_duration;
use crate::wait::{converged, healed};
use anyhow::{Context, bail};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// CommitGroup calls in flight while committing many groups.
const COMMIT_PARALLEL: usize = 16;

/// What was measured at one point. Per-service values are in the order of [`CPU_SERVICES`].
#[derive(Clone, Debug)]
pub struct Measured {
    /// The point.
    pub point: CurvePoint,
    /// From just before the first CommitGroup until the last group was Converged.
    pub converge: Duration,
    /// CPU time (user + system) of each service during the converge.
    pub cpu: [Duration; 3],
    /// Resident memory of each service just before the first CommitGroup, in bytes.
    pub rss_before: [u64; 3],
    /// Resident memory of each service once converged, in bytes.
    pub rss_after: [u64; 3],
    /// Instance files on disk once converged.
    pub files: usize,
    /// Idle CPU of each service over the window, percent of one core.
    pub idle_cpu: [f64; 3],
    /// The idle window as measured.
    pub idle_window: Duration,
    /// Each deletion of one instance until its group was whole again.
    pub heal_one: Vec<Duration>,
    /// How many instances each 1% deletion removed.
    pub heal_percent_count: usize,
    /// Each deletion of 1% until every group touched was whole again.
    pub heal_percent: Vec<Duration>,
    /// Each CommitGroup of an unchanged spec, timed at the client.
    pub commit: Vec<Duration>,
    /// How many of those the controller planned as a no-op.
    pub commit_noop: usize,
    /// CPU time of each service per heal of one, per heal of 1%, and per CommitGroup (the
    /// bench's own DescribeGroup calls after each heal included).
    pub phase_cpu: [[Duration; 3]; 3],
}

/// The IDs of the groups of a point.
fn group_ids(p: CurvePoint) -> Vec<String> {
    if p.groups == 1 {
        return vec![GROUP_ID.to_string()];
    }
    (0..p.groups)
        .map(|i| format!("{GROUP_ID}-{i:05}"))
        .collect()
}

/// Resident memory of each service.
fn rss(pids: &[u32; 3]) -> anyhow::Result<[u64; 3]> {
    Ok([
        memory(pids[0])?.rss,
        memory(pids[1])?.rss,
        memory(pids[2])?.rss,
    ])
}

/// CPU time of each service.
fn cpu_now(pids: &[u32; 3]) -> anyhow::Result<[CpuSample; 3]> {
    Ok([
        cpu_sample(pids[0])?,
        cpu_sample(pids[1])?,
        cpu_sample(pids[2])?,
    ])
}

/// CPU time of each service since `before`.
fn cpu_since(pids: &[u32; 3], before: &[CpuSample; 3]) -> anyhow::Result<[Duration; 3]> {
    let now = cpu_now(pids)?;
    Ok(std::array::from_fn(|i| now[i].since(&before[i])))
}

/// Commits every group at `size` (Note `v1`), a few at a time; returns each config hash.
async fn commit_all(
    mesh: &Mesh,
    ids: &[String],
    size: u32,
) -> anyhow::Result<HashMap<String, String>> {
    let client = mesh.group().await?;
    let mut hashes = HashMap::new();
    let mut calls = JoinSet::new();
    for id in ids {
        while calls.len() >= COMMIT_PARALLEL {
            let (id, hash) = joined(calls.join_next().await)?;
            hashes.insert(id, hash);
        }
        let (mut c, id) = (client.clone(), id.clone());
        calls.spawn(async move {
            let plan = commit_group(&mut c, &id, size, "v1").await?;
            anyhow::Ok((id, plan.map(|p| p.spec_hash).unwrap_or_default()))
        });
    }
    while let Some(r) = calls.join_next().await {
        let (id, hash) = joined(Some(r))?;
        hashes.insert(id, hash);
    }
    Ok(hashes)
}

/// The outcome of a spawned commit.
fn joined<T>(r: Option<Result<anyhow::Result<T>, tokio::task::JoinError>>) -> anyhow::Result<T> {
    r.context("no commit was in flight")?
        .context("a commit task failed")?
}

/// Up to `k` members of the groups, spread evenly over the groups and within each group,
/// `turn` shifting the choice so that successive calls pick different instances. Returns the
/// chosen IDs and the groups they belong to.
fn victims(
    members: &HashMap<String, Vec<String>>,
    ids: &[String],
    k: usize,
    turn: usize,
) -> (HashSet<String>, Vec<String>) {
    let mut chosen = HashSet::new();
    let mut touched = Vec::new();
    let groups = ids.len().max(1);
    for (g, id) in ids.iter().enumerate() {
        // Group g takes every `groups`th victim, starting at a group that moves on each turn.
        let slot = (g + groups - turn % groups) % groups;
        let count = k / groups + usize::from(slot < k % groups);
        let list = members.get(id).map(Vec::as_slice).unwrap_or_default();
        if count == 0 || list.is_empty() {
            continue;
        }
        let step = (list.len() / count).max(1);
        let offset = (turn * 7) % step;
        let picked: Vec<&String> = list.iter().skip(offset).step_by(step).take(count).collect();
        if !picked.is_empty() {
            chosen.extend(picked.into_iter().cloned());
            touched.push(id.clone());
        }
    }
    (chosen, touched)
}

/// Deletes the instance files of `gone` and waits until each group in `touched` is whole again
/// without them; returns the time from just before the first deletion, and updates `members`.
async fn heal(
    mesh: &Mesh,
    fleet: &mut Fleet,
    members: &mut HashMap<String, Vec<String>>,
    (gone, touched): (HashSet<String>, Vec<String>),
    size: u32,
    patience: Duration,
) -> anyhow::Result<Duration> {
    if gone.is_empty() {
        bail!("no instance to delete");
    }
    let dir = mesh.instance_dir();
    let start = Instant::now();
    for id in &gone {
        let f = dir.join(format!("{id}.json"));
        std::fs::remove_file(&f).with_context(|| format!("cannot delete {}", f.display()))?;
    }
    let done = fleet
        .until_all(&touched, healed(size, &gone), patience)
        .await
        .with_context(|| format!("the groups did not heal; logs:\n{}", mesh.logs()))?;
    let at = done.at.context("no group was waited for")?;
    members.extend(done.members);
    Ok(at.duration_since(start))
}

/// Measures one point on a fresh mesh.
pub async fn measure(
    setup: &Setup,
    point: CurvePoint,
    plan: &CurvePlan,
    patience: Duration,
) -> anyhow::Result<(Measured, Mesh)> {
    let mut mesh = Mesh::standard(setup, &[]).await?;
    let ids = group_ids(point);
    let total = point.total();
    let mut fleet = Fleet::subscribe(mesh.group().await?).await?;
    let pids: [u32; 3] = [
        mesh.pid(CPU_SERVICES[0])?,
        mesh.pid(CPU_SERVICES[1])?,
        mesh.pid(CPU_SERVICES[2])?,
    ];

    // Converge 0 → G × N.
    let rss_before = rss(&pids)?;
    let cpu_before = cpu_now(&pids)?;
    let start = Instant::now();
    let hashes = commit_all(&mesh, &ids, point.size).await?;
    let committed = start.elapsed();
    let is_converged = |d: &infrakit_spi::group::v1::DescribeGroupResponse| {
        let hash = hashes.get(&d.id).map(String::as_str).unwrap_or_default();
        converged(point.size, hash)(d)
    };
    let done: Done = match fleet.until_all(&ids, is_converged, patience).await {
        Ok(d) => d,
        Err(e) => {
            let alive = mesh.check_alive();
            return Err(e.context(format!(
                "the groups did not converge at {point} ({alive:?}); logs:\n{}",
                mesh.logs()
            )));
        }
    };
    let converge = done
        .at
        .context("no group was waited for")?
        .duration_since(start);
    let cpu = cpu_since(&pids, &cpu_before)?;
    let rss_after = rss(&pids)?;
    let files = mesh.instance_files();
    let mut members = done.members;
    progress(format!(
        "curve {point}: converged in {} (CommitGroup of all: {}; {files} instance files; watch reopened {}x)",
        fmt_duration(converge),
        fmt_duration(committed),
        fleet.resubscribed
    ));
    if files as u64 != total {
        progress(format!(
            "curve {point}: {files} instance files on disk, expected {total}"
        ));
    }

    // Idle CPU, with nothing asked of the mesh.
    tokio::time::sleep(plan.settle).await;
    let before = cpu_now(&pids)?;
    let idle_start = Instant::now();
    tokio::time::sleep(plan.idle).await;
    let spent = cpu_since(&pids, &before)?;
    let idle_window = idle_start.elapsed();
    let idle_cpu: [f64; 3] =
        std::array::from_fn(|i| spent[i].as_secs_f64() / idle_window.as_secs_f64() * 100.0);
    progress(format!(
        "curve {point}: idle over {}: {:.2}% / {:.2}% / {:.2}% of a core",
        fmt_duration(idle_window),
        idle_cpu[0],
        idle_cpu[1],
        idle_cpu[2]
    ));

    // Heal 1, one deletion after the other; then 1%, all at once.
    let mut phase_cpu = [[Duration::ZERO; 3]; 3];
    let mut healing = Healing {
        mesh: &mesh,
        fleet: &mut fleet,
        members: &mut members,
        ids: &ids,
        pids: &pids,
        size: point.size,
        patience,
    };
    let heal_one;
    (heal_one, phase_cpu[0]) = healing.rounds(1, 0..plan.heal_one).await?;
    let count = usize::try_from(total / 100).unwrap_or(usize::MAX).max(1);
    let heal_percent;
    (heal_percent, phase_cpu[1]) = healing.rounds(count, 1..plan.heal_percent + 1).await?;
    progress(format!(
        "curve {point}: heal 1: {} (CPU each: {}); heal {count}: {} (CPU each: {})",
        list(&heal_one),
        list(&phase_cpu[0]),
        list(&heal_percent),
        list(&phase_cpu[1])
    ));
    let phase = cpu_now(&pids)?;

    // CommitGroup of the unchanged spec.
    let mut client = mesh.group().await?;
    let (mut commit, mut commit_noop) = (Vec::new(), 0);
    for turn in 0..plan.commits {
        let id = &ids[(turn * 7) % ids.len()];
        let t = Instant::now();
        let p = commit_group(&mut client, id, point.size, "v1").await?;
        commit.push(t.elapsed());
        commit_noop += usize::from(p.is_some_and(|p| p.noop));
    }
    phase_cpu[2] = per_call(cpu_since(&pids, &phase)?, plan.commits);
    progress(format!(
        "curve {point}: CommitGroup unchanged: {} ({commit_noop} no-op; CPU each: {})",
        list(&commit),
        list(&phase_cpu[2])
    ));
    mesh.check_alive()?;
    let m = Measured {
        point,
        converge,
        cpu,
        rss_before,
        rss_after,
        files,
        idle_cpu,
        idle_window,
        heal_one,
        heal_percent_count: count,
        heal_percent,
        commit,
        commit_noop,
        phase_cpu,
    };
    Ok((m, mesh))
}

/// What the heal rounds of one point work on.
struct Healing<'a> {
    mesh: &'a Mesh,
    fleet: &'a mut Fleet,
    members: &'a mut HashMap<String, Vec<String>>,
    ids: &'a [String],
    pids: &'a [u32; 3],
    size: u32,
    patience: Duration,
}

impl Healing<'_> {
    /// One heal of `count` deletions per turn in `turns` (the turn shifts the victims): how
    /// long each took, and the CPU each cost per process.
    async fn rounds(
        &mut self,
        count: usize,
        turns: std::ops::Range<usize>,
    ) -> anyhow::Result<(Vec<Duration>, [Duration; 3])> {
        let before = cpu_now(self.pids)?;
        let mut took = Vec::new();
        for turn in turns {
            let chosen = victims(self.members, self.ids, count, turn);
            took.push(
                heal(
                    self.mesh,
                    self.fleet,
                    self.members,
                    chosen,
                    self.size,
                    self.patience,
                )
                .await?,
            );
        }
        let cpu = per_call(cpu_since(self.pids, &before)?, took.len());
        Ok((took, cpu))
    }
}

/// CPU times divided by a number of calls (none: zero).
fn per_call(cpu: [Duration; 3], calls: usize) -> [Duration; 3] {
    let calls = u32::try_from(calls).unwrap_or(u32::MAX);
    cpu.map(|d| d.checked_div(calls).unwrap_or_default())
}

/// Durations as a short list.
fn list(v: &[Duration]) -> String {
    v.iter()
        .map(|d| fmt_duration(*d))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(groups: usize, size: usize) -> (Vec<String>, HashMap<String, Vec<String>>) {
        let ids: Vec<String> = (0..groups).map(|g| format!("g{g}")).collect();
        let m = ids
            .iter()
            .map(|g| (g.clone(), (0..size).map(|i| format!("{g}-{i}")).collect()))
            .collect();
        (ids, m)
    }

    #[test]
    fn victims_spread_over_groups_and_turns() {
        let (ids, m) = members(1, 1_000);
        let (a, touched) = victims(&m, &ids, 10, 0);
        assert_eq!((a.len(), touched.len()), (10, 1));
        let (one, _) = victims(&m, &ids, 1, 0);
        let (two, _) = victims(&m, &ids, 1, 1);
        assert_ne!(one, two);

        let (ids, m) = members(1_000, 100);
        let (a, touched) = victims(&m, &ids, 1_000, 1);
        assert_eq!((a.len(), touched.len()), (1_000, 1_000));
        let (one, t1) = victims(&m, &ids, 1, 0);
        let (_, t2) = victims(&m, &ids, 1, 1);
        assert_eq!(one.len(), 1);
        assert_ne!(t1, t2);
    }

    #[test]
    fn many_groups_get_their_own_ids() {
        let ids = group_ids(CurvePoint {
            groups: 3,
            size: 10,
        });
        assert_eq!(ids, ["bench-00000", "bench-00001", "bench-00002"]);
        assert_eq!(
            group_ids(CurvePoint {
                groups: 1,
                size: 10
            }),
            ["bench"]
        );
    }
}
