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
}

// === impl Args ===

impl Args {
    /// The scenarios to run, in the order of the table.
    pub fn selected(&self) -> Vec<Scenario> {
        Scenario::value_variants()
            .iter()
            .copied()
            .filter(|s| self.only.is_empty() || self.only.contains(s))
            .collect()
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
        }
    }
}
