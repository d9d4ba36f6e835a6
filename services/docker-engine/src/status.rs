//! The engine's error answers as gRPC statuses.

use bollard::errors::Error as DockerError;
use tonic::Status;

/// The HTTP status of an engine error answer, if it was one.
pub fn http_status(e: &DockerError) -> Option<u16> {
    match e {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The engine's message for an error answer, or the error itself (with its causes).
pub fn message(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError { message, .. } => message.trim().to_string(),
        other => infrakit_runtime::dial::error_chain(other),
    }
}

/// The gRPC status for a failed call to `engine` (e.g. `"the Docker engine"`, named when it
/// does not answer) made while doing `what`: 404 is NOT_FOUND, 400 INVALID_ARGUMENT, 409
/// FAILED_PRECONDITION, other answers INTERNAL, and no answer UNAVAILABLE.
pub fn status(what: &str, e: &DockerError, engine: &str) -> Status {
    let msg = format!("{what}: {}", message(e));
    match http_status(e) {
        Some(404) => Status::not_found(msg),
        Some(400) => Status::invalid_argument(msg),
        Some(409) => Status::failed_precondition(msg),
        Some(_) => {
            tracing::warn!(error = %msg, "the Docker engine refused a request");
            Status::internal(msg)
        }
        None => {
            tracing::warn!(error = %msg, "the Docker engine is unreachable");
            Status::unavailable(format!("{msg} (is {engine} running?)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn answer(code: u16) -> DockerError {
        DockerError::DockerResponseServerError {
            status_code: code,
            message: " no such container: x\n".into(),
        }
    }

    #[test]
    fn engine_answers_map_to_grpc_codes() {
        let st = status("destroy", &answer(404), "the Docker engine");
        assert_eq!(st.code(), Code::NotFound);
        assert_eq!(st.message(), "destroy: no such container: x");
        for (code, want) in [
            (400, Code::InvalidArgument),
            (409, Code::FailedPrecondition),
            (500, Code::Internal),
            (503, Code::Internal),
        ] {
            assert_eq!(status("x", &answer(code), "e").code(), want, "{code}");
        }
    }

    #[test]
    fn no_answer_is_unavailable_and_names_the_engine() {
        let st = status(
            "x",
            &DockerError::RequestTimeoutError,
            "the swarm manager's engine",
        );
        assert_eq!(st.code(), Code::Unavailable);
        assert!(
            st.message()
                .ends_with("(is the swarm manager's engine running?)"),
            "{}",
            st.message()
        );
        assert_eq!(http_status(&DockerError::RequestTimeoutError), None);
        assert_eq!(http_status(&answer(409)), Some(409));
    }
}
