//! `infrakit-bench`: measures the mesh against the speed targets of the group controller
//! (issue 3, "Speed"), driving the real release binaries over unix sockets in a short
//! temporary directory, and reports a markdown table (or JSON).
//!
//! Every timing scenario starts a fresh mesh (`infrakit-instance-file`,
//! `infrakit-flavor-vanilla`, `infrakit-group`) in a fresh directory under `/tmp` (or
//! `--work-dir`: the instance files and the group's state are written there, so its file system
//! is part of what is measured), waits for each plugin with a gRPC health check, is repeated
//! `--runs` times, and reports the median.
//!
//! ```text
//! cargo build --release -p infrakit-bench -p infrakit-group -p infrakit-instance-file -p infrakit-flavor-vanilla
//! target/release/infrakit-bench            # every scenario but curve at full size, 3 runs
//! target/release/infrakit-bench --quick    # a smoke run: small sizes, 1 run
//! target/release/infrakit-bench --only converge,heal --runs 5 --json
//! target/release/infrakit-bench --only curve --sizes 100,1000,10000 --idle-secs 5 --plot curve.svg
//! ```
//! `--only curve` (never part of a run without `--only`) measures how the mesh scales instead:
//! one row per size, from 100 to 100,000 instances in one group and 1,000 groups of 100, with
//! an SVG plot when `--plot FILE` is given (see [`scenarios::curve`]).
//!
//! Everything it starts is killed and every directory removed when a scenario ends, also on
//! error, panic or Ctrl-C.
//!
//! Layout:
//! - [`args`]: the command line and the sizes of a full or `--quick` run.
//! - [`mesh`]: starting the service binaries and connecting to them.
//! - [`wait`]: waiting for a group to reach a condition (Watch, checked with DescribeGroup).
//! - [`fleet`]: the same for many groups at once, on one Watch of every group.
//! - [`procfs`]: CPU time and memory of a process from `/proc`.
//! - [`stats`]: medians, percentiles and formatting.
//! - [`report`]: the rows, the markdown table and the JSON.
//! - [`plot`]: drawing a chart as SVG (the scale curve's `--plot`).
//! - [`etcd`]: a single-member etcd for the high-availability scenario.
//! - [`scenarios`]: one module per measurement.

pub mod args;
pub mod etcd;
pub mod fleet;
pub mod mesh;
pub mod plot;
pub mod procfs;
pub mod report;
pub mod scenarios;
pub mod stats;
pub mod wait;

use args::{Args, Scenario};
use report::Report;

/// Runs the selected scenarios and returns their report.
pub async fn run(args: &Args) -> anyhow::Result<Report> {
    args.check()?;
    let setup = mesh::Setup {
        bins: args.bin_dir()?,
        work: args.work_dir.clone(),
    };
    let sizes = args.sizes();
    let mut report = Report::new(args, &sizes, &setup.bins);
    for scenario in args.selected() {
        progress(format!("== {}", scenario.name()));
        let part = match scenario {
            Scenario::Converge => scenarios::converge::run(&setup, &sizes).await?,
            Scenario::Heal => scenarios::heal::run(&setup, &sizes).await?,
            Scenario::Rolling => scenarios::rolling::run(&setup, &sizes).await?,
            Scenario::Plan => scenarios::plan::run(&sizes)?,
            Scenario::Resources => scenarios::resources::run(&setup, &sizes).await?,
            Scenario::Rpc => scenarios::rpc::run(&setup, &sizes).await?,
            Scenario::Ha => scenarios::ha::run(&setup, &sizes).await?,
            Scenario::Curve => {
                let plot = args.plot.as_deref();
                let (part, table) =
                    scenarios::curve::run(&setup, &sizes.curve, sizes.patience, plot).await?;
                report.add_table(table);
                part
            }
        };
        report.add(scenario, part);
    }
    Ok(report)
}

/// Prints a progress line on stderr.
pub fn progress(line: impl AsRef<str>) {
    eprintln!("[bench] {}", line.as_ref());
}
