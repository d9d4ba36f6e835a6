//! The `infrakit.flavor.v1.Flavor` service of the swarm flavor.

use crate::health::{self, Memory, Verdict};
use crate::link;
use crate::nodes::{self, NodeView};
use crate::properties::{Role, SwarmProperties, parse};
use crate::{drain, engine};
use bollard::Docker;
use bollard::models::NodeState;
use infrakit_model::tags;
use infrakit_runtime::status;
use infrakit_spi::flavor::v1::flavor_server::Flavor;
use infrakit_spi::flavor::v1::*;
use infrakit_spi::instance::v1::InstanceDescription;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::time::Instant;
use tonic::{Request, Response, Status};

/// The swarm flavor, talking to one swarm manager's engine. Cloning is cheap (a shared handle).
#[derive(Clone, Debug)]
pub struct SwarmFlavor {
    docker: Docker,
    host: String,
    memory: Arc<Mutex<Memory>>,
}

// === impl SwarmFlavor ===

impl SwarmFlavor {
    /// A flavor using the manager engine `docker`, reached at `host` (for messages).
    pub fn new(docker: Docker, host: String) -> Self {
        Self {
            docker,
            host,
            memory: Arc::new(Mutex::new(Memory::new(Instant::now().into_std()))),
        }
    }

    fn memory(&self) -> MutexGuard<'_, Memory> {
        // The memory stays consistent whatever panicked while holding it (plain map updates).
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Finds the nodes of an instance: by its link tag, and by the instance ID that Healthy
    /// wrote into the node's labels (Drain may be given the ID alone).
    async fn nodes_of(&self, inst: &InstanceDescription) -> Result<Vec<NodeView>, Status> {
        let mut found = match inst.tags.get(link::LINK) {
            Some(l) => nodes::with_engine_label(&self.docker, link::LINK, l).await?,
            None => Vec::new(),
        };
        if !inst.id.is_empty() {
            for n in nodes::with_node_label(&self.docker, link::INSTANCE, &inst.id).await? {
                if !found.iter().any(|f| f.id == n.id) {
                    found.push(n);
                }
            }
        }
        Ok(found)
    }

    /// Records the instance ID on its ready node (best effort), so that Drain finds the node
    /// from the ID alone.
    async fn label_nodes(&self, inst: &InstanceDescription, found: &[NodeView]) {
        for n in found {
            if n.state != Some(NodeState::READY)
                || n.node_label(link::INSTANCE) == Some(inst.id.as_str())
            {
                continue;
            }
            let r = drain::update(&self.docker, &n.id, |s| {
                s.labels
                    .get_or_insert_with(Default::default)
                    .insert(link::INSTANCE.to_string(), inst.id.clone());
            })
            .await;
            if let Err(e) = r {
                tracing::warn!(node = %n.name(), instance = %inst.id, error = %e.message(), "could not label the node with its instance ID");
            }
        }
    }

    /// Starts a sweep of `group`'s nodes in the background if one is due.
    fn maybe_sweep(&self, group: &str) {
        let now = Instant::now().into_std();
        if !self.memory().sweep_due(group, now) {
            return;
        }
        let this = self.clone();
        let group = group.to_string();
        tokio::spawn(async move { this.sweep(&group).await });
    }

    /// Removes the group's down nodes whose instances nobody asks about any more: left behind
    /// by instances that died without a Drain (the group destroys a failed instance without one).
    async fn sweep(&self, group: &str) {
        let self_node = match self.docker.info().await {
            Ok(i) => i.swarm.and_then(|s| s.node_id).unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %engine::message(&e), "sweep: cannot read the manager's node ID");
                return;
            }
        };
        let found = match nodes::with_engine_label(&self.docker, link::GROUP, group).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(%group, error = %e.message(), "sweep: cannot list the group's nodes");
                return;
            }
        };
        let now = Instant::now().into_std();
        for n in found {
            if n.state != Some(NodeState::DOWN)
                || n.id == self_node
                || !self.memory().is_forgotten(n.engine_label(link::LINK), now)
            {
                continue;
            }
            let r = async {
                if n.manager {
                    drain::demote(&self.docker, &n.id).await?;
                }
                drain::remove(&self.docker, &n.id).await
            }
            .await;
            match r {
                Ok(()) => {
                    tracing::info!(node = %n.name(), %group, "removed a down node left behind by an instance that is gone");
                }
                Err(e) => {
                    tracing::warn!(node = %n.name(), %group, error = %e.message(), "could not remove a down node");
                }
            }
        }
        self.memory().prune(now);
    }
}

