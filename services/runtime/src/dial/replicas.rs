//! Failing over between the replicas of one plugin name.
//!
//! Several processes may serve one name (group controllers sharing their groups through etcd
//! each register as `group`), and any of them answers any call. Discovery lists them best first;
//! [`connect_first`] connects to them in that order and returns the first connection that is
//! established. This is the one place where a name's replicas are tried in turn: every client
//! that reaches a plugin by name (`ikctl`, the group controller) goes through [`super::dial`].
//!
//! Only connection establishment moves on to the next replica. Nothing has been sent to a
//! replica whose connection failed, so trying another is safe for every call, including those
//! that are not idempotent (Provision, Destroy). A call that fails on an established connection
//! is the caller's to handle: it may have reached the server, and only the caller knows whether
//! repeating it is safe. (A caller that caches channels drops the failed one and dials again,
//! which lands on the next replica once discovery ranks the dead one last.)

use super::{DialError, DialOptions, connect};
use crate::listen::ListenAddr;
use std::fmt;
use tonic::transport::Channel;

/// One endpoint a plugin can be reached at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replica {
    /// Where it listens.
    pub endpoint: ListenAddr,
    /// Whether the endpoint needs TLS.
    pub tls: bool,
}

/// A replica that could not be connected to, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tried {
    /// The endpoint dialled.
    pub endpoint: String,
    /// Why it failed, in words.
    pub cause: String,
}

impl fmt::Display for Tried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.endpoint, self.cause)
    }
}

/// Connects to the first of `replicas` (tried in order) that accepts a connection. A refused or
/// timed-out connection moves on to the next; an error that every replica would hit the same
/// way (a TLS file that cannot be read) is returned at once. When every replica failed, the
/// error names each endpoint with its cause; a plugin with one endpoint gets that endpoint's
/// own error, as before replicas existed.
pub(super) async fn connect_first(
    name: &str,
    replicas: &[Replica],
    opts: &DialOptions,
) -> Result<(Replica, Channel), DialError> {
    let mut tried = Vec::new();
    let mut last = None;
    for r in replicas {
        match connect(&r.endpoint, r.tls, opts).await {
            Ok(ch) => {
                if !tried.is_empty() {
                    tracing::info!(plugin = name, endpoint = %r.endpoint, skipped = %list(&tried), "reached a replica after others failed");
                }
                return Ok((r.clone(), ch));
            }
            Err(DialError::Connect { endpoint, cause }) => {
                tracing::debug!(plugin = name, %endpoint, %cause, "replica unreachable; trying the next");
                tried.push(Tried {
                    endpoint: endpoint.clone(),
                    cause: cause.clone(),
                });
                last = Some(DialError::Connect { endpoint, cause });
            }
            Err(other) => return Err(other),
        }
    }
    match (tried.len(), last) {
        (1, Some(only)) => Err(only),
        _ => Err(DialError::NoReplica {
            name: name.to_string(),
            tried,
        }),
    }
}

/// `a (cause); b (cause)`.
pub(super) fn list(tried: &[Tried]) -> String {
    tried
        .iter()
        .map(Tried::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests;
