//! The `infrakit.instance.v1.Instance` gRPC service.

use crate::KIND;
use crate::ops::{Config, Inner, ProvisionError};
use crate::store::{Store, StoreError};
use crate::{monitor, naming, plan, properties};
use infrakit_model::Violation;
use infrakit_runtime::fence::Fences;
use infrakit_runtime::{Shutdown, status as st};
use infrakit_spi::instance::v1::instance_server::Instance;
use infrakit_spi::instance::v1::*;
use std::sync::Arc;
use std::time::Duration;
use tonic::{Request, Response, Status};

/// How long a Destroy call waits for `vagrant destroy -f` before answering DEADLINE_EXCEEDED
/// (the destroy goes on; the group controller gives a Destroy 60 s).
pub const DESTROY_WAIT: Duration = Duration::from_secs(50);

/// The Vagrant instance plugin. Cloning is cheap (a shared handle).
#[derive(Clone, Debug)]
pub struct VagrantInstance {
    inner: Arc<Inner>,
    /// Refuses Provision, Label and Destroy from a deposed group owner.
    fences: Fences,
}

// === impl VagrantInstance ===

impl VagrantInstance {
    /// The plugin over `store`, refusing stale calls with `fences`: resumes unfinished work and
    /// starts observing the machines until `shutdown`.
    pub fn start(store: Arc<Store>, cfg: Config, fences: Fences, shutdown: Shutdown) -> Self {
        let inner = Arc::new(Inner::new(store, cfg, shutdown));
        inner.resume();
        tokio::spawn(monitor::run(inner.clone()));
        Self { inner, fences }
    }
}

fn provision_status(e: ProvisionError) -> Status {
    match e {
        ProvisionError::Invalid(v) => st::invalid(&v),
        ProvisionError::Unavailable(m) => Status::unavailable(m),
        ProvisionError::Io(e) => st::internal("cannot write the instance's directory", &e),
    }
}

#[tonic::async_trait]
impl Instance for VagrantInstance {
    async fn validate(
        &self,
        req: Request<ValidateRequest>,
    ) -> Result<Response<ValidateResponse>, Status> {
        let req = req.into_inner();
        st::no_subtype(KIND, &req.r#type)?;
        let at = "$.properties";
        let v = st::parse_properties(&req.properties, at)?;
        let props = properties::parse(&v, at).map_err(|v| st::invalid(&v))?;
        self.inner
            .external_checks(&props, at)
            .await
            .map_err(provision_status)?;
        Ok(Response::new(ValidateResponse {}))
    }

    async fn provision(
        &self,
        req: Request<ProvisionRequest>,
    ) -> Result<Response<ProvisionResponse>, Status> {
        let req = req.into_inner();
        self.fences.check(req.fence.as_ref()).await?;
        st::no_subtype(KIND, &req.r#type)?;
        let plan = plan::check(req.spec.as_ref()).map_err(|v| st::invalid(&v))?;
        // Runs to completion even if the caller goes away, so that a repeat with the same token
        // finds the instance listed rather than half written.
        let inner = self.inner.clone();
        let id = st::task("provision", async move { inner.provision(plan).await })
            .await?
            .map_err(provision_status)?;
        Ok(Response::new(ProvisionResponse { id }))
    }

    async fn label(&self, req: Request<LabelRequest>) -> Result<Response<LabelResponse>, Status> {
        let req = req.into_inner();
        self.fences.check(req.fence.as_ref()).await?;
        st::no_subtype(KIND, &req.r#type)?;
        if req.labels.keys().any(String::is_empty) {
            return Err(st::invalid(
                &Violation::new(
                    "$.labels",
                    "has an empty tag name",
                    "give every label a name",
                )
                .into(),
            ));
        }
        let labels = req.labels.into_iter().collect();
        self.inner
            .store
            .label(&req.id, &labels)
            .map_err(|e| match e {
                StoreError::NotFound(id) => st::no_instance(&id),
                StoreError::Io(e) => st::internal("cannot write the tags", &e),
            })?;
        Ok(Response::new(LabelResponse {}))
    }

    async fn destroy(
        &self,
        req: Request<DestroyRequest>,
    ) -> Result<Response<DestroyResponse>, Status> {
        let req = req.into_inner();
        self.fences.check(req.fence.as_ref()).await?;
        st::no_subtype(KIND, &req.r#type)?;
        let reason = req.reason().as_str_name();
        if !naming::is_instance_id(&req.id) {
            return Err(st::no_instance(&req.id));
        }
        let mut rx = self
            .inner
            .start_destroy(&req.id)
            .ok_or_else(|| st::no_instance(&req.id))?;
        tracing::info!(id = %req.id, reason, "destroying");
        let result = tokio::time::timeout(DESTROY_WAIT, rx.wait_for(Option::is_some)).await;
        match result {
            Ok(Ok(r)) => match r.as_ref() {
                Some(Ok(())) | None => Ok(Response::new(DestroyResponse {})),
                Some(Err(e)) => Err(Status::unavailable(format!(
                    "destroying {} failed (retry Destroy): {e}",
                    req.id
                ))),
            },
            Ok(Err(_)) => Err(Status::internal("the destroy task ended without a result")),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "{} is still being destroyed (DescribeInstances shows it TERMINATING); \
                 call Destroy again to wait for it",
                req.id
            ))),
        }
    }

    async fn describe_instances(
        &self,
        req: Request<DescribeInstancesRequest>,
    ) -> Result<Response<DescribeInstancesResponse>, Status> {
        let req = req.into_inner();
        st::no_subtype(KIND, &req.r#type)?;
        let instances = self.inner.store.describe(&req.tags, req.properties);
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
            self.inner.store.events(),
            self.inner.shutdown.clone(),
        )
    }
}
