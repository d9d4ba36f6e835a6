//! The Docker engine this plugin runs containers on: connecting through
//! [`infrakit_docker_engine`] with a request timeout long enough for stops, and its errors as
//! gRPC statuses.

use bollard::Docker;
use bollard::errors::Error as DockerError;
use tonic::Status;

pub use infrakit_docker_engine::{DEFAULT_HOST, EngineArgs, EngineError, http_status, message};

/// How long one engine request may take before it fails (stops use the container's own stop
/// timeout, at most 50 s, within this).
pub const REQUEST_TIMEOUT_SECS: u64 = 120;

/// Connects to the engine and negotiates the API version. Returns the client and a description
/// of the engine (`address, engine version, API version`) for the logs.
pub async fn connect(args: &EngineArgs) -> Result<(Docker, String), EngineError> {
    let (docker, host) = infrakit_docker_engine::connect(args, REQUEST_TIMEOUT_SECS).await?;
    let about = infrakit_docker_engine::describe(&docker, host).await?;
    Ok((docker, about))
}

/// The gRPC status for a failed engine call made while doing `what`.
pub fn status(what: &str, e: &DockerError) -> Status {
    infrakit_docker_engine::status(what, e, "the Docker engine")
}
