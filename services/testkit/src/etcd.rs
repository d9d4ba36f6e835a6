//! Real etcd for tests: a cluster of `n` members on free loopback ports, each with its data in
//! the test's directory, that a test can stop, freeze and restart member by member. Needs
//! Debian's `etcd-server` (`tests/setup/etcd.sh` installs it).

use crate::proc::Proc;
use crate::procfs;
use crate::wait::eventually;
use rustix::process::Signal;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A running etcd cluster.
pub struct EtcdCluster {
    dir: PathBuf,
    members: Vec<Member>,
}

struct Member {
    name: String,
    client: u16,
    peer: u16,
    proc: Option<Proc>,
}

impl EtcdCluster {
    /// Starts `n` members under `dir` and waits until the cluster answers.
    pub fn start(dir: &Path, n: usize) -> Self {
        let members: Vec<Member> = (0..n)
            .map(|i| Member {
                name: format!("m{i}"),
                client: crate::free_port(),
                peer: crate::free_port(),
                proc: None,
            })
            .collect();
        let mut c = Self {
            dir: dir.to_path_buf(),
            members,
        };
        for i in 0..n {
            c.start_member(i);
        }
        c.wait_healthy();
        c
    }

    /// `etcd://127.0.0.1:P1,127.0.0.1:P2,...`, for `--store`.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.client))
            .collect();
        format!("etcd://{}", hosts.join(","))
    }

    /// `127.0.0.1:P1,...`, for etcdctl.
    pub fn endpoints(&self) -> String {
        let hosts: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.client))
            .collect();
        hosts.join(",")
    }

    /// (Re)starts member `i` on its data directory.
    pub fn start_member(&mut self, i: usize) {
        let initial: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer))
            .collect();
        let m = &self.members[i];
        let data = self.dir.join(format!("etcd-{}", m.name));
        let log = self.dir.join(format!("etcd-{}.log", m.name));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("an etcd log file");
        let client = format!("http://127.0.0.1:{}", m.client);
        let peer = format!("http://127.0.0.1:{}", m.peer);
        let child = Command::new("etcd")
            .args(["--name", &m.name])
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &initial.join(",")])
            .args(["--initial-cluster-token", "infrakit-test"])
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start etcd ({e}); install it with tests/setup/etcd.sh")
            });
        self.members[i].proc = Some(Proc::adopt(
            &format!("etcd-{}", self.members[i].name),
            child,
            log,
        ));
    }

    /// Kills member `i` (SIGKILL).
    pub fn kill_member(&mut self, i: usize) {
        if let Some(mut p) = self.members[i].proc.take() {
            p.kill();
        }
    }

    /// Freezes (true) or thaws (false) member `i`.
    pub fn freeze_member(&mut self, i: usize, frozen: bool) {
        if let Some(pid) = self.members[i].proc.as_ref().and_then(Proc::pid) {
            procfs::signal(pid, if frozen { Signal::STOP } else { Signal::CONT });
        }
    }

    /// Waits until every running member answers `etcdctl endpoint health`.
    pub fn wait_healthy(&self) {
        let endpoints: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.proc.is_some())
            .map(|m| format!("127.0.0.1:{}", m.client))
            .collect();
        eventually(
            "etcd healthy",
            Duration::from_secs(30),
            Duration::from_millis(100),
            || {
                Command::new("etcdctl")
                    .env("ETCDCTL_API", "3")
                    .args(["--endpoints", &endpoints.join(","), "endpoint", "health"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            },
        );
    }

    /// The keys and values under `prefix` (`etcdctl get --prefix`), on any live member.
    pub fn get_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args([
                "--endpoints",
                &self.endpoints(),
                "--command-timeout",
                "3s",
                "get",
                "--prefix",
                prefix,
            ])
            .output()
            .expect("etcdctl runs");
        assert!(
            out.status.success(),
            "etcdctl get failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        lines
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (c[0].to_string(), c[1].to_string()))
            .collect()
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for m in &mut self.members {
            if let Some(pid) = m.proc.as_ref().and_then(Proc::pid) {
                procfs::signal(pid, Signal::CONT);
            }
            if let Some(mut p) = m.proc.take() {
                p.kill();
            }
        }
    }
}
