//! High availability (`infrakit-group --store etcd://...`): the time another controller takes
//! to own a group after its owner is killed (kill -9), converge 0 → N with the etcd store beside
//! the file store (a fresh etcd and mesh each run), and how many etcd writes the controllers
//! make per reconcile pass once nothing changes.

use crate::args::Sizes;
use crate::etcd::Etcd;
use crate::mesh::{Mesh, Setup};
use crate::report::{Part, Row};
use crate::stats::{fmt_count, fmt_duration, median, ms};
use crate::wait::converged;
use crate::{progress, scenarios};
use anyhow::Context;
use infrakit_spi::group::v1::DescribeGroupRequest;
use infrakit_spi::group::v1::group_client::GroupClient;
use serde_json::json;
use std::time::{Duration, Instant};

/// The lease TTL of the controllers (the default).
const TTL: Duration = Duration::from_secs(5);

/// Runs the scenario.
pub async fn run(setup: &Setup, sizes: &Sizes) -> anyhow::Result<Part> {
    let mut rows = Vec::new();
    let mut details = serde_json::Map::new();
    let takeovers = takeover(setup, sizes).await?;
    let (m, max) = (
        median(&takeovers),
        takeovers.iter().max().copied().unwrap_or_default(),
    );
    rows.push(Row::new(
        format!(
            "takeover after kill -9 of the owner (lease TTL 5 s; {} runs)",
            takeovers.len()
        ),
        format!("median {}, max {}", fmt_duration(m), fmt_duration(max)),
        "— (one leader; no resume, #401)",
        "< TTL + 2 s",
        Some(max < TTL + Duration::from_secs(2)),
    ));
    details.insert(
        "takeover_ms".into(),
        json!(takeovers.iter().map(|d| ms(*d)).collect::<Vec<_>>()),
    );
    for &n in &sizes.converge {
        let (file, etcd, writes) = converge_both(setup, sizes, n).await?;
        let (f, e) = (median(&file), median(&etcd));
        let ratio = e.as_secs_f64() / f.as_secs_f64().max(1e-9);
        rows.push(Row::new(
            format!("converge 0 → {} instances, etcd store", fmt_count(n.into())),
            format!(
                "{} ({ratio:.2}x the file store's {})",
                fmt_duration(e),
                fmt_duration(f)
            ),
            "—",
            "within 2x of the file store",
            Some(ratio <= 2.0),
        ));
        details.insert(
            format!("converge_{n}"),
            json!({
                "file_ms": file.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
                "etcd_ms": etcd.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
                "steady_writes": writes,
            }),
        );
        if let Some((w, passes)) = writes.last().copied() {
            rows.push(Row::new(
                format!(
                    "etcd writes per pass at steady state ({} instances)",
                    fmt_count(n.into())
                ),
                format!("{w} writes in {passes} passes"),
                "—",
                "0",
                Some(w == 0),
            ));
        }
    }
    Ok(Part {
        rows,
        details: serde_json::Value::Object(details),
    })
}

