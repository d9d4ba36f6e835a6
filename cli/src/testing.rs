//! Test support: fake plugins (instance, group) served over a unix socket on their own runtime, so a test can
//! kill one mid-call the way a crashing process would (every connection closes at once).

use infrakit_model::Violations;
use infrakit_spi::group::v1::group_server::{Group, GroupServer};
use infrakit_spi::group::v1::{
    CommitGroupRequest, CommitGroupResponse, DescribeGroupRequest, DescribeGroupResponse,
    DestroyGroupRequest, DestroyGroupResponse, DestroyInstancesRequest, DestroyInstancesResponse,
    FreeGroupRequest, FreeGroupResponse, GroupEvent, GroupSpec, InspectGroupsRequest,
    InspectGroupsResponse, PauseGroupRequest, PauseGroupResponse, Plan, ResumeGroupRequest,
    ResumeGroupResponse, SetSizeRequest, SetSizeResponse, StopUpdateRequest, StopUpdateResponse,
    WatchRequest,
};
use infrakit_spi::instance::v1::instance_server::{Instance, InstanceServer};
use infrakit_spi::instance::v1::{
    DescribeInstancesRequest, DescribeInstancesResponse, DestroyRequest, DestroyResponse,
    InstanceEvent, LabelRequest, LabelResponse, ProvisionRequest, ProvisionResponse,
    ValidateRequest, ValidateResponse, WatchInstancesRequest,
};
use infrakit_spi::plugin::v1::plugin_server::{Plugin, PluginServer};
use infrakit_spi::plugin::v1::{InfoRequest, InfoResponse, Spi};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::Server;
use tonic::transport::server::Router;
use tonic::{Request, Response, Status};

/// A fake instance plugin: Validate refuses with field violations, Provision reports its
/// arrival and never answers, Destroy answers NOT_FOUND, Describe returns nothing.
pub(crate) struct FakeInstance {
    pub(crate) arrived: mpsc::Sender<&'static str>,
}

/// A fake `Plugin/Info`.
pub(crate) struct FakeInfo(pub(crate) &'static str);

/// A gRPC server on `<dir>/<name>.sock`, on a runtime of its own.
pub(crate) struct FakeServer {
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeServer {
    /// Serves the fake instance and info services as plugin `name` in `dir`.
    pub(crate) fn start(
        dir: &Path,
        name: &'static str,
        arrived: mpsc::Sender<&'static str>,
    ) -> Self {
        Self::serve(dir, name, |mut server| {
            server.add_service(InstanceServer::new(FakeInstance { arrived }))
        })
    }

    /// Serves the fake group service (answering from `script`) as plugin `name` in `dir`.
    pub(crate) fn start_group(dir: &Path, name: &'static str, script: Script) -> Self {
        Self::serve(dir, name, |mut server| {
            server.add_service(GroupServer::new(FakeGroup(script)))
        })
    }

    /// Serves the service `add` adds, plus info and health, as plugin `name` in `dir`.
    fn serve(dir: &Path, name: &'static str, add: impl FnOnce(Server) -> Router) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let socket = dir.join(format!("{name}.sock"));
        let std_listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let _guard = runtime.enter();
        let listener = tokio::net::UnixListener::from_std(std_listener).unwrap();
        let (_reporter, health) = tonic_health::server::health_reporter();
        let serve = add(Server::builder())
            .add_service(PluginServer::new(FakeInfo(name)))
            .add_service(health)
            .serve_with_incoming(tokio_stream::wrappers::UnixListenerStream::new(listener));
        runtime.spawn(serve);
        drop(_guard);
        Self {
            runtime: Some(runtime),
        }
    }

    /// Stops everything at once, as if the process died.
    pub(crate) fn kill(mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_millis(100));
        }
    }
}

/// A socket file nobody listens on (a plugin that died without cleaning up).
pub(crate) fn stale_socket(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.sock"));
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    path
}

#[tonic::async_trait]
impl Plugin for FakeInfo {
    async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        Ok(Response::new(InfoResponse {
            name: self.0.to_string(),
            kind: "instance-fake".to_string(),
            spis: vec![
                Spi {
                    name: "infrakit.instance.v1.Instance".to_string(),
                    version: "1.0".to_string(),
                },
                Spi {
                    name: "infrakit.plugin.v1.Plugin".to_string(),
                    version: "1.0".to_string(),
                },
            ],
            version: "9.9.9".to_string(),
            revision: "test".to_string(),
            listen: "unix:///fake.sock".to_string(),
        }))
    }
}

