//! Converge 0 → N: from CommitGroup until the group is Converged with N members, all up to
//! date and healthy, on a fresh mesh each run.

use crate::args::Sizes;
use crate::mesh::Setup;
use crate::report::{Part, Row};
use crate::stats::{fmt_count, fmt_duration, median, ms};
use crate::{progress, scenarios};
use serde_json::json;
use std::time::Duration;

/// InfraKit's published time and our target for a size, when there is one.
fn published(size: u32) -> Option<(&'static str, &'static str, Duration)> {
    match size {
        1_000 => Some(("0.31 s", "< 0.15 s", Duration::from_millis(150))),
        10_000 => Some(("2.9 s", "< 1.5 s", Duration::from_millis(1500))),
        _ => None,
    }
}

/// Runs the scenario.
pub async fn run(setup: &Setup, sizes: &Sizes) -> anyhow::Result<Part> {
    let mut rows = Vec::new();
    let mut details = Vec::new();
    // Every run's files stay on disk until the scenario is over (see `Mesh::into_dir`).
    let mut kept = Vec::new();
    for &n in &sizes.converge {
        let mut samples = Vec::new();
        let mut commits = Vec::new();
        let mut files = Vec::new();
        let mut events = Vec::new();
        let mut cpus = Vec::new();
        for run in 1..=sizes.runs {
            let c = scenarios::converge(setup, n, &[], sizes.patience).await?;
            let on_disk = c.mesh.instance_files();
            let cpu: Vec<String> = scenarios::CPU_SERVICES
                .iter()
                .zip(&c.cpu)
                .map(|(name, d)| format!("{name} {}", fmt_duration(*d)))
                .collect();
            progress(format!(
                "converge 0 → {n}: run {run}/{}: {} (CommitGroup {}; {on_disk} instance files; watch reopened {}x; CPU: {}; events: {})",
                sizes.runs,
                fmt_duration(c.elapsed),
                fmt_duration(c.commit),
                c.waiter.resubscribed,
                cpu.join(", "),
                c.breakdown
            ));
            cpus.push(
                scenarios::CPU_SERVICES
                    .iter()
                    .zip(&c.cpu)
                    .map(|(name, d)| (name.to_string(), json!(ms(*d))))
                    .collect::<serde_json::Map<_, _>>(),
            );
            samples.push(c.elapsed);
            commits.push(c.commit);
            files.push(on_disk);
            events.push(c.breakdown);
            kept.push(c.mesh.into_dir());
        }
        let m = median(&samples);
        let (infrakit, target, met) = match published(n) {
            Some((ik, target, limit)) => (ik.to_string(), target.to_string(), Some(m < limit)),
            None => ("—".to_string(), "—".to_string(), None),
        };
        rows.push(Row::new(
            format!("converge 0 → {} instances", fmt_count(n.into())),
            fmt_duration(m),
            infrakit,
            target,
            met,
        ));
        details.push(json!({
            "size": n,
            "median_ms": ms(m),
            "samples_ms": samples.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
            "commit_ms": commits.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
            "instance_files": files,
            "events": events,
            "cpu_ms": cpus,
        }));
    }
    drop(kept);
    Ok(Part {
        rows,
        details: json!(details),
    })
}
