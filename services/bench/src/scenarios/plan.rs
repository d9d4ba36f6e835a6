//! Planning: the pure planner (`infrakit_group_core::plan`) called directly on N observed
//! instances, in three situations: a converged group (no action), the first step of a rolling
//! update (N old instances: the surge is provisioned), and its next step (N old plus the surge
//! listed and healthy: old instances are destroyed). The median of several calls each.

use crate::args::Sizes;
use crate::progress;
use crate::report::{Part, Row};
use crate::stats::{fmt_count, fmt_duration, median, ms};
use anyhow::{anyhow, bail};
use infrakit_group_core::{
    Action, GroupSpec, GroupState, Health, Observed, ObservedInstance, Time, plan,
};
use serde_json::json;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The target for every case.
const TARGET: Duration = Duration::from_millis(50);

/// One situation planned.
#[derive(Clone, Debug)]
pub struct Case {
    /// What was planned.
    pub name: &'static str,
    /// The number of observed instances.
    pub observed: usize,
    /// The number of actions the plan returned.
    pub actions: usize,
    /// The time of each call.
    pub samples: Vec<Duration>,
}

/// Plans the three situations for a group of `n`, `calls` times each (after one warm-up call).
pub fn cases(n: u32, calls: usize) -> anyhow::Result<Vec<Case>> {
    let spec = |note: &str| {
        GroupSpec::from_json(&json!({"ID": "bench", "Properties": super::properties(n, note)}))
            .map_err(|v| anyhow!("invalid spec: {v}"))
    };
    let v1 = spec("v1")?;
    let v2 = spec("v2")?;
    let seen_at = Time::from_secs(1_000);
    let now = Time::from_secs(2_000);
    let old = Observed::new(
        (0..n)
            .map(|i| {
                ObservedInstance::new(format!("instance-{i:016x}"), seen_at)
                    .with_hash(v1.config_hash())
                    .with_health(Health::Healthy, seen_at)
            })
            .collect(),
    );
    let settled = plan(&v1, &old, &GroupState::default(), now).state;
    let start = plan(&v2, &old, &settled, now);
    let mut surged = old.clone();
    for a in &start.actions {
        if let Action::Provision { token, hash, .. } = a {
            surged.instances.push(
                ObservedInstance::new(format!("instance-{token}"), now)
                    .with_hash(hash.clone())
                    .with_token(token.clone())
                    .with_health(Health::Healthy, now),
            );
        }
    }
    let later = now.after(Duration::from_secs(1));
    let situations: [(&'static str, &GroupSpec, &Observed, &GroupState, Time); 3] = [
        ("converged", &v1, &old, &settled, now),
        ("rolling update, first step", &v2, &old, &settled, now),
        (
            "rolling update, surge listed",
            &v2,
            &surged,
            &start.state,
            later,
        ),
    ];
    let mut out = Vec::new();
    for (name, spec, observed, state, t) in situations {
        let actions = black_box(plan(spec, observed, state, t)).actions.len();
        let mut samples = Vec::with_capacity(calls);
        for _ in 0..calls {
            let begin = Instant::now();
            let p = plan(black_box(spec), black_box(observed), black_box(state), t);
            samples.push(begin.elapsed());
            black_box(p);
        }
        out.push(Case {
            name,
            observed: observed.instances.len(),
            actions,
            samples,
        });
    }
    if out[0].actions != 0 {
        bail!("a converged group of {n} got {} actions", out[0].actions);
    }
    Ok(out)
}

/// Runs the scenario.
pub fn run(sizes: &Sizes) -> anyhow::Result<Part> {
    let n = sizes.plan;
    let cases = cases(n, sizes.plan_calls)?;
    let mut rows = Vec::new();
    let mut details = Vec::new();
    for c in &cases {
        let m = median(&c.samples);
        progress(format!(
            "plan {} ({} observed, {} actions): median {} of {} calls",
            c.name,
            c.observed,
            c.actions,
            fmt_duration(m),
            c.samples.len()
        ));
        rows.push(Row::new(
            format!(
                "plan {} observed instances: {} ({} actions)",
                fmt_count(c.observed as u64),
                c.name,
                fmt_count(c.actions as u64)
            ),
            fmt_duration(m),
            "—",
            "< 50 ms",
            Some(m < TARGET),
        ));
        details.push(json!({
            "case": c.name,
            "observed": c.observed,
            "actions": c.actions,
            "median_ms": ms(m),
            "samples_ms": c.samples.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        }));
    }
    Ok(Part {
        rows,
        details: json!({"size": n, "cases": details}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_the_three_situations_on_a_small_group() {
        let cases = cases(1_000, 1).expect("cases");
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[0].actions, 0, "a converged group needs nothing");
        assert_eq!(
            cases[1].actions, 100,
            "the first step provisions the 10% surge"
        );
        assert_eq!(cases[2].observed, 1_100);
        assert!(cases[2].actions > 0, "the next step destroys old instances");
        assert!(cases.iter().all(|c| c.samples.len() == 1));
    }
}