#[tonic::async_trait]
impl Instance for FakeInstance {
    async fn validate(
        &self,
        _: Request<ValidateRequest>,
    ) -> Result<Response<ValidateResponse>, Status> {
        let mut v = Violations::new();
        v.push("$.spec.properties.image", "is missing", "add an image");
        v.push("$.spec.properties.cpus", "must be a number", "");
        Err(infrakit_runtime::status::invalid(&v))
    }

    async fn provision(
        &self,
        _: Request<ProvisionRequest>,
    ) -> Result<Response<ProvisionResponse>, Status> {
        let _ = self.arrived.send("provision");
        std::future::pending().await
    }

    async fn label(&self, _: Request<LabelRequest>) -> Result<Response<LabelResponse>, Status> {
        Ok(Response::new(LabelResponse {}))
    }

    async fn destroy(
        &self,
        req: Request<DestroyRequest>,
    ) -> Result<Response<DestroyResponse>, Status> {
        Err(Status::not_found(format!(
            "no instance {:?}",
            req.into_inner().id
        )))
    }

    async fn describe_instances(
        &self,
        _: Request<DescribeInstancesRequest>,
    ) -> Result<Response<DescribeInstancesResponse>, Status> {
        Ok(Response::new(DescribeInstancesResponse::default()))
    }

    type WatchInstancesStream = Pin<Box<dyn Stream<Item = Result<InstanceEvent, Status>> + Send>>;

    async fn watch_instances(
        &self,
        _: Request<WatchInstancesRequest>,
    ) -> Result<Response<Self::WatchInstancesStream>, Status> {
        Err(Status::unimplemented("no watch"))
    }
}

/// What the fake group plugin answers, shared with the test that reads what it was sent.
pub(crate) type Script = Arc<Mutex<GroupScript>>;

/// The fake group plugin's answers and what it was asked.
#[derive(Default)]
pub(crate) struct GroupScript {
    /// The committed specs; a group is known when it is here. Commits add to it.
    pub(crate) specs: Vec<GroupSpec>,
    /// DescribeGroup answers for a known group, in order, the last one repeating; `None`
    /// answers NOT_FOUND (the group is gone).
    pub(crate) describes: VecDeque<Option<DescribeGroupResponse>>,
    /// The events Watch sends.
    pub(crate) events: Vec<GroupEvent>,
    /// Whether the Watch stream stays open after the events.
    pub(crate) keep_streaming: bool,
    /// The plan CommitGroup returns.
    pub(crate) plan: Plan,
    /// The commits received.
    pub(crate) commits: Vec<CommitGroupRequest>,
    /// The watches received.
    pub(crate) watches: Vec<WatchRequest>,
    /// The SetSize calls received.
    pub(crate) set_sizes: Vec<SetSizeRequest>,
    /// The DestroyInstances calls received.
    pub(crate) destroy_instances: Vec<DestroyInstancesRequest>,
    /// The PauseGroup calls received.
    pub(crate) pauses: Vec<PauseGroupRequest>,
    /// The ResumeGroup calls received.
    pub(crate) resumes: Vec<ResumeGroupRequest>,
}

/// A fake group plugin: CommitGroup refuses group `bad` with violations; calls about unknown
/// groups answer NOT_FOUND; the rest comes from the [`GroupScript`].
pub(crate) struct FakeGroup(pub(crate) Script);

impl FakeGroup {
    fn known(&self, id: &str) -> Result<(), Status> {
        if self.0.lock().unwrap().specs.iter().any(|s| s.id == id) {
            Ok(())
        } else {
            Err(Status::not_found(format!("no group {id:?}")))
        }
    }
}

#[tonic::async_trait]
impl Group for FakeGroup {
    async fn commit_group(
        &self,
        req: Request<CommitGroupRequest>,
    ) -> Result<Response<CommitGroupResponse>, Status> {
        let req = req.into_inner();
        let spec = req.spec.clone().unwrap_or_default();
        if spec.id == "bad" {
            let mut v = Violations::new();
            v.push(
                "$.Properties.Allocation",
                "must not be blank",
                "give Size or LogicalIDs",
            );
            v.push("$.Properties.Instance.Plugin", "is missing", "");
            return Err(infrakit_runtime::status::invalid(&v));
        }
        let mut script = self.0.lock().unwrap();
        script.commits.push(req.clone());
        if !req.pretend && !script.specs.iter().any(|s| s.id == spec.id) {
            script.specs.push(spec.clone());
        }
        Ok(Response::new(CommitGroupResponse {
            id: spec.id,
            plan: Some(script.plan.clone()),
        }))
    }

