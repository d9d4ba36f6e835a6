//! Resources at N instances: converge N, leave the group alone for a while, then measure over a
//! window, without any call from the bench: resident memory (VmRSS, sampled every second; the
//! highest is reported) and peak (VmHWM) of `infrakit-group`, and the CPU time (user + system)
//! of every service as a percentage of one core.
//!
//! Then `infrakit-group` is killed and started again on its state directory: it resumes the
//! converged group without creating anything, so its memory after the restart is what managing
//! N instances costs, without what was left over from creating them.

use crate::args::Sizes;
use crate::mesh::{FLAVOR, GROUP, INSTANCE, Mesh, Setup};
use crate::procfs::{cpu_time, memory};
use crate::report::{Part, Row};
use crate::stats::{fmt_count, fmt_mb};
use crate::wait::{Waiter, converged};
use crate::{progress, scenarios};
use anyhow::Context;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The resident memory target at 10,000 instances, in bytes.
const RSS_TARGET: u64 = 40_000_000;
/// The idle CPU target, percent of a core.
const CPU_TARGET: f64 = 0.5;
/// The services measured, in this order.
const SERVICES: [&str; 3] = [GROUP, INSTANCE, FLAVOR];

/// What was measured of each service (in the order of [`SERVICES`]).
struct Usage {
    /// The highest VmRSS seen, in bytes.
    rss: Vec<u64>,
    /// VmHWM at the end (or the highest VmRSS, if higher), in bytes.
    peak: Vec<u64>,
    /// CPU time over the window, percent of one core.
    cpu: Vec<f64>,
    /// The window's length.
    window: Duration,
}

/// Leaves the mesh alone for `settle`, then measures it over `window`.
async fn measure(mesh: &Mesh, settle: Duration, window: Duration) -> anyhow::Result<Usage> {
    tokio::time::sleep(settle).await;
    let pids: Vec<u32> = SERVICES
        .iter()
        .map(|n| mesh.pid(n))
        .collect::<anyhow::Result<_>>()?;
    let before: Vec<Duration> = pids
        .iter()
        .map(|&p| cpu_time(p))
        .collect::<anyhow::Result<_>>()?;
    let start = Instant::now();
    let mut rss = vec![0u64; pids.len()];
    loop {
        for (r, &p) in rss.iter_mut().zip(&pids) {
            *r = (*r).max(memory(p)?.rss);
        }
        let left = window.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
    }
    let after: Vec<Duration> = pids
        .iter()
        .map(|&p| cpu_time(p))
        .collect::<anyhow::Result<_>>()?;
    let window = start.elapsed();
    let peak = pids
        .iter()
        .zip(&rss)
        .map(|(&p, &r)| Ok(memory(p)?.peak.max(r)))
        .collect::<anyhow::Result<_>>()?;
    let cpu = before
        .iter()
        .zip(&after)
        .map(|(b, a)| a.saturating_sub(*b).as_secs_f64() / window.as_secs_f64() * 100.0)
        .collect();
    Ok(Usage {
        rss,
        peak,
        cpu,
        window,
    })
}

/// Whether a CPU percentage meets the target as shown (two decimals): `0.50%` does not.
fn cpu_met(percent: f64) -> bool {
    (percent * 100.0).round() / 100.0 < CPU_TARGET
}

/// The JSON of a measurement.
fn usage_json(u: &Usage) -> Value {
    json!({
        "window_s": u.window.as_secs_f64(),
        "services": SERVICES.iter().enumerate().map(|(i, name)| json!({
            "service": name,
            "rss_bytes": u.rss[i],
            "peak_bytes": u.peak[i],
            "cpu_percent": (u.cpu[i] * 1000.0).round() / 1000.0,
        })).collect::<Vec<_>>(),
    })
}

/// Runs the scenario.
pub async fn run(setup: &Setup, sizes: &Sizes) -> anyhow::Result<Part> {
    let n = sizes.resources;
    let mut c = scenarios::converge(setup, n, &[], sizes.patience).await?;
    progress(format!(
        "resources: converged {n}; settling {:?}, then measuring {:?}",
        sizes.settle, sizes.window
    ));
    let idle = measure(&c.mesh, sizes.settle, sizes.window).await?;
    for (i, name) in SERVICES.iter().enumerate() {
        progress(format!(
            "resources: {name}: RSS {} (peak {}), CPU {:.2}% of a core",
            fmt_mb(idle.rss[i]),
            fmt_mb(idle.peak[i]),
            idle.cpu[i]
        ));
    }

    c.mesh.restart(GROUP).await?;
    let started = Instant::now();
    let mut waiter = Waiter::subscribe(c.mesh.group().await?, scenarios::GROUP_ID).await?;
    waiter
        .until(converged(n, &c.hash), sizes.patience)
        .await
        .with_context(|| {
            format!(
                "the restarted group did not resume; logs:\n{}",
                c.mesh.logs()
            )
        })?;
    let resumed_in = started.elapsed();
    let files = c.mesh.instance_files();
    drop(waiter);
    let restarted = measure(&c.mesh, sizes.settle, sizes.window).await?;
    progress(format!(
        "resources: group restarted, Converged again in {resumed_in:?} ({files} instance files): RSS {} (peak {}), CPU {:.2}% of a core",
        fmt_mb(restarted.rss[0]),
        fmt_mb(restarted.peak[0]),
        restarted.cpu[0]
    ));

    let at_size = n == 10_000;
    let published = |s: &str| {
        if at_size {
            s.to_string()
        } else {
            "—".to_string()
        }
    };
    let rss_target = if at_size { "< 40 MB" } else { "—" };
    let count = fmt_count(n.into());
    let rows = vec![
        Row::new(
            format!("`infrakit-group` resident memory at {count} instances (peak)"),
            format!("{} ({})", fmt_mb(idle.rss[0]), fmt_mb(idle.peak[0])),
            published("≈120 MB (peak 520 MB)"),
            rss_target,
            at_size.then_some(idle.rss[0] < RSS_TARGET),
        ),
        Row::new(
            format!("… the same after a restart on the converged {count} (peak)"),
            format!(
                "{} ({})",
                fmt_mb(restarted.rss[0]),
                fmt_mb(restarted.peak[0])
            ),
            "—",
            rss_target,
            at_size.then_some(restarted.rss[0] < RSS_TARGET),
        ),
        Row::new(
            format!("`infrakit-group` CPU while nothing changes, {count} instances"),
            format!("{:.2}% of a core", idle.cpu[0]),
            "—",
            "< 0.5%",
            Some(cpu_met(idle.cpu[0])),
        ),
        Row::new(
            format!("`infrakit-instance-file` CPU while nothing changes, {count} instances"),
            format!("{:.2}% of a core", idle.cpu[1]),
            published("≈6% of a core"),
            "< 0.5%",
            Some(cpu_met(idle.cpu[1])),
        ),
        Row::new(
            format!("`infrakit-flavor-vanilla` CPU while nothing changes, {count} instances"),
            format!("{:.2}% of a core", idle.cpu[2]),
            "—",
            "—",
            None,
        ),
    ];
    Ok(Part {
        rows,
        details: json!({
            "size": n,
            "settle_s": sizes.settle.as_secs_f64(),
            "converge_ms": crate::stats::ms(c.elapsed),
            "idle": usage_json(&idle),
            "after_restart": usage_json(&restarted),
            "resume_ms": crate::stats::ms(resumed_in),
            "instance_files_after_restart": files,
            "cpu_resolution_percent": 100.0 / crate::procfs::clock_ticks() as f64 / idle.window.as_secs_f64() * 100.0,
        }),
    })
}
