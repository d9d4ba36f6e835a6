//! One module per measurement, and what they share: the group spec and committing it.

pub mod converge;
pub mod curve;
pub mod ha;
pub mod heal;
pub mod plan;
pub mod resources;
pub mod rolling;
pub mod rpc;

use crate::mesh::Setup;
use crate::mesh::{FLAVOR, GROUP, INSTANCE, Mesh};
use crate::wait::{Waiter, converged};
use anyhow::Context;
use infrakit_spi::group::v1::group_client::GroupClient;
use infrakit_spi::group::v1::{CommitGroupRequest, GroupSpec, Plan};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// The ID of the group every scenario uses.
pub const GROUP_ID: &str = "bench";

/// The Properties of the bench group: `size` file instances with Instance Note `note`, the
/// vanilla flavor, MaxSurge 10%.
pub fn properties(size: u32, note: &str) -> Value {
    json!({
        "Allocation": {"Size": size},
        "Instance": {"Plugin": INSTANCE, "Properties": {"Note": note}},
        "Flavor": {"Plugin": FLAVOR},
        "Updating": {"MaxSurge": "10%"}
    })
}

/// Commits the bench group; returns its config hash.
pub async fn commit(
    client: &mut GroupClient<Channel>,
    size: u32,
    note: &str,
) -> anyhow::Result<String> {
    Ok(commit_group(client, GROUP_ID, size, note)
        .await?
        .map(|p| p.spec_hash)
        .unwrap_or_default())
}

/// Commits group `id` with the bench group's properties; returns the controller's plan.
pub async fn commit_group(
    client: &mut GroupClient<Channel>,
    id: &str,
    size: u32,
    note: &str,
) -> anyhow::Result<Option<Plan>> {
    let r = client
        .commit_group(CommitGroupRequest {
            spec: Some(GroupSpec {
                id: id.to_string(),
                properties: serde_json::to_vec(&properties(size, note))?,
            }),
            pretend: false,
        })
        .await
        .with_context(|| format!("CommitGroup of {id} failed"))?
        .into_inner();
    Ok(r.plan)
}

/// A standard mesh with the bench group converged at `size` (Note `v1`): the mesh, a waiter
/// on the group, and the config hash. `elapsed` is the time from commit to Converged.
pub struct Converged {
    /// The mesh.
    pub mesh: Mesh,
    /// A waiter subscribed to the group.
    pub waiter: Waiter,
    /// The config hash.
    pub hash: String,
    /// From just before CommitGroup until the Converged phase event.
    pub elapsed: Duration,
    /// How long CommitGroup itself took.
    pub commit: Duration,
    /// When the group's events arrived, relative to the commit.
    pub breakdown: String,
    /// CPU time (user + system) each service spent from the commit to Converged, in the
    /// order of [`CPU_SERVICES`]: unlike wall time, it hardly moves when the machine is busy.
    pub cpu: Vec<Duration>,
}

/// The services whose CPU time a converge reports.
pub const CPU_SERVICES: [&str; 3] = [GROUP, INSTANCE, FLAVOR];

/// The CPU time of each of [`CPU_SERVICES`] so far.
fn cpu_times(mesh: &Mesh) -> anyhow::Result<Vec<Duration>> {
    CPU_SERVICES
        .iter()
        .map(|n| crate::procfs::cpu_time(mesh.pid(n)?))
        .collect()
}

/// Starts a standard mesh and converges the bench group at `size`.
pub async fn converge(
    setup: &Setup,
    size: u32,
    group_args: &[&str],
    patience: Duration,
) -> anyhow::Result<Converged> {
    let mut mesh = Mesh::standard(setup, group_args).await?;
    let mut client = mesh.group().await?;
    let mut waiter = Waiter::subscribe(mesh.group().await?, GROUP_ID).await?;
    let cpu_before = cpu_times(&mesh)?;
    let start = Instant::now();
    let hash = commit(&mut client, size, "v1").await?;
    let commit = start.elapsed();
    let at = match waiter.until(converged(size, &hash), patience).await {
        Ok((at, _)) => at,
        Err(e) => {
            let alive = mesh.check_alive();
            return Err(e.context(format!(
                "the group did not converge at {size} ({alive:?}); logs:\n{}",
                mesh.logs()
            )));
        }
    };
    let breakdown = crate::wait::breakdown(&waiter.marks, start);
    let cpu = cpu_times(&mesh)?
        .iter()
        .zip(&cpu_before)
        .map(|(a, b)| a.saturating_sub(*b))
        .collect();
    Ok(Converged {
        cpu,
        breakdown,
        elapsed: at.duration_since(start),
        commit,
        hash,
        waiter,
        mesh,
    })
}
