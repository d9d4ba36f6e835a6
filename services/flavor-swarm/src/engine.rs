//! The swarm manager's Docker engine: connecting through [`infrakit_docker_engine`], and its
//! errors as gRPC statuses.

use bollard::Docker;
use bollard::errors::Error as DockerError;
use tonic::Status;

pub use infrakit_docker_engine::{DEFAULT_HOST, EngineArgs, EngineError, http_status, message};

/// How long one engine request may take before it fails.
pub const REQUEST_TIMEOUT_SECS: u64 = 30;

/// The `--docker-host` help: this plugin's engine must be a swarm manager's.
pub const DOCKER_HOST_HELP: &str = "A swarm manager's engine: unix:///path/docker.sock or \
                                    tcp://host:port [default: unix:///var/run/docker.sock]";

/// Connects to the engine and negotiates the API version. Returns the client and the address
/// for messages.
pub async fn connect(args: &EngineArgs) -> Result<(Docker, String), EngineError> {
    infrakit_docker_engine::connect(args, REQUEST_TIMEOUT_SECS).await
}

/// The gRPC status for a failed engine call made while doing `what`.
pub fn status(what: &str, e: &DockerError) -> Status {
    match http_status(e) {
        // 503: "This node is not a swarm manager" and friends.
        Some(503) => Status::failed_precondition(format!("{what}: {}", message(e))),
        _ => infrakit_docker_engine::status(what, e, "the swarm manager's engine"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manager_that_is_not_one_is_a_failed_precondition() {
        let e = |code| DockerError::DockerResponseServerError {
            status_code: code,
            message: "This node is not a swarm manager.".into(),
        };
        assert_eq!(status("x", &e(503)).code(), tonic::Code::FailedPrecondition);
        assert_eq!(status("x", &e(404)).code(), tonic::Code::NotFound);
        assert_eq!(status("x", &e(500)).code(), tonic::Code::Internal);
        let st = status("x", &DockerError::RequestTimeoutError);
        assert_eq!(st.code(), tonic::Code::Unavailable);
        assert!(st.message().contains("swarm manager's engine running?"));
    }
}
