//! The engine-side work behind the gRPC calls, shared with the event pump: listing and
//! inspecting this plugin's containers, creating and starting them, destroying them, and
//! describing them as instances.

use crate::container::SHELL;
use crate::engine::{http_status, message, status};
use crate::labels::{self, LOGICAL_ID, MARKER};
use crate::overlay::Overlay;
use bollard::Docker;
use bollard::models::{ContainerCreateBody, ContainerInspectResponse, ContainerSummary};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, RemoveContainerOptions,
};
use infrakit_model::{Violation, tags};
use infrakit_runtime::turns::Turns;
use infrakit_runtime::watch::EventBroadcast;
use infrakit_runtime::{Shutdown, status as st};
use infrakit_spi::instance::v1::{InstanceDescription, InstanceEventKind};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use tonic::Status;

/// How many events a slow watcher may fall behind before it is told to resync.
pub const EVENT_BUFFER: usize = 4096;

/// Network modes that always exist.
const BUILTIN_NETWORKS: &[&str] = &["bridge", "host", "none", "default"];

/// What every request and the event pump share.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) docker: Docker,
    /// The plugin's name: the value of the ownership label.
    pub(crate) name: String,
    pub(crate) overlay: Overlay,
    events: EventBroadcast,
    pub(crate) shutdown: Shutdown,
    /// Provisions with one token take turns (see [`Inner::create`]).
    tokens: Turns,
}

/// A container as listed or inspected.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// The container ID.
    pub(crate) id: String,
    /// The container name (the instance ID).
    pub(crate) name: String,
    pub(crate) labels: HashMap<String, String>,
    /// Docker's state: created, running, exited, ...
    pub(crate) state: String,
    pub(crate) status: String,
    pub(crate) image: String,
}

// === impl Seen ===

impl Seen {
    /// From a listing.
    pub(crate) fn from_summary(c: ContainerSummary) -> Self {
        Self {
            id: c.id.unwrap_or_default(),
            name: c
                .names
                .and_then(|n| n.into_iter().next())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default(),
            labels: c.labels.unwrap_or_default(),
            state: c.state.map(|s| s.as_ref().to_string()).unwrap_or_default(),
            status: c.status.unwrap_or_default(),
            image: c.image.unwrap_or_default(),
        }
    }

    /// From an inspection.
    pub(crate) fn from_inspect(c: ContainerInspectResponse) -> Self {
        let config = c.config.unwrap_or_default();
        Self {
            id: c.id.unwrap_or_default(),
            name: c
                .name
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default(),
            labels: config.labels.unwrap_or_default(),
            state: c
                .state
                .and_then(|s| s.status)
                .map(|s| s.as_ref().to_string())
                .unwrap_or_default(),
            status: String::new(),
            image: config.image.unwrap_or_default(),
        }
    }

    /// The instance ID: the name, or the container ID for a nameless container.
    fn instance_id(&self) -> String {
        if self.name.is_empty() {
            self.id.clone()
        } else {
            self.name.clone()
        }
    }

    /// The instance's tags: the tag labels with the overlay's changes on top.
    pub(crate) fn tags(
        &self,
        overlay: Option<&BTreeMap<String, String>>,
    ) -> BTreeMap<String, String> {
        let mut t = labels::tags_of(&self.labels);
        if let Some(o) = overlay {
            t.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        t
    }

    /// The SPI's description.
    pub(crate) fn describe(
        &self,
        overlay: Option<&BTreeMap<String, String>>,
        with_properties: bool,
    ) -> InstanceDescription {
        InstanceDescription {
            id: self.instance_id(),
            logical_id: self.labels.get(LOGICAL_ID).cloned(),
            tags: self.tags(overlay).into_iter().collect(),
            properties: if with_properties {
                serde_json::json!({
                    "ContainerID": self.id,
                    "Name": self.name,
                    "Image": self.image,
                    "State": self.state,
                    "Status": self.status,
                })
                .to_string()
                .into_bytes()
            } else {
                Vec::new()
            },
            state: labels::state_of(&self.state) as i32,
        }
    }
}

// === impl Inner ===

impl Inner {
    /// The shared state of a plugin named `name` (the ownership label's value).
    pub(crate) fn new(docker: Docker, name: String, overlay: Overlay, shutdown: Shutdown) -> Self {
        Self {
            docker,
            name,
            overlay,
            events: EventBroadcast::new(EVENT_BUFFER),
            shutdown,
            tokens: Turns::new(),
        }
    }

    /// The change events, numbered: WatchInstances is served from them, and their revision is
    /// what a listing reflects.
    pub(crate) fn events(&self) -> &EventBroadcast {
        &self.events
    }

