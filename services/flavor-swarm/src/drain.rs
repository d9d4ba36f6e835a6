//! Taking nodes out of the swarm: demote a manager, drain (availability `drain`, then wait for
//! the node's tasks to stop), remove. Every step treats a node that is already gone as done.

use crate::engine;
use crate::nodes::{self, NodeView};
use bollard::Docker;
use bollard::models::{NodeSpec, NodeSpecAvailabilityEnum, NodeSpecRoleEnum, NodeState, TaskState};
use bollard::query_parameters::{
    DeleteNodeOptionsBuilder, ListTasksOptionsBuilder, UpdateNodeOptions,
};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::{Instant, sleep};
use tonic::Status;

/// How long a demoted manager may take to leave the Raft store.
pub const DEMOTE_TIMEOUT: Duration = Duration::from_secs(20);
/// How often a step in progress is checked.
pub const POLL: Duration = Duration::from_millis(200);
/// Attempts at a node update that races with another writer ("update out of sequence").
const UPDATE_ATTEMPTS: usize = 5;

/// Demotes (managers), drains and removes `node`, waiting at most `drain_timeout` for its tasks
/// to stop. A node that disappears on the way counts as removed.
pub async fn drain_and_remove(
    docker: &Docker,
    node: &NodeView,
    drain_timeout: Duration,
) -> Result<(), Status> {
    let id = node.id.as_str();
    if node.manager {
        if !demote(docker, id).await? {
            return Ok(());
        }
        tracing::info!(node = %node.name(), "demoted the manager to a worker");
    }
    let found = update(docker, id, |s| {
        s.availability = Some(NodeSpecAvailabilityEnum::DRAIN);
    })
    .await?;
    if !found {
        return Ok(());
    }
    if node.state == Some(NodeState::READY) {
        wait_for_tasks(docker, id, drain_timeout).await?;
    }
    remove(docker, id).await?;
    tracing::info!(node = %node.name(), "drained and removed the node from the swarm");
    Ok(())
}

/// Demotes a manager and waits until it is a worker. Returns false when the node is gone.
pub async fn demote(docker: &Docker, id: &str) -> Result<bool, Status> {
    if !update(docker, id, |s| s.role = Some(NodeSpecRoleEnum::WORKER)).await? {
        return Ok(false);
    }
    let deadline = Instant::now() + DEMOTE_TIMEOUT;
    loop {
        match nodes::get(docker, id).await? {
            None => return Ok(false),
            Some(n) if !n.manager => return Ok(true),
            Some(n) if Instant::now() >= deadline => {
                return Err(Status::deadline_exceeded(format!(
                    "manager {} was demoted but is still a manager after {}s \
                     (fix: check the swarm's quorum with `docker node ls` on a manager)",
                    n.name(),
                    DEMOTE_TIMEOUT.as_secs()
                )));
            }
            Some(_) => sleep(POLL).await,
        }
    }
}

/// Removes a node (forced: its engine may still be running); a node already gone is fine.
pub async fn remove(docker: &Docker, id: &str) -> Result<(), Status> {
    let options = DeleteNodeOptionsBuilder::new().force(true).build();
    match docker.delete_node(id, Some(options)).await {
        Ok(()) => Ok(()),
        Err(e) if engine::http_status(&e) == Some(404) => Ok(()),
        Err(e) => Err(engine::status(&format!("removing node {id}"), &e)),
    }
}

/// Changes a node's spec with `change`, retrying when another writer got there first. Returns
/// false when the node is gone.
pub async fn update(
    docker: &Docker,
    id: &str,
    change: impl Fn(&mut NodeSpec),
) -> Result<bool, Status> {
    for attempt in 1..=UPDATE_ATTEMPTS {
        let Some(node) = nodes::get(docker, id).await? else {
            return Ok(false);
        };
        let mut spec = node.spec.clone();
        change(&mut spec);
        if spec == node.spec {
            return Ok(true);
        }
        let version = i64::try_from(node.version).unwrap_or(i64::MAX);
        match docker
            .update_node(id, spec, UpdateNodeOptions { version })
            .await
        {
            Ok(()) => return Ok(true),
            Err(e) if engine::http_status(&e) == Some(404) => return Ok(false),
            Err(e)
                if attempt < UPDATE_ATTEMPTS && engine::message(&e).contains("out of sequence") =>
            {
                continue;
            }
            Err(e) => return Err(engine::status(&format!("updating node {id}"), &e)),
        }
    }
    Err(Status::aborted(format!(
        "node {id} kept changing while it was being updated; try again"
    )))
}

/// Waits until no task on the node is starting or running, for at most `timeout`; then goes on
/// (the node is removed anyway, and the swarm reschedules what was left).
async fn wait_for_tasks(docker: &Docker, id: &str, timeout: Duration) -> Result<(), Status> {
    let filters = HashMap::from([("node", vec![id.to_string()])]);
    let deadline = Instant::now() + timeout;
    loop {
        let tasks = docker
            .list_tasks(Some(
                ListTasksOptionsBuilder::new().filters(&filters).build(),
            ))
            .await
            .map_err(|e| engine::status(&format!("listing node {id}'s tasks"), &e))?;
        let active = tasks
            .iter()
            .filter(|t| {
                t.status
                    .as_ref()
                    .and_then(|s| s.state)
                    .is_some_and(is_active)
            })
            .count();
        if active == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                node = id,
                active,
                "drained tasks did not stop within DrainTimeout; removing the node anyway"
            );
            return Ok(());
        }
        sleep(POLL).await;
    }
}

fn is_active(s: TaskState) -> bool {
    matches!(
        s,
        TaskState::ASSIGNED
            | TaskState::ACCEPTED
            | TaskState::PREPARING
            | TaskState::READY
            | TaskState::STARTING
            | TaskState::RUNNING
    )
}
