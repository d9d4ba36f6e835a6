//! The scale curve: for each point (one group of N, or G groups of N on one controller), on a
//! fresh mesh, converge from zero and report the time, the CPU time and resident memory each
//! service spent per instance, the idle CPU afterwards, heal latencies (one instance deleted, and
//! 1% at once) and the latency of a CommitGroup that changes nothing. One row per point in a
//! table of its own, and an SVG plot with `--plot`.

pub mod point;

use crate::args::CurvePlan;
use crate::mesh::Setup;
use crate::plot::{Chart, Panel, Series};
use crate::progress;
use crate::report::{Part, Table};
use crate::stats::{fmt_count, fmt_duration, median, ms};
use point::Measured;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// Runs the scale curve; writes the plot to `plot` if given.
pub async fn run(
    setup: &Setup,
    plan: &CurvePlan,
    patience: Duration,
    plot: Option<&Path>,
) -> anyhow::Result<(Part, Table)> {
    if let Some(path) = plot {
        crate::plot::prepare(path)?;
    }
    let mut measured = Vec::new();
    // Every mesh's files stay on disk until the scenario is over (see `Mesh::into_dir`).
    let mut kept = Vec::new();
    for &p in &plan.points {
        progress(format!(
            "curve {p}: {} instance(s) in all",
            fmt_count(p.total())
        ));
        let (m, mesh) = point::measure(setup, p, plan, patience).await?;
        measured.push(m);
        kept.push(mesh.into_dir());
    }
    if let Some(path) = plot {
        chart(&measured).write_svg(path)?;
        progress(format!("curve: plot written to {}", path.display()));
    }
    let files: u64 = plan.points.iter().map(|p| p.total()).sum();
    if files >= 50_000 {
        progress(format!(
            "curve: removing {} instance files (this takes a while)",
            fmt_count(files)
        ));
    }
    drop(kept);
    let part = Part {
        rows: Vec::new(),
        details: json!({
            "settle_s": plan.settle.as_secs_f64(),
            "idle_s": plan.idle.as_secs_f64(),
            "points": measured.iter().map(point_json).collect::<Vec<_>>(),
        }),
    };
    Ok((part, table(&measured, plan)))
}

/// The table: one row per point.
fn table(measured: &[Measured], plan: &CurvePlan) -> Table {
    let header = [
        "instances",
        "converge",
        "CPU per instance, µs",
        "memory per instance",
        "heal 1: median / max",
        "heal 1%: median / max",
        "idle CPU, % of a core",
        "CommitGroup (unchanged)",
    ];
    let rows = measured
        .iter()
        .map(|m| {
            let n = m.point.total() as f64;
            vec![
                m.point.to_string(),
                fmt_duration(m.converge),
                triple(m.cpu.map(|d| fmt_micros(d.as_secs_f64() * 1e6 / n))),
                triple(std::array::from_fn(|i| {
                    fmt_bytes((m.rss_after[i] as f64 - m.rss_before[i] as f64) / n)
                })),
                median_max(&m.heal_one),
                median_max(&m.heal_percent),
                triple(m.idle_cpu.map(|p| format!("{p:.2}"))),
                fmt_duration(median(&m.commit)),
            ]
        })
        .collect();
    Table {
        title: "Scale curve".to_string(),
        header: header.iter().map(|h| h.to_string()).collect(),
        rows,
        note: format!(
            "CPU, memory and idle CPU per service: `infrakit-group` / `infrakit-instance-file` / \
             `infrakit-flavor-vanilla`. Converge: from the first CommitGroup until every group is \
             Converged with all members up to date and healthy; CPU per instance: CPU time during \
             it ÷ instances; memory per instance: resident memory after it minus before ÷ \
             instances. Idle CPU over {} after a {} pause. Heal: instance files deleted until \
             their groups are Converged again without them; 1: {} deletions one after the other; \
             1%: {} deletions at once. CommitGroup of the unchanged spec, timed at the client: \
             median of {}.",
            fmt_duration(plan.idle),
            fmt_duration(plan.settle),
            plan.heal_one,
            plan.heal_percent,
            plan.commits
        ),
    }
}