    /// Sends an event to every watcher.
    pub(crate) fn emit(&self, kind: InstanceEventKind, instance: Option<InstanceDescription>) {
        self.events.emit(kind, instance);
    }

    /// The label filter selecting this plugin's containers.
    pub(crate) fn marker_filter(&self) -> String {
        format!("{MARKER}={}", self.name)
    }

    /// Inspects a container and describes it, if it is one of ours.
    pub(crate) async fn seen(&self, id: &str) -> Result<Option<Seen>, bollard::errors::Error> {
        match self.docker.inspect_container(id, None).await {
            Ok(c) => {
                let s = Seen::from_inspect(c);
                Ok((s.labels.get(MARKER) == Some(&self.name)).then_some(s))
            }
            Err(e) if http_status(&e) == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The container behind instance `id`, or NOT_FOUND when there is none or it is not ours.
    pub(crate) async fn ours(&self, id: &str) -> Result<Seen, Status> {
        if id.is_empty() {
            return Err(st::invalid(
                &Violation::new("$.id", "is empty", "give an instance ID").into(),
            ));
        }
        self.seen(id)
            .await
            .map_err(|e| status(&format!("cannot inspect container {id}"), &e))?
            .ok_or_else(|| {
                Status::not_found(format!(
                    "no instance {id:?}: no container of that name is managed by the Docker instance plugin {:?}",
                    self.name
                ))
            })
    }

    /// Lists this plugin's containers, filtered on the engine by `label=k=v` for each of `tags`.
    pub(crate) async fn list(
        &self,
        tags: &[(String, String)],
    ) -> Result<Vec<Seen>, bollard::errors::Error> {
        let mut label = vec![self.marker_filter()];
        label.extend(tags.iter().map(|(k, v)| format!("{k}={v}")));
        let filters = HashMap::from([("label".to_string(), label)]);
        let list = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await?;
        Ok(list.into_iter().map(Seen::from_summary).collect())
    }

    /// Drops overlay entries of containers that no longer exist.
    pub(crate) async fn forget_removed(&self) {
        match self.list(&[]).await {
            Ok(list) => {
                let live: HashSet<String> = list.into_iter().map(|s| s.id).collect();
                if let Err(e) = self.overlay.forget(&[], Some(&live)).await {
                    tracing::warn!(error = %infrakit_runtime::dial::error_chain(&e), "cannot prune the label overlay");
                }
            }
            Err(e) => {
                tracing::warn!(error = %message(&e), "cannot list containers to prune the label overlay")
            }
        }
    }

    /// A violation at `path` when `image` is not on the engine.
    pub(crate) async fn check_image(
        &self,
        image: &str,
        path: &str,
    ) -> Result<Option<Violation>, Status> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(None),
            Err(e) if http_status(&e) == Some(404) => Ok(Some(missing_image(image, path))),
            Err(e) => Err(status(&format!("cannot inspect image {image:?}"), &e)),
        }
    }

    /// A violation at `path` when `network` is not on the engine.
    pub(crate) async fn check_network(
        &self,
        network: &str,
        path: &str,
    ) -> Result<Option<Violation>, Status> {
        if BUILTIN_NETWORKS.contains(&network) || network.starts_with("container:") {
            return Ok(None);
        }
        match self.docker.inspect_network(network, None).await {
            Ok(_) => Ok(None),
            Err(e) if http_status(&e) == Some(404) => Ok(Some(Violation::new(
                path,
                format!("no network {network:?} on the Docker engine"),
                format!("create it (docker network create {network}) or use \"bridge\""),
            ))),
            Err(e) => Err(status(&format!("cannot inspect network {network:?}"), &e)),
        }
    }

    /// The container already made for a provision token, if any.
    pub(crate) async fn by_token(&self, token: &str) -> Result<Option<Seen>, Status> {
        let list = self
            .list(&[(tags::PROVISION_TOKEN.to_string(), token.to_string())])
            .await
            .map_err(|e| status("cannot list containers", &e))?;
        Ok(list.into_iter().next())
    }

