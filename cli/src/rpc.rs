//! A failed gRPC call, described for people: which plugin, which call, and what it means.

use infrakit_model::Violation;
use std::fmt;
use std::time::Duration;
use tonic::Code;

/// A call to a plugin that failed.
#[derive(Debug)]
pub struct RpcError {
    /// The plugin (its lookup name).
    pub plugin: String,
    /// The call, e.g. `Instance/Provision`.
    pub call: &'static str,
    /// The timeout the call had.
    pub timeout: Duration,
    /// What the plugin (or the transport) answered.
    pub status: tonic::Status,
}

/// What kind of failure a status is, for the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The connection broke or the plugin went away.
    Stopped,
    /// The deadline passed.
    Timeout,
    /// The plugin refused the input.
    Invalid,
    /// The plugin does not serve this call.
    Unimplemented,
    /// Anything else the plugin answered.
    Other,
}

// === impl RpcError ===

impl RpcError {
    /// The kind of failure.
    pub fn failure(&self) -> Failure {
        classify(&self.status)
    }

    /// The field violations the plugin attached (`google.rpc.BadRequest`), if any.
    pub fn violations(&self) -> Vec<Violation> {
        if self.status.code() == Code::InvalidArgument {
            infrakit_runtime::status::violations_of(&self.status)
        } else {
            Vec::new()
        }
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (plugin, call, msg) = (&self.plugin, self.call, self.status.message());
        match self.failure() {
            Failure::Stopped => write!(
                f,
                "plugin {plugin:?} stopped answering ({call}: {})",
                detail(&self.status)
            ),
            Failure::Timeout => write!(
                f,
                "plugin {plugin:?} did not answer {call} within {:?} (raise --timeout if it is just slow)",
                self.timeout
            ),
            Failure::Invalid => write!(f, "plugin {plugin:?} refused the input: {msg}"),
            Failure::Unimplemented => write!(
                f,
                "plugin {plugin:?} does not implement {call} (see `ikctl plugin info {plugin}` for what it serves)"
            ),
            Failure::Other => match self.status.code() {
                Code::NotFound => write!(f, "plugin {plugin:?}: {msg}"),
                code => write!(
                    f,
                    "plugin {plugin:?} failed {call}: {} ({})",
                    nonempty(msg),
                    code_name(code)
                ),
            },
        }
    }
}

impl std::error::Error for RpcError {}

/// Classifies a status. Transport failures surface as `UNAVAILABLE`, or as `UNKNOWN`,
/// `CANCELLED` or `INTERNAL` with a connection error for a message (e.g. a reset mid-call).
pub fn classify(status: &tonic::Status) -> Failure {
    match status.code() {
        Code::Unavailable => Failure::Stopped,
        Code::DeadlineExceeded => Failure::Timeout,
        // tonic enforces `grpc-timeout` on the client too, and reports it as CANCELLED.
        Code::Cancelled if is_client_timeout(status) => Failure::Timeout,
        Code::InvalidArgument => Failure::Invalid,
        Code::Unimplemented => Failure::Unimplemented,
        Code::Unknown | Code::Cancelled | Code::Internal if looks_like_transport(status) => {
            Failure::Stopped
        }
        _ => Failure::Other,
    }
}

fn is_client_timeout(status: &tonic::Status) -> bool {
    let expired = tonic::TimeoutExpired(()).to_string();
    if status.message() == expired {
        return true;
    }
    let mut cur = std::error::Error::source(status);
    while let Some(c) = cur {
        if c.downcast_ref::<tonic::TimeoutExpired>().is_some() {
            return true;
        }
        cur = c.source();
    }
    false
}

fn looks_like_transport(status: &tonic::Status) -> bool {
    const MARKERS: [&str; 8] = [
        "transport error",
        "connection",
        "broken pipe",
        "reset",
        "h2 protocol error",
        "error reading a body",
        "operation was canceled",
        "stream closed",
    ];
    let msg = detail(status).to_lowercase();
    MARKERS.iter().any(|m| msg.contains(m))
}

/// The status message with its transport cause, if any.
fn detail(status: &tonic::Status) -> String {
    let head = nonempty(status.message());
    match std::error::Error::source(status) {
        Some(cause) => {
            let rest = infrakit_runtime::dial::error_chain(cause);
            if head.contains(&rest) {
                head.to_string()
            } else {
                format!("{head}: {rest}")
            }
        }
        None => head.to_string(),
    }
}

fn nonempty(msg: &str) -> &str {
    if msg.is_empty() { "no message" } else { msg }
}

fn code_name(code: Code) -> String {
    // `Code`'s Debug is CamelCase (`FailedPrecondition`); gRPC documents SCREAMING_SNAKE.
    let mut out = String::new();
    for (i, ch) in format!("{code:?}").chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: tonic::Status) -> RpcError {
        RpcError {
            plugin: "instance-file".into(),
            call: "Instance/Provision",
            timeout: Duration::from_secs(15),
            status,
        }
    }

    #[test]
    fn unavailable_says_the_plugin_stopped_answering() {
        let e = err(tonic::Status::unavailable(
            "error trying to connect: connection refused",
        ));
        assert_eq!(e.failure(), Failure::Stopped);
        assert!(
            e.to_string().starts_with(
                "plugin \"instance-file\" stopped answering (Instance/Provision: error trying"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_reset_reported_as_unknown_is_a_stopped_plugin() {
        let e = err(tonic::Status::unknown("transport error"));
        assert_eq!(e.failure(), Failure::Stopped);
        let e = err(tonic::Status::unknown("the plugin's own bug"));
        assert_eq!(e.failure(), Failure::Other);
        assert!(
            e.to_string()
                .contains("failed Instance/Provision: the plugin's own bug (UNKNOWN)"),
            "{e}"
        );
    }

    #[test]
    fn deadline_names_the_timeout() {
        let e = err(tonic::Status::deadline_exceeded("Timeout expired"));
        assert!(
            e.to_string()
                .contains("did not answer Instance/Provision within 15s"),
            "{e}"
        );
    }

    #[test]
    fn a_client_side_timeout_is_a_timeout_not_a_crash() {
        let e = err(tonic::Status::cancelled("Timeout expired"));
        assert_eq!(e.failure(), Failure::Timeout);
        let e = err(tonic::Status::cancelled("the operation was canceled"));
        assert_eq!(e.failure(), Failure::Stopped);
    }

    #[test]
    fn not_found_passes_the_plugin_message_through() {
        let e = err(tonic::Status::not_found("no instance \"i-9\""));
        assert_eq!(
            e.to_string(),
            "plugin \"instance-file\": no instance \"i-9\""
        );
    }

    #[test]
    fn code_names_are_grpc_style() {
        assert_eq!(code_name(Code::FailedPrecondition), "FAILED_PRECONDITION");
        assert_eq!(code_name(Code::Internal), "INTERNAL");
    }
}
