//! The group controller's errors, mapped to gRPC status codes only at the service edge.

use infrakit_model::Violations;
use tonic::Status;

/// Why a group operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// No group has this ID.
    #[error("no group {0:?}")]
    NotFound(String),
    /// The spec (or a plugin's Validate) found problems, each at a JSON path.
    #[error("the spec is not valid: {0}")]
    Invalid(Violations),
    /// The operation does not fit the group (e.g. SetSize on pets); the message says what to do.
    #[error("{0}")]
    Precondition(String),
    /// Something the operation needs cannot be reached now (a plugin, the listing).
    #[error("{0}")]
    Unavailable(String),
    /// The change could not be stored; nothing was changed.
    #[error("cannot store group {id:?}: {error}; nothing was changed")]
    Persist {
        /// The group.
        id: String,
        /// Why.
        error: String,
    },
}

impl From<GroupError> for Status {
    fn from(e: GroupError) -> Self {
        match e {
            GroupError::NotFound(_) => Status::not_found(e.to_string()),
            GroupError::Invalid(v) => infrakit_runtime::status::invalid(&v),
            GroupError::Precondition(m) => Status::failed_precondition(m),
            GroupError::Unavailable(m) => Status::unavailable(m),
            GroupError::Persist { .. } => Status::unavailable(e.to_string()),
        }
    }
}
