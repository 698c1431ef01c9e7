//! The one place domain errors become gRPC statuses.

use tonic::{Code, Status};

use crate::error::Error;

/// The status a domain error is sent as.
pub fn status(e: Error) -> Status {
    {
        let code = match &e {
            Error::InvalidArgument { .. } => Code::InvalidArgument,
            Error::NotFound { .. } => Code::NotFound,
            Error::AlreadyExists { .. } => Code::AlreadyExists,
            Error::FailedPrecondition(_) => Code::FailedPrecondition,
            Error::Aborted(_) => Code::Aborted,
            Error::Unauthenticated(_) => Code::Unauthenticated,
            Error::PermissionDenied(_) => Code::PermissionDenied,
            Error::Unavailable(_) => Code::Unavailable,
            Error::DeadlineExceeded(_) => Code::DeadlineExceeded,
            Error::Internal(_) => Code::Internal,
            Error::Remote { code, .. } => Code::from_i32(*code),
        };
        Status::new(code, bounded(e.to_string()))
    }
}

/// The longest status message sent. Refusals quote inputs shortly
/// ([`crate::error::quote`]); this bound backs that up, because gRPC
/// clients reject oversized metadata and would never see the error.
pub const MAX_STATUS_MESSAGE: usize = 1024;

fn bounded(mut message: String) -> String {
    if message.len() > MAX_STATUS_MESSAGE {
        let mut cut = MAX_STATUS_MESSAGE - '…'.len_utf8();
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    message
}

/// A status from the routing node, kept as it was for the client.
pub fn from_remote(status: &Status) -> Error {
    Error::Remote {
        code: status.code() as i32,
        message: status.message().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_message_is_cut_on_a_character_boundary() {
        let status = super::status(Error::Internal("é".repeat(2000)));
        assert!(status.message().len() <= MAX_STATUS_MESSAGE);
        assert!(status.message().ends_with('…'));
        let short = super::status(Error::Internal("short".into()));
        assert_eq!(short.message(), "internal error: short");
    }
}
