//! The command line, and the sizes of a full or `--quick` run.

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// The service binaries the bench starts.
pub const BINARIES: [&str; 3] = [
    "infrakit-group",
    "infrakit-instance-file",
    "infrakit-flavor-vanilla",
];

/// Measures the InfraKit mesh (real release binaries over unix sockets) against the speed
/// targets, and prints a markdown table on stdout (progress on stderr).
#[derive(Parser, Debug, Clone)]
#[command(name = "infrakit-bench", version)]
pub struct Args {
    /// Smaller sizes and one run: a smoke test of every scenario in well under a minute.
    #[arg(long)]
    pub quick: bool,
    /// Only these scenarios (repeat or separate with commas).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Scenario>,
    /// How many times each timing scenario is repeated; the median is reported
    /// (default 3, or 1 with --quick).
    #[arg(long)]
    pub runs: Option<usize>,
    /// Where the service binaries are (default: next to this executable).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// The directory under which each mesh gets its own temporary directory (keep it short:
    /// unix socket paths are limited to 107 bytes). The instance files are written there, so
    /// its file system is part of what is measured.
    #[arg(long, default_value = "/tmp")]
    pub work_dir: PathBuf,
    /// Print the results as JSON (with every sample) instead of the markdown table.
    #[arg(long)]
    pub json: bool,
    /// The longest any wait for a group may take, in seconds, before the bench fails.
    #[arg(long, default_value_t = 300)]
    pub patience: u64,
    /// The size of the group that heals (default 1,000, or 100 with --quick).
    #[arg(long)]
    pub heal_size: Option<u32>,
    /// The points of the `curve` scenario: instances in one group (`10000`), or groups ×
    /// instances on one controller (`1000x100`). Default 100,1000,10000,100000,1000x100, or
    /// 100,1000,10000 with --quick.
    #[arg(long, value_delimiter = ',', value_name = "N|GxN")]
    pub sizes: Vec<CurvePoint>,
    /// How long the `curve` scenario measures idle CPU after each converge, in seconds
    /// (default 60, or 2 with --quick).
    #[arg(long, value_name = "SECS")]
    pub idle_secs: Option<u64>,
    /// Write the `curve` scenario's plot (SVG) to this file; none is written without it.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

/// One measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Commit a group of N and time it until Converged (0 → 1,000 and 0 → 10,000).
    Converge,
    /// Delete 1 and 10% of the instance files of a converged group; time the replacement.
    Heal,
    /// Roll 100 instances to a new config with MaxSurge 10%.
    Rolling,
    /// Call the pure planner on 100,000 observed instances.
    Plan,
    /// Resident memory and idle CPU at 10,000 instances.
    Resources,
    /// Unary RPC latency and throughput over a unix socket, 1 and 64 clients.
    Rpc,
    /// Controllers sharing groups through etcd: takeover after kill -9, converge with the etcd
    /// store beside the file store, etcd writes at steady state. Needs `etcd` on the PATH.
    Ha,
    /// Scale curve: converge, CPU and memory per instance, heal, idle CPU and CommitGroup
    /// latency from 100 to 100,000 instances (`--sizes`, `--idle-secs`, `--plot`). Runs only
    /// when named in `--only`: at full size it takes several minutes.
    Curve,
}

/// One point of the scale curve: `groups` groups of `size` instances each, on one controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurvePoint {
    /// How many groups.
    pub groups: u32,
    /// Instances in each group.
    pub size: u32,
}

/// What the scale curve measures, and how often.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurvePlan {
    /// The points, in the order given.
    pub points: Vec<CurvePoint>,
    /// How long the mesh is left alone after the converge before idle CPU is measured.
    pub settle: Duration,
    /// How long idle CPU is measured.
    pub idle: Duration,
    /// Deletions of one instance, one after the other (median and max reported).
    pub heal_one: usize,
    /// Deletions of 1% of the instances at once.
    pub heal_percent: usize,
    /// CommitGroup calls of the unchanged spec (median reported).
    pub commits: usize,
}

