//! CPU time and memory of a process, from `/proc/<pid>/stat` and `/proc/<pid>/status`.

use anyhow::{Context, bail};
use std::collections::HashMap;
use std::time::Duration;

/// A process's CPU time (user + system) so far.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("unexpected /proc/<pid>/stat format")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3 of the man page, at index 0; utime (14) and stime (15).
    let (Some(utime), Some(stime)) = (fields.get(11), fields.get(12)) else {
        bail!("unexpected /proc/{pid}/stat format");
    };
    let ticks: u64 = utime.parse::<u64>()? + stime.parse::<u64>()?;
    let hz = clock_ticks();
    Ok(Duration::from_micros(ticks * 1_000_000 / hz))
}

/// A process's CPU time, sampled two ways: in clock ticks for the whole process (every thread
/// it ever had; `/proc/<pid>/stat`, 10 ms steps at 100 Hz), and in nanoseconds for each live
/// thread (`/proc/<pid>/task/*/schedstat`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuSample {
    /// From `/proc/<pid>/stat`.
    pub ticks: Duration,
    /// Each live thread's CPU time, by thread ID.
    pub threads: HashMap<u32, Duration>,
}

/// Samples a process's CPU time (see [`CpuSample`]).
pub fn cpu_sample(pid: u32) -> anyhow::Result<CpuSample> {
    let ticks = cpu_time(pid)?;
    let dir = format!("/proc/{pid}/task");
    let mut threads = HashMap::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot list {dir}"))? {
        let entry = entry.with_context(|| format!("cannot list {dir}"))?;
        let Ok(tid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        // A thread may end between the listing and the read: it is left out.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("schedstat")) else {
            continue;
        };
        if let Some(ns) = stat.split_whitespace().next().and_then(|f| f.parse().ok()) {
            threads.insert(tid, Duration::from_nanos(ns));
        }
    }
    Ok(CpuSample { ticks, threads })
}

// === impl CpuSample ===

impl CpuSample {
    /// The CPU time spent since `before`: the sum over live threads (nanosecond resolution),
    /// unless the whole-process count in clock ticks is larger by more than two ticks, as when
    /// threads that took CPU time ended in between.
    pub fn since(&self, before: &CpuSample) -> Duration {
        let fine: Duration = self
            .threads
            .iter()
            .map(|(tid, t)| t.saturating_sub(before.threads.get(tid).copied().unwrap_or_default()))
            .sum();
        let coarse = self.ticks.saturating_sub(before.ticks);
        let tick = Duration::from_micros(1_000_000 / clock_ticks());
        if coarse > fine + 2 * tick {
            coarse
        } else {
            fine
        }
    }
}

/// Clock ticks per second (`getconf CLK_TCK`, else 100).
pub fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&hz| hz > 0)
        .unwrap_or(100)
}

/// Memory figures of a process, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    /// Resident now (`VmRSS`).
    pub rss: u64,
    /// The most ever resident (`VmHWM`).
    pub peak: u64,
}

/// A process's resident and peak resident memory.
pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("no {name} in /proc/{pid}/status"))?;
        let kb: u64 = line
            .trim_start_matches(name)
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()?;
        Ok(kb * 1024)
    };
    Ok(Memory {
        rss: field("VmRSS:")?,
        peak: field("VmHWM:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        let m = memory(pid).expect("memory");
        assert!(m.rss > 0 && m.peak >= m.rss);
        cpu_time(pid).expect("cpu time");
        // Spins until 20 ms of CPU time are counted (the wall time it takes depends on the
        // machine's load).
        let a = cpu_sample(pid).expect("cpu sample");
        assert!(!a.threads.is_empty());
        let spin = std::time::Instant::now();
        let mut spent = Duration::ZERO;
        while spent < Duration::from_millis(20) && spin.elapsed() < Duration::from_secs(10) {
            std::hint::black_box(spin.elapsed());
            spent = cpu_sample(pid).expect("cpu sample").since(&a);
        }
        assert!(
            spent >= Duration::from_millis(20),
            "{spent:?} in {:?}",
            spin.elapsed()
        );
    }

    #[test]
    fn ended_threads_count_through_the_ticks() {
        let tick = Duration::from_micros(1_000_000 / clock_ticks());
        let before = CpuSample {
            ticks: Duration::ZERO,
            threads: HashMap::from([(1, Duration::from_millis(5))]),
        };
        let after = CpuSample {
            ticks: 50 * tick,
            threads: HashMap::from([(2, Duration::from_millis(1))]),
        };
        assert_eq!(after.since(&before), 50 * tick);
        let after = CpuSample {
            ticks: tick,
            threads: HashMap::from([(1, Duration::from_millis(9)), (2, Duration::from_millis(1))]),
        };
        assert_eq!(after.since(&before), Duration::from_millis(5));
    }
}