/// Parses Properties for the plugin addressed with subtype `t`.
fn properties(bytes: &[u8], t: &str) -> Result<SwarmProperties, Status> {
    let subtype = match t {
        "" => None,
        other => Some(Role::from_name(other).ok_or_else(|| {
            Status::not_found(format!(
                "the swarm flavor has no subtype {other:?}; address it as <name>/worker or <name>/manager"
            ))
        })?),
    };
    let v = status::parse_properties(bytes, "$.properties")?;
    parse(&v, "$.properties", subtype).map_err(|v| status::invalid(&v))
}

fn response(v: Verdict) -> Response<HealthyResponse> {
    Response::new(HealthyResponse {
        health: v.health as i32,
        reason: v.reason,
        recheck_after: Some(prost_types::Duration {
            seconds: i64::try_from(v.recheck_after.as_secs()).unwrap_or(i64::MAX),
            nanos: 0,
        }),
    })
}

#[tonic::async_trait]
impl Flavor for SwarmFlavor {
    async fn validate(
        &self,
        req: Request<ValidateRequest>,
    ) -> Result<Response<ValidateResponse>, Status> {
        let req = req.into_inner();
        properties(&req.properties, &req.r#type)?;
        Ok(Response::new(ValidateResponse {}))
    }

    async fn prepare(
        &self,
        req: Request<PrepareRequest>,
    ) -> Result<Response<PrepareResponse>, Status> {
        let req = req.into_inner();
        let props = properties(&req.properties, &req.r#type)?;
        let info = nodes::join_info(&self.docker, &self.host).await?;
        let index = req.index.unwrap_or_default();
        let spec = crate::prepare::prepare(&props, &info, req.spec.unwrap_or_default(), &index)
            .map_err(|problem| {
                Status::failed_precondition(format!("the swarm at {} {problem}", self.host))
            })?;
        tracing::info!(
            group = %index.group,
            link = %spec.tags.get(link::LINK).map(String::as_str).unwrap_or(""),
            role = %props.role,
            "prepared an instance to join the swarm"
        );
        Ok(Response::new(PrepareResponse { spec: Some(spec) }))
    }

    async fn healthy(
        &self,
        req: Request<HealthyRequest>,
    ) -> Result<Response<HealthyResponse>, Status> {
        let req = req.into_inner();
        let props = properties(&req.properties, &req.r#type)?;
        let Some(inst) = req.instance else {
            return Err(Status::invalid_argument(
                "$.instance: is required (fix: send the instance as its instance plugin describes it)",
            ));
        };
        if let Some(group) = inst.tags.get(tags::GROUP) {
            self.maybe_sweep(group);
        }
        let Some(link) = inst.tags.get(link::LINK) else {
            return Ok(response(Verdict {
                health: Health::Unhealthy,
                reason: format!(
                    "has no {} tag: it was not prepared by the swarm flavor",
                    link::LINK
                ),
                recheck_after: health::UNHEALTHY_RECHECK,
            }));
        };
        let found = nodes::with_engine_label(&self.docker, link::LINK, link).await?;
        let now = Instant::now().into_std();
        let waited = self.memory().asked(link, !found.is_empty(), now);
        let verdict = health::judge(props.role, &found, waited, props.join_timeout);
        self.label_nodes(&inst, &found).await;
        Ok(response(verdict))
    }

    async fn drain(&self, req: Request<DrainRequest>) -> Result<Response<DrainResponse>, Status> {
        let req = req.into_inner();
        let props = properties(&req.properties, &req.r#type)?;
        let Some(inst) = req.instance else {
            return Err(Status::invalid_argument(
                "$.instance: is required (fix: send the instance to drain)",
            ));
        };
        let found = self.nodes_of(&inst).await?;
        if found.is_empty() {
            tracing::info!(instance = %inst.id, "nothing to drain: the instance has no swarm node");
            return Ok(Response::new(DrainResponse {}));
        }
        let self_node = nodes::join_info(&self.docker, &self.host).await?.self_node;
        if let Some(n) = found.iter().find(|n| n.id == self_node) {
            return Err(Status::failed_precondition(format!(
                "instance {} is node {}, the manager this plugin talks to (fix: point --docker-host at \
                 another manager before draining this one)",
                inst.id,
                n.name()
            )));
        }
        for n in &found {
            drain::drain_and_remove(&self.docker, n, props.drain_timeout).await?;
        }
        Ok(Response::new(DrainResponse {}))
    }
}
