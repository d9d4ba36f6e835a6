//! The `infrakit.instance.v1.Instance` service over a [`Store`].

use crate::KIND;
use crate::record::{StoredAttachment, StoredSpec};
use crate::store::{Store, StoreError};
use infrakit_model::Violations;
use infrakit_runtime::fence::Fences;
use infrakit_runtime::{Shutdown, status};
use infrakit_spi::instance::v1::instance_server::Instance;
use infrakit_spi::instance::v1::*;
use std::collections::HashMap;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The file instance plugin.
#[derive(Clone, Debug)]
pub struct FileInstance {
    store: Arc<Store>,
    /// Refuses Provision, Label and Destroy from a deposed group owner.
    fences: Fences,
    shutdown: Shutdown,
}

// === impl FileInstance ===

impl FileInstance {
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

/// An answer to DescribeInstances, before it is encoded.
#[derive(Debug)]
pub enum Listing {
    /// The instances carrying `tags`, without Properties: encoded straight from the index as
    /// the answer is sent ([`Store::encode_listing`]), one instance at a time, so that a
    /// listing of 100,000 instances costs its encoded bytes, not 100,000 descriptions first.
    Index {
        /// The store.
        store: Arc<Store>,
        /// The tags every listed instance carries.
        tags: HashMap<String, String>,
    },
    /// A complete answer (with Properties, read from the files).
    Built(DescribeInstancesResponse),
}

// === impl Listing ===

impl Listing {
    /// The answer as a message.
    pub fn into_response(self) -> DescribeInstancesResponse {
        match self {
            Listing::Index { store, tags } => {
                let (revision, instances) = store.describe_at(&tags);
                DescribeInstancesResponse {
                    instances,
                    revision,
                    unchanged: false,
                }
            }
            Listing::Built(r) => r,
        }
    }
}

impl FileInstance {
    /// Answers DescribeInstances: over the socket, through [`crate::listing::Server`], which
    /// encodes a listing without Properties from the index.
    pub async fn listing(&self, req: DescribeInstancesRequest) -> Result<Listing, Status> {
        status::no_subtype(KIND, &req.r#type)?;
        // No event since the caller's revision: nothing changed (a change being made now is
        // announced after it, so the caller's watch still gets it).
        if req.unless_revision != 0 && self.store.events().revision() == req.unless_revision {
            return Ok(Listing::Built(DescribeInstancesResponse {
                instances: Vec::new(),
                revision: req.unless_revision,
                unchanged: true,
            }));
        }
        if !req.properties {
            return Ok(Listing::Index {
                store: self.store.clone(),
                tags: req.tags,
            });
        }
        let (revision, mut instances) = self.store.describe_at(&req.tags);
        // Properties are not kept in memory: each listed instance's are read from its file,
        // after the listing (the file of an instance destroyed since cannot be read any more:
        // it is listed without Properties, as of the listing's revision, and its Gone event
        // follows).
        let store = self.store.clone();
        let instances = status::blocking_task("describe", move || {
            for d in &mut instances {
                d.properties = store.properties(&d.id).unwrap_or_default();
            }
            instances
        })
        .await?;
        Ok(Listing::Built(DescribeInstancesResponse {
            instances,
            revision,
            unchanged: false,
        }))
    }
}

fn store_status(e: StoreError) -> Status {
    match e {
        StoreError::NotFound(id) => status::no_instance(&id),
        other => status::internal("instance store failed", &other),
    }
}

/// Checks a spec and converts it to its stored form, collecting every violation.
fn stored_spec(spec: Option<InstanceSpec>) -> Result<StoredSpec, Status> {
    let spec = status::require_spec(spec)?;
    let mut violations = Violations::new();
    let properties =
        status::collect_properties(&spec.properties, "$.spec.properties", &mut violations)
            .unwrap_or_default();
    for k in spec.tags.keys() {
        if k.is_empty() {
            violations.push(
                "$.spec.tags",
                "has an empty tag name",
                "give every tag a name",
            );
        }
    }
    status::check_logical_id(spec.logical_id.as_deref(), &mut violations);
    violations
        .into_result(())
        .map_err(|v| status::invalid(&v))?;
    Ok(StoredSpec {
        properties,
        tags: spec.tags.into_iter().collect(),
        init: spec.init,
        logical_id: spec.logical_id,
        attachments: spec
            .attachments
            .into_iter()
            .map(|a| StoredAttachment {
                id: a.id,
                kind: a.r#type,
            })
            .collect(),
    })
}

#[tonic::async_trait]
impl Instance for FileInstance {
    async fn validate(
        &self,
        req: Request<ValidateRequest>,
    ) -> Result<Response<ValidateResponse>, Status> {
        let req = req.into_inner();
        status::no_subtype(KIND, &req.r#type)?;
        status::parse_properties(&req.properties, "$.properties")?;
        Ok(Response::new(ValidateResponse {}))
    }

    async fn provision(
        &self,
        req: Request<ProvisionRequest>,
    ) -> Result<Response<ProvisionResponse>, Status> {
        let req = req.into_inner();
        self.fences.check(req.fence.as_ref()).await?;
        status::no_subtype(KIND, &req.r#type)?;
        let spec = stored_spec(req.spec)?;
        let store = self.store.clone();
        // File I/O off the async threads; the work is done even if the caller goes away.
        let id = status::blocking_task("provision", move || store.provision(spec))
            .await?
            .map_err(store_status)?;
        tracing::info!(id = %id, "provisioned");
        Ok(Response::new(ProvisionResponse { id }))
    }

    async fn label(&self, req: Request<LabelRequest>) -> Result<Response<LabelResponse>, Status> {
        let req = req.into_inner();
        self.fences.check(req.fence.as_ref()).await?;
        status::no_subtype(KIND, &req.r#type)?;
        if req.labels.keys().any(String::is_empty) {
            return Err(status::invalid(
                &infrakit_model::Violation::new(
                    "$.labels",
                    "has an empty tag name",
                    "give every label a name",
                )
                .into(),
            ));
        }
        let store = self.store.clone();
        let labels = req.labels.into_iter().collect();
        let id = req.id;
        status::blocking_task("label", move || store.label(&id, &labels))
            .await?
            .map_err(store_status)?;
        Ok(Response::new(LabelResponse {}))
    }

    async fn destroy(
        &self,
        req: Request<DestroyRequest>,
    ) -> Result<Response<DestroyResponse>, Status> {
        let req = req.into_inner();
        self.fences.check(req.fence.as_ref()).await?;
        status::no_subtype(KIND, &req.r#type)?;
        let reason = req.reason().as_str_name();
        let store = self.store.clone();
        let id = req.id.clone();
        status::blocking_task("destroy", move || store.destroy(&id))
            .await?
            .map_err(store_status)?;
        tracing::info!(id = %req.id, reason, "destroyed");
        Ok(Response::new(DestroyResponse {}))
    }

    async fn describe_instances(
        &self,
        req: Request<DescribeInstancesRequest>,
    ) -> Result<Response<DescribeInstancesResponse>, Status> {
        let listing = self.listing(req.into_inner()).await?;
        Ok(Response::new(listing.into_response()))
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
