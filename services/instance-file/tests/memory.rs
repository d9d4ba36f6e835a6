//! What the plugin holds in memory per instance: provisions N instances through the real binary
//! over its socket, as the group controller does (group, config hash and a unique provision
//! token as tags, a small Properties, a watcher reading the events), and reports its resident
//! memory (VmRSS) after the provisions, after rescans, and after a restart over the same files.
//!
//! A measurement, not a check (it takes minutes and its numbers depend on the allocator), so it
//! is ignored by default. Build the plugin in release and run it against that binary:
//!
//! ```text
//! cargo build --release -p infrakit-instance-file
//! INFRAKIT_MEMORY_BIN=$CARGO_TARGET_DIR/release/infrakit-instance-file \
//! INFRAKIT_MEMORY_SIZES=10000,100000 \
//!   cargo nextest run -p infrakit-instance-file --test memory --run-ignored only --no-capture
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use infrakit_spi::instance::v1::*;
use infrakit_testkit::{Mesh, spec, with_token};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How often the plugin rescans its directory during the measurement.
const RESCAN_EVERY: Duration = Duration::from_secs(5);
/// Provisions in flight at once.
const IN_FLIGHT: usize = 64;

fn binary() -> PathBuf {
    std::env::var_os("INFRAKIT_MEMORY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_infrakit-instance-file")))
}

fn sizes() -> Vec<usize> {
    std::env::var("INFRAKIT_MEMORY_SIZES")
        .unwrap_or_else(|_| "10000".to_string())
        .split(',')
        .map(|s| s.trim().parse().expect("INFRAKIT_MEMORY_SIZES: numbers"))
        .collect()
}

/// VmRSS of process `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS in kB");
    kb * 1024
}

struct Report {
    n: usize,
    base: u64,
    rows: Vec<(String, u64)>,
}

impl Report {
    fn add(&mut self, what: &str, pid: u32) {
        let r = rss(pid);
        eprintln!(
            "  {what:<34} VmRSS {:>7.1} MiB  {:>6.0} B/instance above the empty plugin",
            r as f64 / 1048576.0,
            r.saturating_sub(self.base) as f64 / self.n as f64
        );
        self.rows.push((what.to_string(), r));
    }
}

fn start(mesh: &mut Mesh, dir: &str) -> u32 {
    let every = format!("{}ms", RESCAN_EVERY.as_millis());
    let i = mesh.start(
        &binary(),
        "instance-file",
        &["--dir", dir, "--rescan-every", &every],
    );
    mesh.proc(i).pid().expect("running")
}

/// A client that takes listings of any size (100,000 instances are about 15 MB).
fn client(mesh: &Mesh) -> infrakit_testkit::Instance {
    let mut c = mesh.instance("instance-file");
    c.c = c.c.max_decoding_message_size(usize::MAX);
    c
}

/// Lists the group's instances without Properties, as the group controller does.
fn list(c: &mut infrakit_testkit::Instance, n: usize) {
    let started = Instant::now();
    let listed = c
        .call(async |c| {
            c.describe_instances(DescribeInstancesRequest {
                r#type: String::new(),
                tags: [("infrakit.group".to_string(), "bench".to_string())].into(),
                properties: false,
                unless_revision: 0,
            })
            .await
        })
        .unwrap();
    assert_eq!(listed.instances.len(), n);
    eprintln!("  listed in {:?}", started.elapsed());
}

fn measure(n: usize) -> Report {
    let mut mesh = Mesh::new("ikm").with_patience(Duration::from_secs(300));
    let dir = mesh.join("inst").display().to_string();
    let pid = start(&mut mesh, &dir);
    std::thread::sleep(Duration::from_secs(1));
    let mut report = Report {
        n,
        base: rss(pid),
        rows: Vec::new(),
    };
    eprintln!("N = {n}");
    report.add("empty", pid);

    let mut c = client(&mesh);
    let events = c.watch(&[("infrakit.group", "bench")]);
    let started = Instant::now();
    let hash = "q3mhy2yq7ybvzp4c5ut3bkfnxz2ldvmk";
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|w| {
            let mut client = c.c.clone();
            c.rt.spawn(async move {
                for k in (w..n).step_by(IN_FLIGHT) {
                    let s = with_token(
                        spec(
                            serde_json::json!({"Note": "v1"}),
                            &[("infrakit.group", "bench"), ("infrakit.config.hash", hash)],
                        ),
                        &format!("bench-{k}"),
                    );
                    client
                        .provision(ProvisionRequest {
                            fence: None,
                            r#type: String::new(),
                            spec: Some(s),
                        })
                        .await
                        .expect("Provision");
                }
            })
        })
        .collect();
    for w in workers {
        c.rt.block_on(w).unwrap();
    }
    eprintln!("  provisioned in {:?}", started.elapsed());
    // The watcher has read every event (one RESYNC, then one Created per instance).
    let mut seen = 0;
    while seen < n + 1 {
        events
            .recv_timeout(Duration::from_secs(60))
            .expect("an event");
        seen += 1;
    }
    std::thread::sleep(Duration::from_secs(1));
    report.add("provisioned", pid);

    for k in 1..=2 {
        std::thread::sleep(RESCAN_EVERY + Duration::from_millis(500));
        report.add(&format!("after rescan {k}"), pid);
    }
    for k in 1..=3 {
        list(&mut c, n);
        std::thread::sleep(Duration::from_millis(500));
        report.add(&format!("after listing {k}"), pid);
    }
    std::thread::sleep(RESCAN_EVERY + Duration::from_millis(500));
    report.add("after listing 3, rescan 3", pid);
    drop(events);
    drop(c);

    // A restart: the plugin loads every file from the directory.
    mesh.kill_all();
    let pid = start(&mut mesh, &dir);
    std::thread::sleep(Duration::from_secs(1));
    report.add("restarted over the files", pid);
    std::thread::sleep(RESCAN_EVERY + Duration::from_millis(500));
    report.add("restarted, after a rescan", pid);
    let mut c = client(&mesh);
    list(&mut c, n);
    std::thread::sleep(Duration::from_millis(500));
    report.add("restarted, after a listing", pid);
    report
}

#[test]
#[ignore = "a measurement: minutes long, run by hand in release (see the module's docs)"]
fn resident_memory_per_instance() {
    let reports: Vec<Report> = sizes().into_iter().map(measure).collect();
    eprintln!("\nbytes per instance, (VmRSS - VmRSS of the empty plugin) / N:");
    for r in &reports {
        let cols: Vec<String> = r
            .rows
            .iter()
            .map(|(what, b)| {
                format!(
                    "{what}: {:.0}",
                    b.saturating_sub(r.base) as f64 / r.n as f64
                )
            })
            .collect();
        eprintln!("  N = {}: {}", r.n, cols.join(", "));
    }
}
