//! Rolling update: a converged group of 100 (vanilla flavor: healthy at once, MaxSurge 10%) is
//! committed with a new Instance Note; timed until Converged with every member up to date.
//! Meanwhile DescribeGroup is sampled as fast as it answers (a 100-member answer is cheap) for
//! the lowest `healthy` and highest `actual` counts, and the instance directory for the most
//! files (an independent count of the instances that exist).

use crate::args::Sizes;
use crate::mesh::Setup;
use crate::report::{Part, Row};
use crate::stats::{fmt_count, fmt_duration, median, ms};
use crate::wait::{converged, summary};
use crate::{progress, scenarios};
use anyhow::bail;
use serde_json::json;
use std::time::{Duration, Instant};

/// The target duration.
const TARGET: Duration = Duration::from_secs(10);
/// The pause between two samples.
const SAMPLE_EVERY: Duration = Duration::from_millis(2);

/// Runs the scenario.
pub async fn run(setup: &Setup, sizes: &Sizes) -> anyhow::Result<Part> {
    let n = sizes.rolling;
    let surge = n.div_ceil(10);
    let mut samples = Vec::new();
    let mut runs = Vec::new();
    let (mut min_healthy, mut max_actual, mut max_files) = (u32::MAX, 0u32, 0usize);
    for run in 1..=sizes.runs {
        let mut c = scenarios::converge(setup, n, &[], sizes.patience).await?;
        let mut client = c.mesh.group().await?;
        let start = Instant::now();
        let hash = scenarios::commit(&mut client, n, "v2").await?;
        let done = converged(n, &hash);
        let (mut lo, mut hi, mut files, mut count) = (u32::MAX, 0u32, 0usize, 0u32);
        let took = loop {
            let at = Instant::now();
            let d = c.waiter.describe().await?;
            files = files.max(c.mesh.instance_files());
            count += 1;
            lo = lo.min(d.healthy);
            hi = hi.max(d.actual);
            if done(&d) {
                break at.duration_since(start);
            }
            if start.elapsed() > sizes.patience {
                bail!(
                    "the rolling update did not finish within {:?}; last status: {}; logs:\n{}",
                    sizes.patience,
                    summary(Some(&d)),
                    c.mesh.logs()
                );
            }
            tokio::time::sleep(SAMPLE_EVERY).await;
        };
        progress(format!(
            "rolling update of {n}: run {run}/{}: {} (min healthy {lo}, max actual {hi}, max files {files}, {count} samples)",
            sizes.runs,
            fmt_duration(took)
        ));
        samples.push(took);
        min_healthy = min_healthy.min(lo);
        max_actual = max_actual.max(hi);
        max_files = max_files.max(files);
        runs.push(json!({"ms": ms(took), "min_healthy": lo, "max_actual": hi, "max_files": files, "samples": count}));
    }
    let m = median(&samples);
    Ok(Part {
        rows: vec![
            Row::new(
                format!("rolling update of {n} instances, MaxSurge 10%"),
                fmt_duration(m),
                "1,008 s (one per 10 s poll)",
                "< 10 s",
                Some(m < TARGET),
            ),
            Row::new(
                "… fewest healthy / most instances seen during it",
                format!("{min_healthy} / {max_actual} ({max_files} files)"),
                format!("{} / {n} (one short throughout)", n - 1),
                format!("≥ {n} / ≤ {}", n + surge),
                Some(
                    min_healthy >= n
                        && max_actual <= n + surge
                        && max_files <= (n + surge) as usize,
                ),
            ),
        ],
        details: json!({
            "size": n,
            "median_ms": ms(m),
            "min_healthy": min_healthy,
            "max_actual": max_actual,
            "max_files": max_files,
            "runs": runs,
            "note": format!("sizes: {}", fmt_count(n.into())),
        }),
    })
}