    async fn free_group(
        &self,
        req: Request<FreeGroupRequest>,
    ) -> Result<Response<FreeGroupResponse>, Status> {
        self.known(&req.into_inner().id)?;
        Ok(Response::new(FreeGroupResponse {}))
    }

    async fn describe_group(
        &self,
        req: Request<DescribeGroupRequest>,
    ) -> Result<Response<DescribeGroupResponse>, Status> {
        let id = req.into_inner().id;
        self.known(&id)?;
        let mut script = self.0.lock().unwrap();
        let next = if script.describes.len() > 1 {
            script.describes.pop_front().flatten()
        } else {
            script.describes.front().cloned().unwrap_or_else(|| {
                Some(DescribeGroupResponse {
                    id: id.clone(),
                    ..Default::default()
                })
            })
        };
        next.map(Response::new)
            .ok_or_else(|| Status::not_found(format!("no group {id:?}")))
    }

    async fn destroy_group(
        &self,
        req: Request<DestroyGroupRequest>,
    ) -> Result<Response<DestroyGroupResponse>, Status> {
        self.known(&req.into_inner().id)?;
        Ok(Response::new(DestroyGroupResponse { remaining: 3 }))
    }

    async fn inspect_groups(
        &self,
        _: Request<InspectGroupsRequest>,
    ) -> Result<Response<InspectGroupsResponse>, Status> {
        let groups = self.0.lock().unwrap().specs.clone();
        Ok(Response::new(InspectGroupsResponse { groups }))
    }

    async fn set_size(
        &self,
        req: Request<SetSizeRequest>,
    ) -> Result<Response<SetSizeResponse>, Status> {
        let req = req.into_inner();
        self.known(&req.id)?;
        self.0.lock().unwrap().set_sizes.push(req.clone());
        Ok(Response::new(SetSizeResponse {
            previous: 5,
            size: req.size,
        }))
    }

    async fn destroy_instances(
        &self,
        req: Request<DestroyInstancesRequest>,
    ) -> Result<Response<DestroyInstancesResponse>, Status> {
        let req = req.into_inner();
        self.known(&req.id)?;
        self.0.lock().unwrap().destroy_instances.push(req.clone());
        Ok(Response::new(DestroyInstancesResponse {
            size: 5 - u32::try_from(req.instance_ids.len()).unwrap(),
            destroyed: req.instance_ids,
        }))
    }

    async fn stop_update(
        &self,
        req: Request<StopUpdateRequest>,
    ) -> Result<Response<StopUpdateResponse>, Status> {
        self.known(&req.into_inner().id)?;
        Ok(Response::new(StopUpdateResponse {}))
    }

    async fn pause_group(
        &self,
        req: Request<PauseGroupRequest>,
    ) -> Result<Response<PauseGroupResponse>, Status> {
        let req = req.into_inner();
        self.known(&req.id)?;
        self.0.lock().unwrap().pauses.push(req);
        Ok(Response::new(PauseGroupResponse {}))
    }

    async fn resume_group(
        &self,
        req: Request<ResumeGroupRequest>,
    ) -> Result<Response<ResumeGroupResponse>, Status> {
        let req = req.into_inner();
        self.known(&req.id)?;
        self.0.lock().unwrap().resumes.push(req);
        Ok(Response::new(ResumeGroupResponse {}))
    }

    type WatchStream = Pin<Box<dyn Stream<Item = Result<GroupEvent, Status>> + Send>>;

    async fn watch(
        &self,
        req: Request<WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let req = req.into_inner();
        if !req.id.is_empty() {
            self.known(&req.id)?;
        }
        let mut script = self.0.lock().unwrap();
        script.watches.push(req);
        let events = tokio_stream::iter(script.events.clone().into_iter().map(Ok));
        let stream: Self::WatchStream = if script.keep_streaming {
            Box::pin(events.chain(tokio_stream::pending()))
        } else {
            Box::pin(events)
        };
        Ok(Response::new(stream))
    }
}
