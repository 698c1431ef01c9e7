//! The domain's error type. Every fallible public operation returns it; the
//! gRPC layer maps it to a status in exactly one place (`status::status` in the
//! server), and the adapters' own errors (the store's, the media plane's)
//! convert into it where they are defined.

use crate::acd::RouteError;

/// gRPC's UNAVAILABLE code, as a forwarded [`Error::Remote`] carries it
/// (the core does not depend on the gRPC crates).
pub const GRPC_UNAVAILABLE: i32 = 14;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request itself is wrong; `field` names the offending field.
    #[error("{field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    #[error("{what} {} not found", quote(id))]
    NotFound { what: &'static str, id: String },
    #[error("{what} {} already exists", quote(id))]
    AlreadyExists { what: &'static str, id: String },
    /// The request is well formed but the system is not in a state to apply it.
    #[error("{0}")]
    FailedPrecondition(String),
    /// Lost a race with a concurrent change; retrying may succeed.
    #[error("{0}")]
    Aborted(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    /// A dependency (the store, the engine) cannot serve right now.
    #[error("{0}")]
    Unavailable(String),
    /// The client's deadline passed before the work could start; it was
    /// not carried out.
    #[error("{0}")]
    DeadlineExceeded(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// An error the routing node returned for a forwarded command, passed on
    /// to the client unchanged (gRPC code and message).
    #[error("{message}")]
    Remote { code: i32, message: String },
}

/// How much of a client's value an error message repeats.
pub const QUOTE_CHARS: usize = 32;

/// `value` as an error message may repeat it: whole when short, else its
/// first [`QUOTE_CHARS`] characters and an ellipsis. A refusal never echoes
/// a long input (gRPC clients reject oversized status messages, so the
/// caller would never learn the real error).
pub fn quote(value: &str) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(QUOTE_CHARS) {
        None => value.into(),
        Some((cut, _)) => format!("{}…", &value[..cut]).into(),
    }
}

impl Error {
    /// Whether trying again later may work: this node or the routing node
    /// cannot serve right now (a forwarded UNAVAILABLE counts too).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Unavailable(_) => true,
            Error::Remote { code, .. } => *code == GRPC_UNAVAILABLE,
            _ => false,
        }
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<RouteError> for Error {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::UnknownAgent(id) => Error::NotFound {
                what: "agent",
                id: id.to_string(),
            },
            RouteError::UnknownCall(id) => Error::NotFound {
                what: "call",
                id: id.to_string(),
            },
            RouteError::UnknownQueue(id) => Error::NotFound {
                what: "queue",
                id: id.to_string(),
            },
            RouteError::UnknownSkill(id) => Error::NotFound {
                what: "skill",
                id: id.to_string(),
            },
            RouteError::InvalidProficiency { .. } => Error::invalid("skills.proficiency", e.to_string()),
            RouteError::DuplicateCall(_) => Error::Aborted(e.to_string()),
            RouteError::WrongAgentState { .. }
            | RouteError::NotOffered { .. }
            | RouteError::NotConnected { .. }
            | RouteError::NotWrappingUp { .. }
            | RouteError::NotQueued(_) => Error::FailedPrecondition(e.to_string()),
            RouteError::Config { .. } => Error::Internal(e.to_string()),
        }
    }
}

impl From<crate::case::CaseError> for Error {
    fn from(e: crate::case::CaseError) -> Self {
        use crate::case::CaseError;
        match e {
            CaseError::BadRating(_) => Error::invalid("satisfaction", e.to_string()),
            CaseError::DueInThePast { .. } => Error::invalid("due_unix_ms", e.to_string()),
            CaseError::NoAnswer => Error::invalid("answer", e.to_string()),
            CaseError::Closed(_) | CaseError::WrongStatus { .. } | CaseError::DueNotRunning(_) => {
                Error::FailedPrecondition(e.to_string())
            }
        }
    }
}