/// The sizes and counts of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// True for a `--quick` run (sizes differ from the published ones).
    pub quick: bool,
    /// Repetitions of each timing scenario.
    pub runs: usize,
    /// The group sizes to converge from zero.
    pub converge: Vec<u32>,
    /// The size of the group that heals.
    pub heal: u32,
    /// The size of the group that rolls.
    pub rolling: u32,
    /// The number of observed instances planned.
    pub plan: u32,
    /// Calls of the planner per case (the median is reported).
    pub plan_calls: usize,
    /// The size of the group whose resources are measured.
    pub resources: u32,
    /// How long the group is left alone before the resources are measured.
    pub settle: Duration,
    /// How long the idle CPU is measured.
    pub window: Duration,
    /// Calls from one client.
    pub rpc_sequential: usize,
    /// Calls from the concurrent clients, in all.
    pub rpc_concurrent: usize,
    /// The number of concurrent clients.
    pub rpc_clients: usize,
    /// The longest the concurrent phase may take.
    pub rpc_max_time: Duration,
    /// Instances listed by the large DescribeInstances.
    pub describe_size: u32,
    /// How long a wait for a group may take before the bench fails.
    pub patience: Duration,
    /// The scale curve.
    pub curve: CurvePlan,
}

// === impl Args ===

impl Args {
    /// The scenarios to run, in the order of the table; `curve` only when named (it is long,
    /// and has a table of its own).
    pub fn selected(&self) -> Vec<Scenario> {
        Scenario::value_variants()
            .iter()
            .copied()
            .filter(|s| self.only.contains(s) || (self.only.is_empty() && *s != Scenario::Curve))
            .collect()
    }

    /// Fails when an option of the `curve` scenario is given but the scenario does not run.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.selected().contains(&Scenario::Curve) {
            return Ok(());
        }
        let given: Vec<&str> = [
            ("--sizes", !self.sizes.is_empty()),
            ("--idle-secs", self.idle_secs.is_some()),
            ("--plot", self.plot.is_some()),
        ]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect();
        if !given.is_empty() {
            let verb = if given.len() == 1 { "applies" } else { "apply" };
            bail!(
                "{} {verb} only to the curve scenario: add `--only curve`",
                given.join(", ")
            );
        }
        Ok(())
    }

    /// The scale curve of this run.
    fn curve(&self) -> CurvePlan {
        let one = |size| CurvePoint { groups: 1, size };
        let points = if !self.sizes.is_empty() {
            self.sizes.clone()
        } else if self.quick {
            vec![one(100), one(1_000), one(10_000)]
        } else {
            vec![
                one(100),
                one(1_000),
                one(10_000),
                one(100_000),
                CurvePoint {
                    groups: 1_000,
                    size: 100,
                },
            ]
        };
        let idle = Duration::from_secs(self.idle_secs.unwrap_or(if self.quick { 2 } else { 60 }));
        CurvePlan {
            points,
            settle: Duration::from_millis(if self.quick { 500 } else { 2_000 }),
            idle,
            heal_one: if self.quick { 5 } else { 10 },
            heal_percent: if self.quick { 2 } else { 3 },
            commits: if self.quick { 5 } else { 9 },
        }
    }

    /// The sizes of this run.
    pub fn sizes(&self) -> Sizes {
        let patience = Duration::from_secs(self.patience.max(1));
        if self.quick {
            Sizes {
                quick: true,
                runs: self.runs.unwrap_or(1).max(1),
                converge: vec![100, 500],
                heal: self.heal_size.unwrap_or(100).max(1),
                rolling: 100,
                plan: 10_000,
                plan_calls: 5,
                resources: 500,
                settle: Duration::from_secs(1),
                window: Duration::from_secs(3),
                rpc_sequential: 1_000,
                rpc_concurrent: 4_000,
                rpc_clients: 64,
                rpc_max_time: Duration::from_secs(5),
                describe_size: 1_000,
                patience,
                curve: self.curve(),
            }
        } else {
            Sizes {
                quick: false,
                runs: self.runs.unwrap_or(3).max(1),
                converge: vec![1_000, 10_000],
                heal: self.heal_size.unwrap_or(1_000).max(1),
                rolling: 100,
                plan: 100_000,
                plan_calls: 11,
                resources: 10_000,
                settle: Duration::from_secs(5),
                window: Duration::from_secs(10),
                rpc_sequential: 5_000,
                rpc_concurrent: 20_000,
                rpc_clients: 64,
                rpc_max_time: Duration::from_secs(10),
                describe_size: 1_000,
                patience,
                curve: self.curve(),
            }
        }
    }

    /// The directory holding the service binaries; fails naming the build command when one is
    /// missing.
    pub fn bin_dir(&self) -> anyhow::Result<PathBuf> {
        let dir = match &self.bin_dir {
            Some(d) => d.clone(),
            None => std::env::current_exe()
                .context("cannot find this executable's path")?
                .parent()
                .map(PathBuf::from)
                .context("this executable has no directory")?,
        };
        let missing: Vec<&str> = BINARIES
            .iter()
            .copied()
            .filter(|b| !dir.join(b).is_file())
            .collect();
        if !missing.is_empty() {
            bail!(
                "missing in {}: {} (fix: `cargo build --release -p infrakit-group -p infrakit-instance-file -p infrakit-flavor-vanilla`, or point --bin-dir at them)",
                dir.display(),
                missing.join(", ")
            );
        }
        Ok(dir)
    }
}

