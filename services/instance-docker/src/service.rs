//! The `infrakit.instance.v1.Instance` service over a Docker engine.

use crate::KIND;
use crate::container;
use crate::engine::status;
use crate::labels::{self, RESERVED_PREFIX};
use crate::ops::{Inner, NewContainer};
use crate::overlay::Overlay;
use crate::properties::{self, DockerProperties};
use bollard::Docker;
use bollard::models::ContainerCreateBody;
use infrakit_model::json_path::key;
use infrakit_model::{Violations, tags};
use infrakit_runtime::fence::Fences;
use infrakit_runtime::{Shutdown, status as st};
use infrakit_spi::instance::v1::instance_server::Instance;
use infrakit_spi::instance::v1::*;
use std::collections::HashSet;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The Docker instance plugin. Cloning is cheap (a shared handle).
#[derive(Clone, Debug)]
pub struct DockerInstance {
    inner: Arc<Inner>,
    /// Refuses Provision, Label and Destroy from a deposed group owner.
    fences: Fences,
}

// === impl DockerInstance ===

impl DockerInstance {
    /// A plugin named `name` (the ownership label's value) on `docker`, keeping label changes in
    /// `overlay` and refusing stale calls with `fences`. Starts following the engine's events;
    /// everything ends when `shutdown` starts.
    pub async fn start(
        docker: Docker,
        name: String,
        overlay: Overlay,
        fences: Fences,
        shutdown: Shutdown,
    ) -> Self {
        let inner = Arc::new(Inner::new(docker, name, overlay, shutdown));
        inner.forget_removed().await;
        tokio::spawn(crate::events::pump(inner.clone()));
        Self { inner, fences }
    }
}

/// Checks a Provision request, collecting every violation; returns the Properties and the body.
fn checked(
    plugin: &str,
    spec: &InstanceSpec,
) -> Result<(DockerProperties, ContainerCreateBody), Violations> {
    let mut bad = Violations::new();
    let props =
        st::collect_properties(&spec.properties, "$.spec.properties", &mut bad).and_then(|v| {
            properties::parse(&v, "$.spec.properties")
                .map_err(|v| bad.0.extend(v.0))
                .ok()
        });
    for k in spec.tags.keys() {
        if k.is_empty() {
            bad.push(
                "$.spec.tags",
                "has an empty tag name",
                "give every tag a name",
            );
        } else if k.starts_with(RESERVED_PREFIX) {
            bad.push(
                key("$.spec.tags", k),
                format!(
                    "uses the prefix {RESERVED_PREFIX:?}, reserved for the plugin's own labels"
                ),
                "rename the tag",
            );
        }
    }
    st::check_logical_id(spec.logical_id.as_deref(), &mut bad);
    let body = props.as_ref().and_then(|p| {
        container::body(
            p,
            &container::Request {
                plugin,
                tags: &spec.tags,
                init: &spec.init,
                logical_id: spec.logical_id.as_deref(),
            },
        )
        .map_err(|v| bad.0.extend(v.0))
        .ok()
    });
    match (props, body) {
        (Some(p), Some(b)) if bad.is_empty() => Ok((p, b)),
        _ => Err(bad),
    }
}

