//! Heal: with a converged group, delete instance files (a dead machine each) and time until the
//! group is Converged again at full size without any of them. 1 instance, then 10% at once, on
//! the same converged group, with the controller's default settings; a fresh mesh each run.

use crate::args::Sizes;
use crate::mesh::Setup;
use crate::report::{Part, Row};
use crate::stats::{fmt_count, fmt_duration, median, ms};
use crate::wait::healed;
use crate::{progress, scenarios};
use anyhow::Context;
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The target for either case.
const TARGET: Duration = Duration::from_millis(500);

/// Runs the scenario.
pub async fn run(setup: &Setup, sizes: &Sizes) -> anyhow::Result<Part> {
    let n = sizes.heal;
    let tenth = (n / 10).max(1);
    let mut one = Vec::new();
    let mut many = Vec::new();
    for run in 1..=sizes.runs {
        let mut c = scenarios::converge(setup, n, &[], sizes.patience).await?;
        for (k, out) in [(1, &mut one), (tenth, &mut many)] {
            let d = c.waiter.describe().await?;
            let step = (d.instances.len() / k as usize).max(1);
            let victims: HashSet<String> = d
                .instances
                .iter()
                .step_by(step)
                .take(k as usize)
                .map(|i| i.id.clone())
                .collect();
            let dir = c.mesh.instance_dir();
            let start = Instant::now();
            for id in &victims {
                let f = dir.join(format!("{id}.json"));
                std::fs::remove_file(&f)
                    .with_context(|| format!("cannot delete {}", f.display()))?;
            }
            let (at, _) = c
                .waiter
                .until(healed(n, &victims), sizes.patience)
                .await
                .with_context(|| format!("the group did not heal; logs:\n{}", c.mesh.logs()))?;
            let took = at.duration_since(start);
            progress(format!(
                "heal {k} of {n}: run {run}/{}: {} (events: {})",
                sizes.runs,
                fmt_duration(took),
                crate::wait::breakdown(&c.waiter.marks, start)
            ));
            out.push(took);
        }
    }
    let infrakit = "median 4-6 s (next 10 s poll)";
    let row = |k: u32, samples: &[Duration]| {
        let m = median(samples);
        Row::new(
            format!(
                "replace {} deleted of {} instances (default settings)",
                fmt_count(k.into()),
                fmt_count(n.into())
            ),
            fmt_duration(m),
            infrakit,
            "< 0.5 s",
            Some(m < TARGET),
        )
    };
    Ok(Part {
        rows: vec![row(1, &one), row(tenth, &many)],
        details: json!({
            "size": n,
            "one": {"median_ms": ms(median(&one)), "samples_ms": one.iter().map(|d| ms(*d)).collect::<Vec<_>>()},
            "tenth": {"count": tenth, "median_ms": ms(median(&many)), "samples_ms": many.iter().map(|d| ms(*d)).collect::<Vec<_>>()},
        }),
    })
}
