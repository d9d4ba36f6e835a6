//! Reading the swarm through a manager's engine: what joining needs (cluster ID, tokens, manager
//! addresses), and nodes as the flavor sees them.

use crate::engine;
use crate::properties::Role;
use bollard::Docker;
use bollard::models::{LocalNodeState, Node, NodeSpec, NodeSpecRoleEnum, NodeState, Reachability};
use bollard::query_parameters::ListNodesOptionsBuilder;
use std::collections::{BTreeSet, HashMap};
use tonic::Status;

/// What an instance needs to join the swarm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinInfo {
    /// The cluster ID.
    pub swarm_id: String,
    /// The token for workers.
    pub worker_token: String,
    /// The token for managers.
    pub manager_token: String,
    /// The managers' `host:port` addresses, sorted.
    pub managers: Vec<String>,
    /// The node ID of the engine the flavor talks to.
    pub self_node: String,
}

/// A swarm node, as the flavor judges it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeView {
    /// The node ID.
    pub id: String,
    /// The engine's host name.
    pub hostname: String,
    /// Ready, down, ...; `None` when the swarm does not say.
    pub state: Option<NodeState>,
    /// True for a manager.
    pub manager: bool,
    /// A manager's reachability.
    pub reachability: Option<Reachability>,
    /// The engine labels.
    pub engine_labels: HashMap<String, String>,
    /// The node's own spec (labels, role, availability) and its version, for updates.
    pub spec: NodeSpec,
    /// The spec's version.
    pub version: u64,
}

// === impl NodeView ===

impl NodeView {
    /// The view of an engine's node answer.
    pub fn of(n: &Node) -> Self {
        let spec = n.spec.clone().unwrap_or_default();
        let manager_status = n.manager_status.as_ref();
        Self {
            id: n.id.clone().unwrap_or_default(),
            hostname: n
                .description
                .as_ref()
                .and_then(|d| d.hostname.clone())
                .unwrap_or_default(),
            state: n.status.as_ref().and_then(|s| s.state),
            manager: manager_status.is_some() || spec.role == Some(NodeSpecRoleEnum::MANAGER),
            reachability: manager_status.and_then(|m| m.reachability),
            engine_labels: n
                .description
                .as_ref()
                .and_then(|d| d.engine.as_ref())
                .and_then(|e| e.labels.clone())
                .unwrap_or_default(),
            version: n.version.as_ref().and_then(|v| v.index).unwrap_or(0),
            spec,
        }
    }

    /// An engine label's value.
    pub fn engine_label(&self, key: &str) -> Option<&str> {
        self.engine_labels.get(key).map(String::as_str)
    }

    /// A node label's value (from the node's spec).
    pub fn node_label(&self, key: &str) -> Option<&str> {
        self.spec
            .labels
            .as_ref()
            .and_then(|l| l.get(key))
            .map(String::as_str)
    }

    /// `<hostname> (<id>)`, for messages.
    pub fn name(&self) -> String {
        format!("{} ({})", self.hostname, self.id)
    }
}

/// Reads what joining needs; fails with FAILED_PRECONDITION unless the engine is a swarm manager.
pub async fn join_info(docker: &Docker, host: &str) -> Result<JoinInfo, Status> {
    let info = docker
        .info()
        .await
        .map_err(|e| engine::status(&format!("reading {host}'s swarm state"), &e))?;
    let swarm = info.swarm.unwrap_or_default();
    if swarm.local_node_state != Some(LocalNodeState::ACTIVE) {
        return Err(Status::failed_precondition(format!(
            "the engine at {host} is not in a swarm (state {:?}) (fix: run `docker swarm init` there, \
             or point --docker-host at a swarm manager)",
            swarm
                .local_node_state
                .map(|s| s.to_string())
                .unwrap_or_default()
        )));
    }
    if swarm.control_available != Some(true) {
        return Err(Status::failed_precondition(format!(
            "the engine at {host} is a swarm worker, not a manager: it cannot give join tokens \
             (fix: point --docker-host at a manager; `docker node ls` on a manager lists them)"
        )));
    }
    let inspected = docker
        .inspect_swarm()
        .await
        .map_err(|e| engine::status(&format!("reading {host}'s swarm"), &e))?;
    let tokens = inspected.join_tokens.unwrap_or_default();
    let managers: BTreeSet<String> = swarm
        .remote_managers
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.addr)
        .filter(|a| !a.is_empty())
        .collect();
    Ok(JoinInfo {
        swarm_id: inspected.id.unwrap_or_default(),
        worker_token: tokens.worker.unwrap_or_default(),
        manager_token: tokens.manager.unwrap_or_default(),
        managers: managers.into_iter().collect(),
        self_node: swarm.node_id.unwrap_or_default(),
    })
}

/// The token for a role.
pub fn token(info: &JoinInfo, role: Role) -> &str {
    match role {
        Role::Worker => &info.worker_token,
        Role::Manager => &info.manager_token,
    }
}

/// The nodes whose engine carries label `key=value`.
pub async fn with_engine_label(
    docker: &Docker,
    key: &str,
    value: &str,
) -> Result<Vec<NodeView>, Status> {
    let filters = HashMap::from([("label", vec![format!("{key}={value}")])]);
    let nodes = docker
        .list_nodes(Some(
            ListNodesOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(|e| engine::status("listing swarm nodes", &e))?;
    // The engine filters already; checking again keeps a lax engine from widening the match.
    Ok(nodes
        .iter()
        .map(NodeView::of)
        .filter(|n| n.engine_label(key) == Some(value))
        .collect())
}

/// The nodes whose spec carries node label `key=value`.
pub async fn with_node_label(
    docker: &Docker,
    key: &str,
    value: &str,
) -> Result<Vec<NodeView>, Status> {
    let nodes = docker
        .list_nodes(None)
        .await
        .map_err(|e| engine::status("listing swarm nodes", &e))?;
    Ok(nodes
        .iter()
        .map(NodeView::of)
        .filter(|n| n.node_label(key) == Some(value))
        .collect())
}

/// One node, or `None` when it is gone.
pub async fn get(docker: &Docker, id: &str) -> Result<Option<NodeView>, Status> {
    match docker.inspect_node(id).await {
        Ok(n) => Ok(Some(NodeView::of(&n))),
        Err(e) if engine::http_status(&e) == Some(404) => Ok(None),
        Err(e) => Err(engine::status(&format!("reading node {id}"), &e)),
    }
}