/// The plot: per-instance CPU and heal latencies against instances.
fn chart(measured: &[Measured]) -> Chart {
    let x = |m: &Measured| m.point.total() as f64;
    let per_instance = |m: &Measured, i: usize| m.cpu[i].as_secs_f64() * 1e6 / x(m);
    let heal = |v: &[Duration]| median(v).as_secs_f64() * 1e3;
    // One group per point draws the lines; many groups per point are markers beside them.
    let (lines, markers): (Vec<&Measured>, Vec<&Measured>) =
        measured.iter().partition(|m| m.point.groups == 1);
    let series = |label: &str, f: &dyn Fn(&Measured) -> f64| {
        let mut s = vec![Series::line(label, lines.iter().map(|m| (x(m), f(m))))];
        for m in &markers {
            let (groups, size) = (
                fmt_count(m.point.groups.into()),
                fmt_count(m.point.size.into()),
            );
            s.push(Series::marker(
                format!("{label}, {groups} groups of {size}"),
                [(x(m), f(m))],
            ));
        }
        s
    };
    let names = [
        "infrakit-group",
        "infrakit-instance-file",
        "infrakit-flavor-vanilla",
    ];
    let cpu = (0..3)
        .flat_map(|i| series(names[i], &|m| per_instance(m, i)))
        .collect();
    let mut heals = series("heal 1 (median)", &|m| heal(&m.heal_one));
    heals.extend(series("heal 1% (median)", &|m| heal(&m.heal_percent)));
    Chart {
        title: "infrakit-bench: scale curve".to_string(),
        x_label: "instances (log scale)".to_string(),
        panels: vec![
            Panel {
                y_label: "CPU per instance during converge (µs)".to_string(),
                series: cpu,
                log_y: false,
            },
            Panel {
                y_label: "heal latency (ms, log scale)".to_string(),
                series: heals,
                log_y: true,
            },
        ],
    }
}

/// Everything measured at a point, for the JSON.
fn point_json(m: &Measured) -> Value {
    let services = crate::scenarios::CPU_SERVICES;
    let per_service = |f: &dyn Fn(usize) -> Value| -> serde_json::Map<String, Value> {
        (0..3).map(|i| (services[i].to_string(), f(i))).collect()
    };
    json!({
        "groups": m.point.groups,
        "size": m.point.size,
        "instances": m.point.total(),
        "instance_files": m.files,
        "converge_ms": ms(m.converge),
        "cpu_ms": per_service(&|i| json!(ms(m.cpu[i]))),
        "rss_before_bytes": per_service(&|i| json!(m.rss_before[i])),
        "rss_after_bytes": per_service(&|i| json!(m.rss_after[i])),
        "idle_window_s": m.idle_window.as_secs_f64(),
        "idle_cpu_percent": per_service(&|i| json!((m.idle_cpu[i] * 1000.0).round() / 1000.0)),
        "heal_one_ms": m.heal_one.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        "heal_percent_count": m.heal_percent_count,
        "heal_percent_ms": m.heal_percent.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        "commit_ms": m.commit.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        "commit_noop": m.commit_noop,
        "cpu_ms_per_heal_one": per_service(&|i| json!(ms(m.phase_cpu[0][i]))),
        "cpu_ms_per_heal_percent": per_service(&|i| json!(ms(m.phase_cpu[1][i]))),
        "cpu_ms_per_commit": per_service(&|i| json!(ms(m.phase_cpu[2][i]))),
    })
}

/// Three per-service values in one cell.
fn triple(v: [String; 3]) -> String {
    v.join(" / ")
}

/// The median and the largest of some durations.
fn median_max(v: &[Duration]) -> String {
    let max = v.iter().max().copied().unwrap_or_default();
    format!("{} / {}", fmt_duration(median(v)), fmt_duration(max))
}

/// Microseconds, with a decimal below 10.
fn fmt_micros(us: f64) -> String {
    if us.abs() < 10.0 {
        format!("{us:.1}")
    } else {
        format!("{us:.0}")
    }
}

/// Bytes (possibly negative) in B or KB (10^3 bytes).
fn fmt_bytes(b: f64) -> String {
    if b.abs() >= 1000.0 {
        format!("{:.1} KB", b / 1000.0)
    } else {
        format!("{b:.0} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        assert_eq!(fmt_micros(3.26), "3.3");
        assert_eq!(fmt_micros(123.4), "123");
        assert_eq!(fmt_bytes(850.0), "850 B");
        assert_eq!(fmt_bytes(-1_260.0), "-1.3 KB");
        assert_eq!(
            median_max(&[Duration::from_millis(3), Duration::from_millis(9)]),
            "3.0 ms / 9.0 ms"
        );
    }
}
