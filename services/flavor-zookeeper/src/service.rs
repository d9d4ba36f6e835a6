//! The `infrakit.flavor.v1.Flavor` service of the zookeeper flavor.

use crate::KIND;
use crate::drain::{self, Outcome, Refusal};
use crate::ensemble::{Ensemble, bracketed};
use crate::health::{self, Tracker};
use crate::properties::{ZkProperties, parse};
use crate::script::init_script;
use infrakit_model::{Violations, tags};
use infrakit_runtime::status;
use infrakit_spi::flavor::v1::flavor_server::Flavor;
use infrakit_spi::flavor::v1::*;
use infrakit_spi::instance::v1::{InstanceDescription, InstanceState};
use std::sync::Arc;
use std::time::Instant;
use tonic::{Request, Response, Status};

/// The tag Prepare adds: the member's ZooKeeper server ID.
pub const MYID_TAG: &str = "zookeeper.myid";
/// The tag Prepare adds: the member's client port. Healthy asks a member on the port it was
/// prepared with, so that members of an older configuration are judged correctly while a change
/// of `ClientPort` is rolled out.
pub const CLIENT_PORT_TAG: &str = "zookeeper.client-port";

/// The zookeeper flavor. Clones share what they remember about instances.
#[derive(Clone, Debug, Default)]
pub struct Zookeeper {
    tracker: Arc<Tracker>,
}

fn properties(bytes: &[u8], t: &str) -> Result<ZkProperties, Status> {
    status::no_subtype(KIND, t)?;
    let v = status::parse_properties(bytes, "$.properties")?;
    parse(&v, "$.properties").map_err(|v| status::invalid(&v))
}

/// Properties and ensemble together, every violation of both reported at once.
fn checked(
    bytes: &[u8],
    t: &str,
    allocation: Option<&Allocation>,
) -> Result<(ZkProperties, Ensemble), Status> {
    status::no_subtype(KIND, t)?;
    let v = status::parse_properties(bytes, "$.properties")?;
    let props = parse(&v, "$.properties");
    let allow_even = match &props {
        Ok(p) => p.allow_even_size,
        Err(_) => v.get("AllowEvenSize") == Some(&serde_json::Value::Bool(true)),
    };
    let ensemble = match allocation {
        Some(a) => Ensemble::from_allocation(a.size, &a.logical_ids, allow_even, "$.allocation"),
        None => {
            let mut bad = Violations::new();
            bad.push(
                "$.allocation",
                "is missing",
                "send the group's allocation: \"LogicalIDs\" with the members' addresses",
            );
            Err(bad)
        }
    };
    match (props, ensemble) {
        (Ok(p), Ok(e)) => Ok((p, e)),
        (p, e) => {
            let mut bad = Violations::new();
            bad.0.extend(p.err().into_iter().flat_map(|v| v.0));
            bad.0.extend(e.err().into_iter().flat_map(|v| v.0));
            Err(status::invalid(&bad))
        }
    }
}

/// The logical ID of a described instance (its own, else its `infrakit.logical_id` tag).
fn logical_id(i: &InstanceDescription) -> Option<&str> {
    i.logical_id
        .as_deref()
        .or_else(|| i.tags.get(tags::LOGICAL_ID).map(String::as_str))
        .filter(|l| !l.is_empty())
}