    /// Creates and starts a container (the body of Provision, run to completion even if the
    /// caller goes away).
    ///
    /// Idempotent by the provision token: calls with one token take turns, so a repeat waits
    /// until the first has created and started its container, then finds it by the token's
    /// label and returns it. Across plugin restarts, the container name derived from the token
    /// keeps a second container from being created.
    pub(crate) async fn create(self: Arc<Self>, new: NewContainer) -> Result<String, Status> {
        let _turn = match &new.token {
            Some(token) => Some(self.tokens.take(token).await),
            None => None,
        };
        if let Some(token) = &new.token
            && let Some(existing) = self.by_token(token).await?
        {
            tracing::info!(id = %existing.name, "provision repeated with the same token: returning the existing container");
            return self
                .ensure_started(existing.name, existing.state, &new)
                .await;
        }
        if let Some(v) = self
            .check_image(&new.image, "$.spec.properties.Image")
            .await?
        {
            return Err(st::invalid(&v.into()));
        }
        let opts = CreateContainerOptions {
            name: Some(new.name.clone()),
            ..Default::default()
        };
        match self
            .docker
            .create_container(Some(opts), new.body.clone())
            .await
        {
            Ok(_) => {}
            Err(e) if http_status(&e) == Some(409) && new.token.is_some() => {
                // The name comes from the token: an earlier attempt got this far.
                let seen = self.seen(&new.name).await.ok().flatten();
                let token = new.token.as_deref();
                match seen {
                    Some(s) if s.labels.get(tags::PROVISION_TOKEN).map(String::as_str) == token => {
                        return self.ensure_started(s.name, s.state, &new).await;
                    }
                    _ => {
                        return Err(Status::already_exists(format!(
                            "a container named {:?} exists but is not this instance: {}",
                            new.name,
                            message(&e)
                        )));
                    }
                }
            }
            Err(e) if http_status(&e) == Some(404) && message(&e).contains("image") => {
                return Err(st::invalid(
                    &missing_image(&new.image, "$.spec.properties.Image").into(),
                ));
            }
            Err(e) => return Err(status(&format!("cannot create container {}", new.name), &e)),
        }
        self.ensure_started(new.name.clone(), "created".to_string(), &new)
            .await
    }

    /// Starts a container that was created but not started; on failure removes it.
    pub(crate) async fn ensure_started(
        &self,
        name: String,
        state: String,
        new: &NewContainer,
    ) -> Result<String, Status> {
        if state != "created" {
            return Ok(name);
        }
        match self.docker.start_container(&name, None).await {
            Ok(()) => {
                tracing::info!(id = %name, image = %new.image, "provisioned");
                Ok(name)
            }
            Err(e) => {
                let msg = message(&e);
                if let Err(re) = self
                    .docker
                    .remove_container(&name, Some(force_remove()))
                    .await
                {
                    tracing::warn!(id = %name, error = %message(&re), "cannot remove a container that failed to start");
                }
                if new.init && msg.contains(SHELL) && has_missing_file(&msg) {
                    Err(st::invalid(
                        &Violation::new(
                            "$.spec.init",
                            format!(
                                "cannot run: the image {:?} has no {SHELL}, which runs the flavor's Init (engine: {msg})",
                                new.image
                            ),
                            "use an image with a shell, or a flavor without Init and a Command in the instance Properties",
                        )
                        .into(),
                    ))
                } else {
                    Err(Status::failed_precondition(format!(
                        "container {name} was created but could not start, and was removed: {msg}"
                    )))
                }
            }
        }
    }

    /// Stops (SIGTERM, then SIGKILL after the container's stop timeout) and removes a container
    /// with its anonymous volumes.
    pub(crate) async fn destroy(&self, seen: Seen) -> Result<(), Status> {
        let name = seen.instance_id();
        match self.docker.stop_container(&seen.id, None).await {
            Ok(()) => {}
            Err(e) if http_status(&e) == Some(404) => {}
            Err(e) => return Err(status(&format!("cannot stop container {name}"), &e)),
        }
        match self
            .docker
            .remove_container(&seen.id, Some(force_remove()))
            .await
        {
            Ok(()) => {}
            // Gone already, or being removed by someone else.
            Err(e) if matches!(http_status(&e), Some(404 | 409)) => {}
            Err(e) => return Err(status(&format!("cannot remove container {name}"), &e)),
        }
        // The overlay entry is dropped when the engine's `destroy` event arrives (see
        // `events`), after watchers were told the instance is gone with its labelled tags.
        Ok(())
    }
}

/// Everything needed to create one container.
#[derive(Clone, Debug)]
pub(crate) struct NewContainer {
    /// The container name (the instance ID).
    pub(crate) name: String,
    /// The provision token, if any.
    pub(crate) token: Option<String>,
    /// The image reference.
    pub(crate) image: String,
    /// Whether the flavor's Init runs (through the image's shell).
    pub(crate) init: bool,
    /// The create body.
    pub(crate) body: ContainerCreateBody,
}

fn force_remove() -> RemoveContainerOptions {
    RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    }
}

fn has_missing_file(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("no such file") || m.contains("not found")
}

/// The violation for an image that is not on the engine.
pub fn missing_image(image: &str, path: &str) -> Violation {
    Violation::new(
        path,
        format!("image {image:?} is not on the Docker engine, and this plugin never pulls"),
        format!(
            "build it there (docker build -t {image} DIR) or load a saved copy (docker load -i FILE.tar)"
        ),
    )
}