#[tonic::async_trait]
impl Instance for DockerInstance {
    async fn validate(
        &self,
        req: Request<ValidateRequest>,
    ) -> Result<Response<ValidateResponse>, Status> {
        let req = req.into_inner();
        st::no_subtype(KIND, &req.r#type)?;
        let v = st::parse_properties(&req.properties, "$.properties")?;
        let props = properties::parse(&v, "$.properties").map_err(|v| st::invalid(&v))?;
        let mut bad = Violations::new();
        bad.0.extend(
            self.inner
                .check_image(&props.image, "$.properties.Image")
                .await?,
        );
        if let Some(n) = &props.network {
            bad.0
                .extend(self.inner.check_network(n, "$.properties.Network").await?);
        }
        bad.into_result(()).map_err(|v| st::invalid(&v))?;
        Ok(Response::new(ValidateResponse {}))
    }

    async fn provision(
        &self,
        req: Request<ProvisionRequest>,
    ) -> Result<Response<ProvisionResponse>, Status> {
        let req = req.into_inner();
        self.fences.check(req.fence.as_ref()).await?;
        st::no_subtype(KIND, &req.r#type)?;
        let spec = st::require_spec(req.spec)?;
        let (props, body) = checked(&self.inner.name, &spec).map_err(|v| st::invalid(&v))?;
        let new = NewContainer {
            name: labels::container_name(
                &self.inner.name,
                &spec.tags,
                &infrakit_runtime::socket::random_hex(6),
            ),
            token: spec.tags.get(tags::PROVISION_TOKEN).cloned(),
            image: props.image,
            init: !spec.init.trim().is_empty(),
            body,
        };
        // Engine calls run to completion even if the caller goes away, so a container is never
        // left created but not started.
        let id = st::task("provision", self.inner.clone().create(new)).await??;
        Ok(Response::new(ProvisionResponse { id }))
    }

    async fn label(&self, req: Request<LabelRequest>) -> Result<Response<LabelResponse>, Status> {
        let req = req.into_inner();
        self.fences.check(req.fence.as_ref()).await?;
        st::no_subtype(KIND, &req.r#type)?;
        let mut bad = Violations::new();
        for k in req.labels.keys() {
            if k.is_empty() {
                bad.push(
                    "$.labels",
                    "has an empty tag name",
                    "give every label a name",
                );
            } else if k.starts_with(RESERVED_PREFIX) {
                bad.push(
                    key("$.labels", k),
                    format!(
                        "uses the prefix {RESERVED_PREFIX:?}, reserved for the plugin's own labels"
                    ),
                    "rename the label",
                );
            }
        }
        bad.into_result(()).map_err(|v| st::invalid(&v))?;
        let seen = self.inner.ours(&req.id).await?;
        let created = labels::tags_of(&seen.labels);
        let changes = req
            .labels
            .into_iter()
            .map(|(k, v)| {
                let keep = created.get(&k) != Some(&v);
                (k, keep.then_some(v))
            })
            .collect();
        self.inner
            .overlay
            .update(&seen.id, changes)
            .await
            .map_err(|e| st::internal("cannot save the label overlay", &e))?;
        let overlay = self.inner.overlay.get(&seen.id).await;
        self.inner.emit(
            InstanceEventKind::TagsChanged,
            Some(seen.describe(overlay.as_ref(), false)),
        );
        tracing::info!(id = %seen.name, "labelled");
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
        let seen = self.inner.ours(&req.id).await?;
        let inner = self.inner.clone();
        st::task("destroy", async move { inner.destroy(seen).await }).await??;
        tracing::info!(id = %req.id, reason, "destroyed");
        Ok(Response::new(DestroyResponse {}))
    }

    async fn describe_instances(
        &self,
        req: Request<DescribeInstancesRequest>,
    ) -> Result<Response<DescribeInstancesResponse>, Status> {
        let req = req.into_inner();
        st::no_subtype(KIND, &req.r#type)?;
        let overlay = self.inner.overlay.snapshot().await;
        let overlaid: HashSet<&String> = overlay.values().flat_map(|m| m.keys()).collect();
        // Filter on the engine by every tag whose value no label change may have altered.
        let engine_side: Vec<(String, String)> = req
            .tags
            .iter()
            .filter(|(k, _)| !overlaid.contains(k) && !k.contains('='))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let list = self
            .inner
            .list(&engine_side)
            .await
            .map_err(|e| status("cannot list containers", &e))?;
        let instances = list
            .iter()
            .map(|s| s.describe(overlay.get(&s.id), req.properties))
            .filter(|d| labels::matches(&d.tags, &req.tags))
            .collect();
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
            self.inner.events(),
            self.inner.shutdown.clone(),
        )
    }
}
