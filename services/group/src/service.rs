//! The `infrakit.group.v1.Group` gRPC service over a [`Manager`].
//!
//! With controllers sharing groups through etcd, a call about a group another controller owns
//! is answered from etcd (reads) or relayed to the owner as an order (changes): any controller
//! serves any group.

use crate::convert;
use crate::ha::orders::Answer;
use crate::ha::replica::{EventKey, Replica, event_key};
use crate::manager::Manager;
use infrakit_runtime::Shutdown;
use infrakit_spi::group::v1::group_server::Group;
use infrakit_spi::group::v1::*;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

/// The Group service.
#[derive(Clone, Debug)]
pub struct GroupService {
    mgr: Arc<Manager>,
    shutdown: Shutdown,
    replica: Option<Arc<Replica>>,
}

// === impl GroupService ===

impl GroupService {
    /// A service over `mgr`; watch streams end when `shutdown` starts.
    pub fn new(mgr: Arc<Manager>, shutdown: Shutdown) -> Self {
        Self {
            mgr,
            shutdown,
            replica: None,
        }
    }

    /// A service of a controller sharing groups through etcd: groups owned elsewhere are
    /// answered through `replica`.
    pub fn shared(mgr: Arc<Manager>, shutdown: Shutdown, replica: Arc<Replica>) -> Self {
        Self {
            mgr,
            shutdown,
            replica: Some(replica),
        }
    }

    /// The same service answering only for the groups managed here (what an order runs on).
    pub fn local(&self) -> Self {
        Self::new(self.mgr.clone(), self.shutdown.clone())
    }

    /// The replica to answer through when group `id` is not managed here.
    fn elsewhere(&self, id: &str) -> Option<&Replica> {
        self.replica
            .as_deref()
            .filter(|_| self.mgr.managed_epoch(id).is_none())
    }
}

/// Relays `$req` to the owner of group `$id` when it is managed elsewhere; otherwise runs
/// `$local`, and relays after all when the group moved away meanwhile (NOT_FOUND here).
macro_rules! routed {
    ($self:ident, $id:expr, $method:literal, $req:expr, $local:expr) => {{
        let id: String = $id;
        if let Some(r) = $self.elsewhere(&id) {
            return r.relay(&id, $method, &$req).await.map(Response::new);
        }
        match $local {
            Err(st) if st.code() == tonic::Code::NotFound && $self.replica.is_some() => {
                if let Some(r) = $self.elsewhere(&id) {
                    return r.relay(&id, $method, &$req).await.map(Response::new);
                }
                Err(st)
            }
            other => other,
        }
    }};
}