#[tonic::async_trait]
impl Flavor for Zookeeper {
    async fn validate(
        &self,
        req: Request<ValidateRequest>,
    ) -> Result<Response<ValidateResponse>, Status> {
        let req = req.into_inner();
        let (_, ensemble) = checked(&req.properties, &req.r#type, req.allocation.as_ref())?;
        tracing::debug!(members = ensemble.len(), "validated a zookeeper ensemble");
        Ok(Response::new(ValidateResponse {}))
    }

    async fn prepare(
        &self,
        req: Request<PrepareRequest>,
    ) -> Result<Response<PrepareResponse>, Status> {
        let req = req.into_inner();
        let (props, ensemble) = checked(&req.properties, &req.r#type, req.allocation.as_ref())?;
        let mut spec = req.spec.unwrap_or_default();
        let lid = spec
            .logical_id
            .clone()
            .or_else(|| spec.tags.get(tags::LOGICAL_ID).cloned())
            .filter(|l| !l.is_empty());
        let Some(lid) = lid else {
            let mut bad = Violations::new();
            bad.push(
                "$.spec.logical_id",
                "is missing: every ZooKeeper member is a pet with its address as logical ID",
                "prepare each member with one of the allocation's logical IDs",
            );
            return Err(status::invalid(&bad));
        };
        let Some(myid) = ensemble.myid(&lid) else {
            let mut bad = Violations::new();
            bad.push(
                "$.spec.logical_id",
                format!("{lid:?} is not one of the allocation's logical IDs"),
                "prepare a member listed in $.allocation.logical_ids",
            );
            return Err(status::invalid(&bad));
        };
        let script = init_script(&props, &ensemble, myid, &lid);
        spec.init = if spec.init.trim().is_empty() {
            script
        } else {
            format!("{}\n{script}", spec.init.trim_end())
        };
        spec.tags.insert(MYID_TAG.to_string(), myid.to_string());
        spec.tags
            .insert(CLIENT_PORT_TAG.to_string(), props.ports.client.to_string());
        Ok(Response::new(PrepareResponse { spec: Some(spec) }))
    }

    async fn healthy(
        &self,
        req: Request<HealthyRequest>,
    ) -> Result<Response<HealthyResponse>, Status> {
        let req = req.into_inner();
        let props = properties(&req.properties, &req.r#type)?;
        let Some(instance) = req.instance else {
            let mut bad = Violations::new();
            bad.push("$.instance", "is missing", "send the instance to judge");
            return Err(status::invalid(&bad));
        };
        let seen = self.tracker.seen(&instance.id, Instant::now());
        let verdict = match logical_id(&instance) {
            None => health::Verdict {
                health: Health::Unhealthy,
                reason: "has no logical ID, so it cannot be a member of the ensemble".into(),
                recheck_after: health::HEALTHY_RECHECK,
            },
            Some(_) if instance.state == InstanceState::Pending as i32 => health::Verdict {
                health: Health::Unknown,
                reason: "the instance is still being created".into(),
                recheck_after: health::NOT_HEALTHY_RECHECK,
            },
            Some(lid) => {
                let port = instance
                    .tags
                    .get(CLIENT_PORT_TAG)
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(props.ports.client);
                let addr = format!("{}:{port}", bracketed(lid));
                let finding = health::examine(lid, port).await;
                health::judge(&addr, &finding, seen, props.start_grace)
            }
        };
        if verdict.health == Health::Healthy {
            self.tracker.healthy(&instance.id);
        }
        let recheck = verdict.recheck_after;
        Ok(Response::new(HealthyResponse {
            health: verdict.health as i32,
            reason: verdict.reason,
            recheck_after: Some(prost_types::Duration {
                seconds: i64::try_from(recheck.as_secs()).unwrap_or(i64::MAX),
                nanos: i32::try_from(recheck.subsec_nanos()).unwrap_or(0),
            }),
        }))
    }

    async fn drain(&self, req: Request<DrainRequest>) -> Result<Response<DrainResponse>, Status> {
        let req = req.into_inner();
        let props = properties(&req.properties, &req.r#type)?;
        let instance = req.instance.unwrap_or_default();
        let Some(lid) = logical_id(&instance) else {
            tracing::info!(id = %instance.id, "drain: no logical ID, not a member; nothing to do");
            return Ok(Response::new(DrainResponse {}));
        };
        let check =
            tokio::time::timeout(drain::DRAIN_TIMEOUT, drain::check(lid, props.ports.client))
                .await
                .unwrap_or_else(|_| {
                    Err(Refusal::NoMembership(format!(
                        "the quorum check took longer than {:?}",
                        drain::DRAIN_TIMEOUT
                    )))
                });
        match check {
            Ok(Outcome::NotServing(why)) => {
                tracing::info!(id = %instance.id, member = lid, %why, "drain: the member does not serve; it may go");
            }
            Ok(Outcome::QuorumKept { serving, quorum }) => {
                tracing::info!(id = %instance.id, member = lid, serving, quorum, "drain: the others keep the quorum; it may go");
            }
            Ok(Outcome::TooSmall(n)) => {
                tracing::warn!(id = %instance.id, member = lid, members = n, "drain: an ensemble this small loses its quorum with any member; letting it go");
            }
            Err(Refusal::WouldLoseQuorum(why)) => return Err(Status::failed_precondition(why)),
            Err(Refusal::NoMembership(why)) => {
                return Err(Status::unavailable(format!(
                    "cannot tell whether {lid} may leave: {why}"
                )));
            }
        }
        Ok(Response::new(DrainResponse {}))
    }
}
