//! Test support: fake plugins served over a unix socket on their own runtime, so a test can
//! kill one mid-call the way a crashing process would (every connection closes at once).

use infrakit_model::Violations;
use infrakit_spi::instance::v1::instance_server::{Instance, InstanceServer};
use infrakit_spi::instance::v1::{
    DescribeInstancesRequest, DescribeInstancesResponse, DestroyRequest, DestroyResponse,
    InstanceEvent, LabelRequest, LabelResponse, ProvisionRequest, ProvisionResponse,
    ValidateRequest, ValidateResponse, WatchInstancesRequest,
};
use infrakit_spi::plugin::v1::plugin_server::{Plugin, PluginServer};
use infrakit_spi::plugin::v1::{InfoRequest, InfoResponse, Spi};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::mpsc;
use std::time::Duration;
use tokio_stream::Stream;
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
        let serve = tonic::transport::Server::builder()
            .add_service(InstanceServer::new(FakeInstance { arrived }))
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