/// Kills the owner of a converged group, times until the other controller owns it; restarts
/// the killed one and waits until the group settles before the next run.
async fn takeover(setup: &Setup, sizes: &Sizes) -> anyhow::Result<Vec<Duration>> {
    let runs = if sizes.quick { 2 } else { 10 };
    let etcd = Etcd::start().await?;
    let url = etcd.url();
    let mut mesh = Mesh::new(setup)?;
    mesh.start_plugins().await?;
    let names = ["group-a", "group-b"];
    for (n, ctl) in names.iter().zip(["ctl-a", "ctl-b"]) {
        mesh.start(
            "infrakit-group",
            n,
            &["--store", &url, "--controller-name", ctl],
        )
        .await?;
    }
    let mut client = GroupClient::new(mesh.channel(names[0]).await?);
    scenarios::commit(&mut client, 10, "v1").await?;
    let mut out = Vec::new();
    for run in 1..=runs {
        let owner = settled_owner(&mesh, &names, sizes.patience).await?;
        let (dead, survivor) = if owner == "ctl-a" {
            (names[0], names[1])
        } else {
            (names[1], names[0])
        };
        let want = if survivor == "group-a" {
            "ctl-a"
        } else {
            "ctl-b"
        };
        let mut c = GroupClient::new(mesh.channel(survivor).await?);
        let start = Instant::now();
        mesh.kill(dead)?;
        loop {
            let d = c
                .describe_group(DescribeGroupRequest {
                    id: scenarios::GROUP_ID.into(),
                })
                .await;
            if d.is_ok_and(|d| d.into_inner().owner == want) {
                break;
            }
            anyhow::ensure!(
                start.elapsed() < sizes.patience,
                "no takeover; logs:\n{}",
                mesh.logs()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let took = start.elapsed();
        progress(format!(
            "takeover: run {run}/{runs}: {}",
            fmt_duration(took)
        ));
        out.push(took);
        mesh.restart(dead).await?;
    }
    Ok(out)
}

/// Waits until both controllers name the same owner of the bench group for a second.
async fn settled_owner(mesh: &Mesh, names: &[&str], patience: Duration) -> anyhow::Result<String> {
    let start = Instant::now();
    let mut stable: Option<(String, Instant)> = None;
    loop {
        let mut owners = Vec::new();
        for n in names {
            let mut c = GroupClient::new(mesh.channel(n).await?);
            let d = c
                .describe_group(DescribeGroupRequest {
                    id: scenarios::GROUP_ID.into(),
                })
                .await
                .map(|d| d.into_inner().owner)
                .unwrap_or_default();
            owners.push(d);
        }
        let agreed = owners.iter().all(|o| !o.is_empty() && *o == owners[0]);
        match (&stable, agreed) {
            (Some((o, since)), true) if *o == owners[0] => {
                if since.elapsed() > Duration::from_secs(1) {
                    return Ok(o.clone());
                }
            }
            (_, true) => stable = Some((owners[0].clone(), Instant::now())),
            _ => stable = None,
        }
        anyhow::ensure!(start.elapsed() < patience, "the owner never settled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Converges 0 → `n` with the file store and with the etcd store, alternating, `sizes.runs`
/// times each; with etcd, then counts the writes of 10 s of steady state (1 s resync: about 10
/// passes). Returns (file times, etcd times, [(writes, passes)]).
async fn converge_both(
    setup: &Setup,
    sizes: &Sizes,
    n: u32,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>, Vec<(i64, u32)>)> {
    let (mut file, mut etcd_times, mut writes) = (Vec::new(), Vec::new(), Vec::new());
    let mut kept = Vec::new();
    for run in 1..=sizes.runs {
        let c = scenarios::converge(setup, n, &["--resync-interval", "1s"], sizes.patience).await?;
        progress(format!(
            "converge 0 → {n}, file store: run {run}/{}: {}",
            sizes.runs,
            fmt_duration(c.elapsed)
        ));
        file.push(c.elapsed);
        kept.push(c.mesh.into_dir());
        let etcd = Etcd::start().await?;
        let url = etcd.url();
        let mut c = scenarios::converge(
            setup,
            n,
            &[
                "--store",
                &url,
                "--controller-name",
                "bench",
                "--resync-interval",
                "1s",
            ],
            sizes.patience,
        )
        .await
        .context("converge with the etcd store")?;
        progress(format!(
            "converge 0 → {n}, etcd store: run {run}/{}: {}",
            sizes.runs,
            fmt_duration(c.elapsed)
        ));
        etcd_times.push(c.elapsed);
        // Steady state: let the last status be published, then count.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let _ = c
            .waiter
            .until(converged(n, &c.hash), sizes.patience)
            .await?;
        let before = etcd.revision().await?;
        let window = Duration::from_secs(10);
        tokio::time::sleep(window).await;
        let after = etcd.revision().await?;
        writes.push((after - before, 10));
        kept.push(c.mesh.into_dir());
    }
    drop(kept);
    Ok((file, etcd_times, writes))
}
