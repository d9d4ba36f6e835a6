//! The `infrakit.instance.v1.Instance` service over a [`Store`].

use crate::KIND;
use crate::properties::{self, ProcessProperties};
use crate::record::RunSpec;
use crate::store::{NewInstance, Store, StoreError};
use infrakit_model::json_path::key;
use infrakit_model::{Violation, Violations};
use infrakit_runtime::fence::Fences;
use infrakit_runtime::{Shutdown, status};
use infrakit_spi::instance::v1::instance_server::Instance;
use infrakit_spi::instance::v1::*;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The process instance plugin.
#[derive(Clone, Debug)]
pub struct ProcessInstance {
    store: Arc<Store>,
    /// Refuses Provision, Label and Destroy from a deposed group owner.
    fences: Fences,
    shutdown: Shutdown,
}

// === impl ProcessInstance ===

impl ProcessInstance {
    /// A plugin over `store`, refusing stale calls with `fences`; watch streams end when
    /// `shutdown` starts.
    pub fn new(store: Arc<Store>, fences: Fences, shutdown: Shutdown) -> Self {
        Self {
            store,
            fences,
            shutdown,
        }
    }
}

fn store_status(e: &StoreError) -> Status {
    match e {
        StoreError::NotFound(id) => status::no_instance(id),
        other => {
            let chain = infrakit_runtime::dial::error_chain(other);
            tracing::error!(error = %chain, "instance operation failed");
            Status::internal(chain)
        }
    }
}

/// Checks tags (or labels) at `at`: they become environment variables, so names must not be
/// empty and nothing may hold a NUL character.
fn check_tags(tags: &std::collections::HashMap<String, String>, at: &str, bad: &mut Violations) {
    for (k, v) in tags {
        if k.is_empty() {
            bad.push(at, "has an empty tag name", "give every tag a name");
        } else if k.contains('\0') || v.contains('\0') {
            bad.push(key(at, k), "contains a NUL character", "remove it");
        }
    }
}

/// Checks a Provision request, collecting every violation, and resolves what to run.
pub fn checked(spec: InstanceSpec) -> Result<NewInstance, Violations> {
    let at = "$.spec.properties";
    let mut bad = Violations::new();
    let props = status::collect_properties(&spec.properties, at, &mut bad).and_then(|v| {
        properties::parse(&v, at)
            .map_err(|v| bad.0.extend(v.0))
            .ok()
    });
    check_tags(&spec.tags, "$.spec.tags", &mut bad);
    status::check_logical_id(spec.logical_id.as_deref(), &mut bad);
    if spec.logical_id.as_deref().is_some_and(|l| l.contains('\0')) {
        bad.push("$.spec.logical_id", "contains a NUL character", "remove it");
    }
    let init = (!spec.init.trim().is_empty()).then_some(spec.init);
    let Some(ProcessProperties {
        command,
        env,
        stop_grace,
        restart,
    }) = props
    else {
        return Err(bad);
    };
    if command.is_none() && init.is_none() {
        bad.0.push(properties::nothing_to_run(at));
    }
    bad.into_result(())?;
    Ok(NewInstance {
        tags: spec.tags.into_iter().collect(),
        logical_id: spec.logical_id,
        script: if command.is_none() { init } else { None },
        run: RunSpec {
            command,
            env,
            stop_grace_ms: u64::try_from(stop_grace.as_millis()).unwrap_or(u64::MAX),
            restart,
        },
    })
}