// === impl Scenario ===

impl Scenario {
    /// The name used by `--only` and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Converge => "converge",
            Scenario::Heal => "heal",
            Scenario::Rolling => "rolling",
            Scenario::Plan => "plan",
            Scenario::Resources => "resources",
            Scenario::Rpc => "rpc",
            Scenario::Ha => "ha",
            Scenario::Curve => "curve",
        }
    }
}

// === impl CurvePoint ===

impl CurvePoint {
    /// Instances in all.
    pub fn total(self) -> u64 {
        u64::from(self.groups) * u64::from(self.size)
    }
}

impl std::str::FromStr for CurvePoint {
    type Err = String;

    /// `N` (one group of N) or `GxN` (G groups of N); `_` may separate thousands.
    fn from_str(s: &str) -> Result<Self, String> {
        let number = |part: &str| -> Result<u32, String> {
            let n: u32 = part
                .trim()
                .replace('_', "")
                .parse()
                .map_err(|e| format!("{part:?} is not a count: {e}"))?;
            if n == 0 {
                return Err("a count must be at least 1".to_string());
            }
            Ok(n)
        };
        let (groups, size) = match s.split_once(['x', 'X', '×']) {
            Some((g, n)) => (number(g)?, number(n)?),
            None => (1, number(s)?),
        };
        Ok(Self { groups, size })
    }
}

impl std::fmt::Display for CurvePoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::stats::fmt_count;
        if self.groups == 1 {
            write!(f, "{}", fmt_count(self.size.into()))
        } else {
            write!(
                f,
                "{} × {}",
                fmt_count(self.groups.into()),
                fmt_count(self.size.into())
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_points_parse() {
        let point = |groups, size| CurvePoint { groups, size };
        let p = |s: &str| s.parse::<CurvePoint>();
        assert_eq!(p("100_000"), Ok(point(1, 100_000)));
        assert_eq!(p("1000x100"), Ok(point(1_000, 100)));
        assert_eq!(p("2×50"), Ok(point(2, 50)));
        assert!(p("0").is_err());
        assert!(p("x100").is_err());
        assert!(p("10x0").is_err());
        assert!(p("ten").is_err());
        assert!(p("99999999999").is_err());
        assert_eq!(point(1_000, 100).to_string(), "1,000 × 100");
        assert_eq!(point(1, 10_000).to_string(), "10,000");
        assert_eq!(point(1_000, 100).total(), 100_000);
    }

    #[test]
    fn curve_runs_only_when_named() {
        let args = Args::parse_from(["infrakit-bench"]);
        assert!(!args.selected().contains(&Scenario::Curve));
        assert!(args.check().is_ok());
        let args = Args::parse_from(["infrakit-bench", "--plot", "x.svg"]);
        assert!(args.check().is_err());
        let args = Args::parse_from(["infrakit-bench", "--only", "curve", "--sizes", "100,2x50"]);
        assert_eq!(args.selected(), vec![Scenario::Curve]);
        assert_eq!(args.sizes().curve.points.len(), 2);
    }
}