/// Runs an order (a Group call relayed through etcd) on `svc`, as if it had been called.
pub async fn execute(svc: &GroupService, method: &str, request: &[u8], by: &str) -> Answer {
    use prost::Message;
    macro_rules! run {
        ($req:ty, $call:ident) => {
            match <$req>::decode(request) {
                Ok(r) => Answer::of(
                    svc.$call(Request::new(r)).await.map(Response::into_inner),
                    by,
                ),
                Err(e) => Answer::of::<$req>(
                    Err(Status::invalid_argument(format!(
                        "a {method} order cannot be read: {e}"
                    ))),
                    by,
                ),
            }
        };
    }
    match method {
        "CommitGroup" => run!(CommitGroupRequest, commit_group),
        "FreeGroup" => run!(FreeGroupRequest, free_group),
        "DestroyGroup" => run!(DestroyGroupRequest, destroy_group),
        "SetSize" => run!(SetSizeRequest, set_size),
        "DestroyInstances" => run!(DestroyInstancesRequest, destroy_instances),
        "StopUpdate" => run!(StopUpdateRequest, stop_update),
        "PauseGroup" => run!(PauseGroupRequest, pause_group),
        "ResumeGroup" => run!(ResumeGroupRequest, resume_group),
        other => Answer::of::<FreeGroupResponse>(
            Err(Status::unimplemented(format!(
                "no Group method {other:?} takes orders"
            ))),
            by,
        ),
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<GroupEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Group for GroupService {
    async fn commit_group(
        &self,
        req: Request<CommitGroupRequest>,
    ) -> Result<Response<CommitGroupResponse>, Status> {
        let req = req.into_inner();
        let Some(spec) = &req.spec else {
            return Err(Status::invalid_argument(
                "$.spec: is missing (fix: send a group spec)",
            ));
        };
        let id = spec.id.clone();
        if let Some(r) = self.elsewhere(&id)
            && r.exists(&id).await?
        {
            return r.relay(&id, "CommitGroup", &req).await.map(Response::new);
        }
        let plan = match (
            self.mgr.commit(spec, req.pretend).await,
            self.elsewhere(&id),
        ) {
            // Created by another controller meanwhile: send it there.
            (Err(crate::error::GroupError::Persist { .. }), Some(r)) if r.exists(&id).await? => {
                return r.relay(&id, "CommitGroup", &req).await.map(Response::new);
            }
            (p, _) => p.map_err(Status::from)?,
        };
        Ok(Response::new(CommitGroupResponse {
            id,
            plan: Some(convert::plan(&plan)),
        }))
    }

    async fn free_group(
        &self,
        req: Request<FreeGroupRequest>,
    ) -> Result<Response<FreeGroupResponse>, Status> {
        let req = req.into_inner();
        routed!(self, req.id.clone(), "FreeGroup", req, {
            self.mgr
                .free(&req.id)
                .await
                .map(|()| Response::new(FreeGroupResponse {}))
                .map_err(Status::from)
        })
    }

    async fn describe_group(
        &self,
        req: Request<DescribeGroupRequest>,
    ) -> Result<Response<DescribeGroupResponse>, Status> {
        let id = req.into_inner().id;
        if let Some(r) = self.elsewhere(&id) {
            return r.describe(&id).await.map(Response::new);
        }
        match (self.mgr.describe(&id), &self.replica) {
            (Ok(mut d), Some(r)) => {
                d.owner = r.name().to_string();
                d.epoch = self.mgr.managed_epoch(&id).unwrap_or_default();
                Ok(Response::new(d))
            }
            (Ok(d), None) => Ok(Response::new(d)),
            (Err(_), Some(r)) => r.describe(&id).await.map(Response::new),
            (Err(e), None) => Err(e.into()),
        }
    }

    async fn destroy_group(
        &self,
        req: Request<DestroyGroupRequest>,
    ) -> Result<Response<DestroyGroupResponse>, Status> {
        let req = req.into_inner();
        routed!(self, req.id.clone(), "DestroyGroup", req, {
            self.mgr
                .destroy(&req.id)
                .await
                .map(|remaining| Response::new(DestroyGroupResponse { remaining }))
                .map_err(Status::from)
        })
    }

    async fn inspect_groups(
        &self,
        _req: Request<InspectGroupsRequest>,
    ) -> Result<Response<InspectGroupsResponse>, Status> {
        let groups = match &self.replica {
            Some(r) => r.inspect().await?,
            None => self.mgr.inspect().await,
        };
        Ok(Response::new(InspectGroupsResponse { groups }))
    }

    async fn set_size(
        &self,
        req: Request<SetSizeRequest>,
    ) -> Result<Response<SetSizeResponse>, Status> {
        let req = req.into_inner();
        routed!(self, req.id.clone(), "SetSize", req, {
            self.mgr
                .set_size(&req.id, req.size)
                .await
                .map(|(previous, size)| Response::new(SetSizeResponse { previous, size }))
                .map_err(Status::from)
        })
    }

    async fn destroy_instances(
        &self,
        req: Request<DestroyInstancesRequest>,
    ) -> Result<Response<DestroyInstancesResponse>, Status> {
        let req = req.into_inner();
        routed!(self, req.id.clone(), "DestroyInstances", req, {
            self.mgr
                .destroy_instances(&req.id, &req.instance_ids)
                .await
                .map(|size| {
                    Response::new(DestroyInstancesResponse {
                        destroyed: req.instance_ids.clone(),
                        size,
                    })
                })
                .map_err(Status::from)
        })
    }

    async fn stop_update(
        &self,
        req: Request<StopUpdateRequest>,
    ) -> Result<Response<StopUpdateResponse>, Status> {
        let req = req.into_inner();
        routed!(self, req.id.clone(), "StopUpdate", req, {
            self.mgr
                .stop_update(&req.id)
                .await
                .map(|()| Response::new(StopUpdateResponse {}))
                .map_err(Status::from)
        })
    }

    async fn pause_group(
        &self,
        req: Request<PauseGroupRequest>,
    ) -> Result<Response<PauseGroupResponse>, Status> {
        let req = req.into_inner();
        routed!(self, req.id.clone(), "PauseGroup", req, {
            self.mgr
                .pause(&req.id, &req.by, &req.reason)
                .await
                .map(|()| Response::new(PauseGroupResponse {}))
                .map_err(Status::from)
        })
    }

    async fn resume_group(
        &self,
        req: Request<ResumeGroupRequest>,
    ) -> Result<Response<ResumeGroupResponse>, Status> {
        let req = req.into_inner();
        routed!(self, req.id.clone(), "ResumeGroup", req, {
            self.mgr
                .resume_group(&req.id, &req.by)
                .await
                .map(|()| Response::new(ResumeGroupResponse {}))
                .map_err(Status::from)
        })
    }

    type WatchStream = EventStream;

    async fn watch(
        &self,
        req: Request<WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let req = req.into_inner();
        let (tx, out) = tokio::sync::mpsc::channel(256);
        let here = req.id.is_empty() || self.mgr.managed_epoch(&req.id).is_some();
        // With a replica, the events of one group also come from what its owner publishes (it
        // may be owned elsewhere, or move): both streams feed `tx`, each event once.
        let seen: Option<Arc<std::sync::Mutex<std::collections::HashSet<EventKey>>>> =
            match self.replica.clone() {
                Some(r) if !req.id.is_empty() => {
                    let seen = Arc::default();
                    let (tx, seen2, stop) = (tx.clone(), Arc::clone(&seen), self.shutdown.token());
                    let (id, replay) = (req.id.clone(), req.replay && !here);
                    tokio::spawn(async move { r.watch(&id, replay, tx, seen2, stop).await });
                    Some(seen)
                }
                _ => None,
            };
        let mut rx = self.mgr.events().subscribe();
        let replay = if req.replay && !req.id.is_empty() && here {
            self.mgr.events().recent(&req.id)
        } else {
            Vec::new()
        };
        let shutdown = self.shutdown.clone();
        let fresh = move |ev: &GroupEvent| {
            seen.as_ref().is_none_or(|s| {
                s.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(event_key(ev))
            })
        };
        tokio::spawn(async move {
            let mut last = 0;
            for ev in replay {
                last = ev.sequence;
                if fresh(&ev) && tx.send(Ok(ev)).await.is_err() {
                    return;
                }
            }
            loop {
                let ev = tokio::select! {
                    () = shutdown.wait() => break,
                    () = tx.closed() => break,
                    ev = rx.recv() => ev,
                };
                match ev {
                    Ok(ev)
                        if ev.sequence > last && (req.id.is_empty() || ev.group_id == req.id) =>
                    {
                        if fresh(&ev) && tx.send(Ok(GroupEvent::clone(&ev))).await.is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => {
                        let _ = tx
                            .send(Err(Status::resource_exhausted(format!(
                                "this watcher fell {n} events behind; watch again (DescribeGroup has the current state)"
                            ))))
                            .await;
                        break;
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(out),
        )))
    }
}
