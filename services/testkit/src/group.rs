//! A blocking Group client for group tests: commit a spec, describe it, wait until it converged.

use crate::client::Blocking;
use infrakit_spi::group::v1::group_client::GroupClient;
use infrakit_spi::group::v1::*;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// A blocking Group client (see [`crate::Mesh::group`]).
pub type GroupHarness = Blocking<GroupClient<Channel>>;

impl GroupHarness {
    /// CommitGroup of `spec`, a group spec as JSON (`{"ID": ..., "Properties": {...}}`); fails
    /// the test when the group refuses it.
    pub fn commit(&mut self, spec: &serde_json::Value) -> CommitGroupResponse {
        self.try_commit(spec)
            .unwrap_or_else(|st| panic!("CommitGroup refused the spec: {st:?}"))
    }

    /// CommitGroup of `spec` (as for [`GroupHarness::commit`]), returning the group's answer.
    pub fn try_commit(
        &mut self,
        spec: &serde_json::Value,
    ) -> Result<CommitGroupResponse, tonic::Status> {
        let req = CommitGroupRequest {
            spec: Some(GroupSpec {
                id: spec["ID"]
                    .as_str()
                    .expect("the spec's ID is a string")
                    .to_string(),
                properties: spec["Properties"].to_string().into_bytes(),
            }),
            pretend: false,
        };
        self.call(async |c| c.commit_group(req).await)
    }

    /// DescribeGroup of group `id`.
    pub fn describe(&mut self, id: &str) -> Result<DescribeGroupResponse, tonic::Status> {
        let id = id.to_string();
        self.call(async |c| c.describe_group(DescribeGroupRequest { id }).await)
    }

    /// True when group `id` is converged with `n` members, all of them healthy and up to date.
    pub fn converged(&mut self, id: &str, n: u32) -> bool {
        self.describe(id).is_ok_and(|d| is_converged(&d, n))
    }

    /// Waits until group `id` is converged with `n` members (see [`GroupHarness::converged`]),
    /// polling every 50 ms; returns that status. Fails the test with the last status after
    /// `timeout`.
    pub fn wait_converged(&mut self, id: &str, n: u32, timeout: Duration) -> DescribeGroupResponse {
        let start = Instant::now();
        loop {
            match self.describe(id) {
                Ok(d) if is_converged(&d, n) => return d,
                last => assert!(
                    start.elapsed() < timeout,
                    "timed out after {timeout:?} waiting for group {id} to converge with {n} \
                     members; last status: {last:#?}"
                ),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// True when group `id` is not known to the group controller (destroyed).
    pub fn gone(&mut self, id: &str) -> bool {
        self.describe(id)
            .is_err_and(|st| st.code() == tonic::Code::NotFound)
    }

    /// DestroyGroup of group `id`; fails the test when it fails.
    pub fn destroy(&mut self, id: &str) {
        let id = id.to_string();
        self.call(async |c| c.destroy_group(DestroyGroupRequest { id }).await)
            .expect("DestroyGroup");
    }
}

fn is_converged(d: &DescribeGroupResponse, n: u32) -> bool {
    d.phase == Phase::Converged as i32 && d.actual == n && d.healthy == n && d.up_to_date == n
}
