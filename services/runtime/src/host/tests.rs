use super::*;
use infrakit_spi::flavor::v1::flavor_server::{Flavor, FlavorServer};
use infrakit_spi::flavor::v1::{
    DrainRequest, DrainResponse, HealthyRequest, HealthyResponse, PrepareRequest, PrepareResponse,
    ValidateRequest, ValidateResponse,
};
use std::collections::BTreeSet;

/// A flavor that serves nothing, to have a plugin service to list.
struct NoFlavor;

#[tonic::async_trait]
impl Flavor for NoFlavor {
    async fn validate(
        &self,
        _: Request<ValidateRequest>,
    ) -> Result<Response<ValidateResponse>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn prepare(
        &self,
        _: Request<PrepareRequest>,
    ) -> Result<Response<PrepareResponse>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn healthy(
        &self,
        _: Request<HealthyRequest>,
    ) -> Result<Response<HealthyResponse>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn drain(&self, _: Request<DrainRequest>) -> Result<Response<DrainResponse>, Status> {
        Err(Status::unimplemented("test"))
    }
}

/// Asks the reflection service of protocol version `$v` (a module of `tonic_reflection::pb`)
/// on `$ch` for its list of services.
macro_rules! list_services {
    ($v:ident, $ch:expr) => {{
        use tonic_reflection::pb::$v::ServerReflectionRequest;
        use tonic_reflection::pb::$v::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$v::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$v::server_reflection_response::MessageResponse;
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut answers = ServerReflectionClient::new($ch)
            .server_reflection_info(tokio_stream::iter([req]))
            .await
            .unwrap()
            .into_inner();
        match answers.message().await.unwrap().unwrap().message_response {
            Some(MessageResponse::ListServicesResponse(l)) => l
                .service
                .into_iter()
                .map(|s| s.name)
                .collect::<BTreeSet<_>>(),
            other => panic!("not a list of services: {other:?}"),
        }
    }};
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_exactly_the_services_served() {
    let dir = tempfile::Builder::new()
        .prefix("ik")
        .tempdir_in("/tmp")
        .unwrap();
    let addr = ListenAddr::Unix(dir.path().join("f.sock"));
    let listener = Listener::bind(&addr, &BindOptions::default())
        .await
        .unwrap();
    let shutdown = Shutdown::new();
    let host = PluginHost::new("f", "flavor-test").add_service(FlavorServer::new(NoFlavor));
    let server = tokio::spawn(host.serve(listener, shutdown.clone()));
    let ch = crate::dial::connect(&addr, false, &Default::default())
        .await
        .unwrap();

    let want: BTreeSet<String> = [
        "infrakit.flavor.v1.Flavor",
        "infrakit.plugin.v1.Plugin",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ]
    .map(String::from)
    .into();
    assert_eq!(list_services!(v1, ch.clone()), want);
    assert_eq!(list_services!(v1alpha, ch), want);

    shutdown.trigger();
    server.await.unwrap().unwrap();
}