#[tonic::async_trait]
impl Instance for ProcessInstance {
    async fn validate(
        &self,
        req: Request<ValidateRequest>,
    ) -> Result<Response<ValidateResponse>, Status> {
        let req = req.into_inner();
        status::no_subtype(KIND, &req.r#type)?;
        let v = status::parse_properties(&req.properties, "$.properties")?;
        // Without Command, the spec's Init runs; it comes from the flavor at Provision.
        properties::parse(&v, "$.properties").map_err(|v| status::invalid(&v))?;
        Ok(Response::new(ValidateResponse {}))
    }

    async fn provision(
        &self,
        req: Request<ProvisionRequest>,
    ) -> Result<Response<ProvisionResponse>, Status> {
        let req = req.into_inner();
        self.fences.check(req.fence.as_ref()).await?;
        status::no_subtype(KIND, &req.r#type)?;
        let spec = status::require_spec(req.spec)?;
        let new = checked(spec).map_err(|v| status::invalid(&v))?;
        // Runs to completion even if the caller goes away, so no process is left unrecorded.
        let id = status::task("provision", self.store.clone().provision(new))
            .await?
            .map_err(|e| store_status(&e))?;
        Ok(Response::new(ProvisionResponse { id }))
    }

    async fn label(&self, req: Request<LabelRequest>) -> Result<Response<LabelResponse>, Status> {
        let req = req.into_inner();
        self.fences.check(req.fence.as_ref()).await?;
        status::no_subtype(KIND, &req.r#type)?;
        let mut bad = Violations::new();
        if req.id.is_empty() {
            bad.push("$.id", "is empty", "give an instance ID");
        }
        check_tags(&req.labels, "$.labels", &mut bad);
        bad.into_result(()).map_err(|v| status::invalid(&v))?;
        let store = self.store.clone();
        let labels = req.labels.into_iter().collect();
        let id = req.id.clone();
        status::blocking_task("label", move || store.label(&id, labels))
            .await?
            .map_err(|e| store_status(&e))?;
        tracing::info!(id = %req.id, "labelled");
        Ok(Response::new(LabelResponse {}))
    }

    async fn destroy(
        &self,
        req: Request<DestroyRequest>,
    ) -> Result<Response<DestroyResponse>, Status> {
        let req = req.into_inner();
        self.fences.check(req.fence.as_ref()).await?;
        status::no_subtype(KIND, &req.r#type)?;
        if req.id.is_empty() {
            return Err(status::invalid(
                &Violation::new("$.id", "is empty", "give an instance ID").into(),
            ));
        }
        let reason = req.reason().as_str_name();
        let id = req.id.clone();
        // Runs to completion even if the caller goes away, so no process is left half-stopped.
        let store = self.store.clone();
        status::task("destroy", async move { store.destroy(&id).await })
            .await?
            .map_err(|e| store_status(&e))?;
        tracing::info!(id = %req.id, reason, "destroyed");
        Ok(Response::new(DestroyResponse {}))
    }

    async fn describe_instances(
        &self,
        req: Request<DescribeInstancesRequest>,
    ) -> Result<Response<DescribeInstancesResponse>, Status> {
        let req = req.into_inner();
        status::no_subtype(KIND, &req.r#type)?;
        let instances = self.store.describe(&req.tags, req.properties);
        Ok(infrakit_runtime::watch::unnumbered_listing(instances))
    }

    type WatchInstancesStream = infrakit_runtime::watch::InstanceEventStream;

    async fn watch_instances(
        &self,
        req: Request<WatchInstancesRequest>,
    ) -> Result<Response<Self::WatchInstancesStream>, Status> {
        infrakit_runtime::watch::respond(
            KIND,
            req.into_inner(),
            self.store.events(),
            self.shutdown.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(props: &str, init: &str) -> InstanceSpec {
        InstanceSpec {
            properties: props.as_bytes().to_vec(),
            init: init.into(),
            ..Default::default()
        }
    }

    #[test]
    fn command_wins_over_init_and_one_of_them_is_needed() {
        let n = checked(spec(r#"{"Command": "sleep 1"}"#, "echo hi")).unwrap();
        assert_eq!(n.run.command.as_deref(), Some("sleep 1"));
        assert_eq!(n.script, None);
        let n = checked(spec("", "echo hi")).unwrap();
        assert_eq!(n.run.command, None);
        assert_eq!(n.script.as_deref(), Some("echo hi"));
        let v = checked(spec("{}", "  \n")).unwrap_err();
        assert_eq!(v.0[0].path, "$.spec.properties.Command");
    }

    #[test]
    fn json_errors_name_the_properties() {
        let v = checked(spec("{", "echo")).unwrap_err();
        assert_eq!(v.0[0].path, "$.spec.properties");
    }
}
