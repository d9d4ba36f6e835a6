//! The `infrakit.instance.v1.Instance` service. Every call only reads or writes the working
//! directory and returns at once; Terraform runs in the background ([`crate::engine`]).

use crate::KIND;
use crate::engine::Engine;
use crate::names;
use crate::properties::{self, TfProperties};
use crate::record::{Phase, Record};
use crate::render::{self, Rendered};
use crate::store::{Store, StoreError};
use infrakit_model::{Violations, tags};
use infrakit_runtime::fence::Fences;
use infrakit_runtime::{Shutdown, status as st};
use infrakit_spi::instance::v1::instance_server::Instance;
use infrakit_spi::instance::v1::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// An ID used to render Properties in Validate.
const SAMPLE_ID: &str = "instance-0000000000000000";

/// The Terraform instance plugin. Cloning is cheap (shared handles).
#[derive(Clone, Debug)]
pub struct TerraformInstance {
    store: Arc<Store>,
    engine: Arc<Engine>,
    /// Refuses Provision, Label and Destroy from a deposed group owner.
    fences: Fences,
    shutdown: Shutdown,
}

// === impl TerraformInstance ===

impl TerraformInstance {
    /// The service over `store`, waking `engine` on every change and refusing stale calls with
    /// `fences`; watch streams end when `shutdown` starts.
    pub fn new(store: Arc<Store>, engine: Arc<Engine>, fences: Fences, shutdown: Shutdown) -> Self {
        Self {
            store,
            engine,
            fences,
            shutdown,
        }
    }
}

fn store_status(e: StoreError) -> Status {
    match e {
        StoreError::NotFound(id) => st::no_instance(&id),
        e @ StoreError::Unrenderable(_) => Status::failed_precondition(e.to_string()),
        other => st::internal("the working directory could not be updated", &other),
    }
}

fn tag_violations(
    tags: &std::collections::HashMap<String, String>,
    at: &str,
    bad: &mut Violations,
) {
    if tags.keys().any(String::is_empty) {
        bad.push(at, "has an empty tag name", "give every tag a name");
    }
}

/// Checks a Provision request and renders it as instance `id`, collecting every violation.
fn checked(spec: &InstanceSpec, id: &str) -> Result<(serde_json::Value, Rendered), Violations> {
    const AT: &str = "$.spec.properties";
    let mut bad = Violations::new();
    let value = st::collect_properties(&spec.properties, AT, &mut bad);
    let props: Option<TfProperties> = value
        .as_ref()
        .and_then(|v| properties::parse(v, AT).map_err(|v| bad.0.extend(v.0)).ok());
    tag_violations(&spec.tags, "$.spec.tags", &mut bad);
    st::check_logical_id(spec.logical_id.as_deref(), &mut bad);
    let tags: BTreeMap<String, String> = spec
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let rendered = props.as_ref().and_then(|p| {
        render::render(
            p,
            &render::Instance {
                id,
                logical_id: spec.logical_id.as_deref(),
                tags: &tags,
                init: &spec.init,
            },
            AT,
        )
        .map_err(|v| bad.0.extend(v.0))
        .ok()
    });
    match (value, rendered) {
        (Some(v), Some(r)) if bad.is_empty() => Ok((v, r)),
        _ => Err(bad),
    }
}

#[tonic::async_trait]
impl Instance for TerraformInstance {
    async fn validate(
        &self,
        req: Request<ValidateRequest>,
    ) -> Result<Response<ValidateResponse>, Status> {
        let req = req.into_inner();
        st::no_subtype(KIND, &req.r#type)?;
        let v = st::parse_properties(&req.properties, "$.properties")?;
        let props = properties::parse(&v, "$.properties").map_err(|v| st::invalid(&v))?;
        let tags = BTreeMap::from([(tags::GROUP.to_string(), "validate".to_string())]);
        render::render(
            &props,
            &render::Instance {
                id: SAMPLE_ID,
                logical_id: None,
                tags: &tags,
                init: "",
            },
            "$.properties",
        )
        .map_err(|v| st::invalid(&v))?;
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
        if let Some(token) = spec.tags.get(tags::PROVISION_TOKEN)
            && let Some(id) = self.store.find_by_token(token)
        {
            return Ok(Response::new(ProvisionResponse { id }));
        }
        let mut attempt = 0;
        let id = loop {
            attempt += 1;
            let id = names::new_id();
            let (properties, rendered) = checked(&spec, &id).map_err(|v| st::invalid(&v))?;
            let record = Record {
                id: id.clone(),
                logical_id: spec.logical_id.clone(),
                tags: spec
                    .tags
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                init: spec.init.clone(),
                properties,
                phase: Phase::Pending,
                created_ms: crate::disk::now_ms(),
                broken: None,
                gave_up: None,
                attempts: 0,
            };
            let store = self.store.clone();
            // File I/O off the async threads; it completes even if the caller goes away.
            match st::blocking_task("provision", move || store.provision(record, rendered)).await? {
                // The new instance's ID, or that of the instance made earlier with the token.
                Ok(id) => break id,
                Err(StoreError::Exists(_)) if attempt < 3 => continue,
                Err(e) => return Err(store_status(e)),
            }
        };
        self.engine.changed();
        tracing::info!(%id, "provisioned (pending until terraform applies it)");
        Ok(Response::new(ProvisionResponse { id }))
    }

    async fn label(&self, req: Request<LabelRequest>) -> Result<Response<LabelResponse>, Status> {
        let req = req.into_inner();
        self.fences.check(req.fence.as_ref()).await?;
        st::no_subtype(KIND, &req.r#type)?;
        let mut bad = Violations::new();
        tag_violations(&req.labels, "$.labels", &mut bad);
        bad.into_result(()).map_err(|v| st::invalid(&v))?;
        let store = self.store.clone();
        let labels = req.labels.into_iter().collect();
        let id = req.id;
        st::blocking_task("label", move || store.label(&id, &labels))
            .await?
            .map_err(store_status)?;
        self.engine.changed();
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
        let store = self.store.clone();
        let id = req.id.clone();
        st::blocking_task("destroy", move || store.destroy(&id))
            .await?
            .map_err(store_status)?;
        self.engine.changed();
        tracing::info!(id = %req.id, reason, "destroy requested (terminating until terraform applies it)");
        Ok(Response::new(DestroyResponse {}))
    }

    async fn describe_instances(
        &self,
        req: Request<DescribeInstancesRequest>,
    ) -> Result<Response<DescribeInstancesResponse>, Status> {
        let req = req.into_inner();
        st::no_subtype(KIND, &req.r#type)?;
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
