//! The `infrakit.group.v1.Group` gRPC service over a [`Manager`].

use crate::convert;
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
}

// === impl GroupService ===

impl GroupService {
    /// A service over `mgr`; watch streams end when `shutdown` starts.
    pub fn new(mgr: Arc<Manager>, shutdown: Shutdown) -> Self {
        Self { mgr, shutdown }
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
        let spec = req.spec.ok_or_else(|| {
            Status::invalid_argument("$.spec: is missing (fix: send a group spec)")
        })?;
        let id = spec.id.clone();
        let plan = self
            .mgr
            .commit(&spec, req.pretend)
            .await
            .map_err(Status::from)?;
        Ok(Response::new(CommitGroupResponse {
            id,
            plan: Some(convert::plan(&plan)),
        }))
    }

    async fn free_group(
        &self,
        req: Request<FreeGroupRequest>,
    ) -> Result<Response<FreeGroupResponse>, Status> {
        self.mgr
            .free(&req.into_inner().id)
            .await
            .map_err(Status::from)?;
        Ok(Response::new(FreeGroupResponse {}))
    }

    async fn describe_group(
        &self,
        req: Request<DescribeGroupRequest>,
    ) -> Result<Response<DescribeGroupResponse>, Status> {
        Ok(Response::new(
            self.mgr
                .describe(&req.into_inner().id)
                .map_err(Status::from)?,
        ))
    }

    async fn destroy_group(
        &self,
        req: Request<DestroyGroupRequest>,
    ) -> Result<Response<DestroyGroupResponse>, Status> {
        let remaining = self
            .mgr
            .destroy(&req.into_inner().id)
            .await
            .map_err(Status::from)?;
        Ok(Response::new(DestroyGroupResponse { remaining }))
    }

    async fn inspect_groups(
        &self,
        _req: Request<InspectGroupsRequest>,
    ) -> Result<Response<InspectGroupsResponse>, Status> {
        Ok(Response::new(InspectGroupsResponse {
            groups: self.mgr.inspect().await,
        }))
    }

    async fn set_size(
        &self,
        req: Request<SetSizeRequest>,
    ) -> Result<Response<SetSizeResponse>, Status> {
        let req = req.into_inner();
        let (previous, size) = self
            .mgr
            .set_size(&req.id, req.size)
            .await
            .map_err(Status::from)?;
        Ok(Response::new(SetSizeResponse { previous, size }))
    }

    async fn destroy_instances(
        &self,
        req: Request<DestroyInstancesRequest>,
    ) -> Result<Response<DestroyInstancesResponse>, Status> {
        let req = req.into_inner();
        let size = self
            .mgr
            .destroy_instances(&req.id, &req.instance_ids)
            .await
            .map_err(Status::from)?;
        Ok(Response::new(DestroyInstancesResponse {
            destroyed: req.instance_ids,
            size,
        }))
    }

    async fn stop_update(
        &self,
        req: Request<StopUpdateRequest>,
    ) -> Result<Response<StopUpdateResponse>, Status> {
        self.mgr
            .stop_update(&req.into_inner().id)
            .await
            .map_err(Status::from)?;
        Ok(Response::new(StopUpdateResponse {}))
    }

    async fn pause_group(
        &self,
        req: Request<PauseGroupRequest>,
    ) -> Result<Response<PauseGroupResponse>, Status> {
        let req = req.into_inner();
        self.mgr
            .pause(&req.id, &req.by, &req.reason)
            .await
            .map_err(Status::from)?;
        Ok(Response::new(PauseGroupResponse {}))
    }

    async fn resume_group(
        &self,
        req: Request<ResumeGroupRequest>,
    ) -> Result<Response<ResumeGroupResponse>, Status> {
        let req = req.into_inner();
        self.mgr
            .resume_group(&req.id, &req.by)
            .await
            .map_err(Status::from)?;
        Ok(Response::new(ResumeGroupResponse {}))
    }

    type WatchStream = EventStream;

    async fn watch(
        &self,
        req: Request<WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let req = req.into_inner();
        let mut rx = self.mgr.events().subscribe();
        let replay = if req.replay && !req.id.is_empty() {
            self.mgr.events().recent(&req.id)
        } else {
            Vec::new()
        };
        let (tx, out) = tokio::sync::mpsc::channel(256);
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let mut last = 0;
            for ev in replay {
                last = ev.sequence;
                if tx.send(Ok(ev)).await.is_err() {
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
                        if tx.send(Ok(GroupEvent::clone(&ev))).await.is_err() {
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
