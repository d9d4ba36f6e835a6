//! A mesh for group tests: the file instance plugin, the vanilla flavor and the group
//! controller, plus a blocking Group client.

// Polling helpers block between checks; they never wait a fixed time for readiness.
#![allow(clippy::disallowed_methods)]

use crate::support::*;
use infrakit_spi::group::v1::group_client::GroupClient;
use infrakit_spi::group::v1::*;
use std::path::PathBuf;

/// The three plugins a group needs, in one test directory.
pub struct Mesh {
    pub t: TestDir,
    pub file: Proc,
    pub _vanilla: Proc,
    pub group: Option<Proc>,
    pub inst: PathBuf,
    rt: tokio::runtime::Runtime,
}

impl Mesh {
    /// Starts everything.
    pub fn start() -> Self {
        let t = TestDir::new();
        let (file, inst) = t.start_file_plugin();
        let vanilla = t.start("infrakit-flavor-vanilla", "flavor-vanilla", &[]);
        let mut m = Self {
            t,
            file,
            _vanilla: vanilla,
            group: None,
            inst,
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap(),
        };
        m.start_group();
        m
    }

    /// (Re)starts the group controller on the same state directory.
    pub fn start_group(&mut self) {
        let state = self.t.join("state").display().to_string();
        self.group = Some(self.t.start(
            "infrakit-group",
            "group",
            &[
                "--state-dir",
                &state,
                "--describe-timeout",
                "500ms",
                "--health-interval",
                "100ms",
                "--resync-interval",
                "1s",
            ],
        ));
    }

    /// kill -9 of the group controller.
    pub fn kill_group(&mut self) {
        if let Some(mut g) = self.group.take() {
            g.signal("KILL");
            g.wait_exit(std::time::Duration::from_secs(5));
        }
    }

    fn client(&self) -> GroupClient<tonic::transport::Channel> {
        let sock = self.t.socket("group");
        self.rt
            .block_on(async { GroupClient::new(channel(&sock).await) })
    }

    /// CommitGroup with a spec `{"ID", "Properties"}`.
    pub fn commit(
        &self,
        spec: &serde_json::Value,
        pretend: bool,
    ) -> Result<CommitGroupResponse, tonic::Status> {
        let mut c = self.client();
        let req = CommitGroupRequest {
            spec: Some(GroupSpec {
                id: spec["ID"].as_str().unwrap().to_string(),
                properties: spec["Properties"].to_string().into_bytes(),
            }),
            pretend,
        };
        self.rt
            .block_on(async { c.commit_group(req).await.map(|r| r.into_inner()) })
    }

    /// DescribeGroup.
    pub fn describe(&self, id: &str) -> Result<DescribeGroupResponse, tonic::Status> {
        let mut c = self.client();
        self.rt.block_on(async {
            c.describe_group(DescribeGroupRequest { id: id.into() })
                .await
                .map(|r| r.into_inner())
        })
    }

    /// Any other call.
    pub fn call<T>(
        &self,
        f: impl AsyncFnOnce(
            &mut GroupClient<tonic::transport::Channel>,
        ) -> Result<tonic::Response<T>, tonic::Status>,
    ) -> Result<T, tonic::Status> {
        let mut c = self.client();
        self.rt
            .block_on(async { f(&mut c).await.map(|r| r.into_inner()) })
    }

    /// Waits until the group is converged with `n` members, all up to date and healthy.
    pub fn wait_converged(&self, id: &str, n: u32) -> DescribeGroupResponse {
        let mut last = None;
        let start = std::time::Instant::now();
        loop {
            if let Ok(d) = self.describe(id) {
                if d.phase == Phase::Converged as i32
                    && d.actual == n
                    && d.up_to_date == n
                    && d.healthy == n
                {
                    return d;
                }
                last = Some(d);
            }
            assert!(
                start.elapsed() < PATIENCE,
                "group {id} did not converge to {n}; last status: {last:#?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The instance files' contents, by instance ID.
    pub fn instances(&self) -> Vec<(String, serde_json::Value)> {
        let mut out: Vec<(String, serde_json::Value)> = std::fs::read_dir(&self.inst)
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let id = name.strip_suffix(".json")?.to_string();
                let v = serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
                Some((id, v))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// A cattle spec through the file plugin and the vanilla flavor.
pub fn cattle(id: &str, size: u32, note: &str) -> serde_json::Value {
    serde_json::json!({
        "ID": id,
        "Properties": {
            "Allocation": {"Size": size},
            "Instance": {"Plugin": "instance-file", "Properties": {"Note": note}},
            "Flavor": {"Plugin": "flavor-vanilla", "Properties": {"Init": ["echo hello"], "Tags": {"tier": "web"}}}
        }
    })
}
