//! The one error type of socklab, and the stable codes that travel on the wire.
//!
//! Messages share one voice: lower case, no final period, saying what happened and,
//! where it helps, what to do. Binaries print them as `error: …`.

use serde::{Deserialize, Serialize};
use std::{fmt, io};

/// Every way a socklab operation can fail.
///
/// Each kind has one path: a refusal this side sends is [`Error::Refused`] (or one of
/// the typed refusals below it), a refusal the peer sent is [`Error::Remote`], a
/// mistake in the local command line or files is [`Error::Usage`], and only what
/// should never happen is [`Error::Other`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system error, with what we were doing when it happened.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing, e.g. "connecting to 127.0.0.1:7007".
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The peer announced a header longer than [`crate::limits::MAX_HEADER_LEN`].
    #[error("header of {len} bytes is longer than the limit of {max} bytes")]
    HeaderTooLarge {
        /// The length the peer sent.
        len: u64,
        /// The limit it broke.
        max: usize,
    },

    /// The connection closed in the middle of a frame, body or trailer.
    #[error("connection closed in the middle of {0}")]
    UnexpectedEof(&'static str),

    /// A header that is not valid UTF-8 JSON, not an object, or has missing or mistyped
    /// fields, or an unknown `op`.
    #[error("malformed header: {0}")]
    BadHeader(String),

    /// A request this side refuses, with the wire code the peer receives
    /// (`bad_request`, `not_found`, `exists`, `busy`, `too_large`, `forbidden`, …) and a
    /// sentence for people. The stream is still in step: the session may go on.
    #[error("{message}")]
    Refused {
        /// The stable machine word the peer receives.
        code: ErrorCode,
        /// The sentence for people.
        message: String,
    },

    /// A name that is not a single, printable path component.
    #[error("invalid file name {name}: {reason}")]
    InvalidName {
        /// The name, escaped so it is safe to print.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// The md5 computed while streaming differs from the one the sender announced.
    #[error("checksum mismatch: expected md5 {expected}, received data has md5 {actual}")]
    ChecksumMismatch {
        /// What the sender said.
        expected: String,
        /// What arrived.
        actual: String,
    },

    /// Wrong user name or password (never says which).
    #[error("invalid username or password")]
    AuthFailed,

    /// A request other than login before login.
    #[error("log in first")]
    AuthRequired,

    /// A deadline passed. Made where the deadline is known (see [`Error::under_deadline`]).
    #[error("timed out {0}")]
    Timeout(String),

    /// The peer answered `{"ok":false,…}`.
    #[error("{message} ({code})")]
    Remote {
        /// The stable machine word.
        code: ErrorCode,
        /// The server's sentence for people.
        message: String,
    },

    /// A mistake the user can fix on this side: a flag, a missing or malformed local
    /// file, a server configured so that nobody could log in. Never sent to a peer.
    #[error("{0}")]
    Usage(String),

    /// What should never happen (a thread that panicked, a value that cannot be
    /// encoded): a bug, answered `internal` if a peer is waiting.
    #[error("{0}")]
    Other(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with what we were doing.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// A refusal with code `bad_request`: a well-formed request that is not allowed
    /// (a bad argument, the wrong state).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::refused(ErrorCode::BadRequest, message)
    }

    /// A refusal with `code` and a sentence for people.
    pub fn refused(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::Refused {
            code,
            message: message.into(),
        }
    }

    /// This error, read as the result of a call made under a deadline: an I/O error
    /// that says a socket timeout passed (`EAGAIN` from `SO_RCVTIMEO`/`SO_SNDTIMEO`,
    /// which std calls `WouldBlock`, or `ETIMEDOUT`) becomes [`Error::Timeout`] with
    /// the same context. Only the caller knows a timeout was set, so only it may say
    /// so: `result.map_err(Error::under_deadline)`.
    pub fn under_deadline(self) -> Self {
        match self {
            Error::Io { context, source }
                if matches!(
                    source.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Error::Timeout(context)
            }
            other => other,
        }
    }

    /// The wire code a server answers this error with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::HeaderTooLarge { .. } | Error::BadHeader(_) | Error::UnexpectedEof(_) => {
                ErrorCode::BadRequest
            }
            Error::InvalidName { .. } => ErrorCode::InvalidName,
            Error::ChecksumMismatch { .. } => ErrorCode::ChecksumMismatch,
            Error::AuthFailed => ErrorCode::AuthFailed,
            Error::AuthRequired => ErrorCode::AuthRequired,
            Error::Timeout(_) => ErrorCode::Timeout,
            Error::Remote { code, .. } | Error::Refused { code, .. } => *code,
            Error::Io { .. } | Error::Usage(_) | Error::Other(_) => ErrorCode::Internal,
        }
    }

    /// True when this error means the peer went away or stopped talking, so there is
    /// nobody left to answer.
    pub fn is_disconnect(&self) -> bool {
        match self {
            Error::UnexpectedEof(_) | Error::Timeout(_) => true,
            Error::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::UnexpectedEof
            ),
            _ => false,
        }
    }
}

/// The stable machine words of `{"ok":false,"code":…}` replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed header, wrong type, missing field, unknown op, bad body length.
    BadRequest,
    /// Anything but login before login.
    AuthRequired,
    /// Wrong user or password.
    AuthFailed,
    /// No such file.
    NotFound,
    /// The name is taken and overwrite was not asked for.
    Exists,
    /// Not a single printable path component.
    InvalidName,
    /// Over a size limit.
    TooLarge,
    /// The md5 trailer does not match the data.
    ChecksumMismatch,
    /// A deadline passed.
    Timeout,
    /// The server is at its connection cap, or the name is being written by another.
    Busy,
    /// The operation is not allowed here (read-only server, anonymous user).
    Forbidden,
    /// The server failed; its log says why.
    Internal,
    /// The server requires TLS and the client connected without it.
    TlsRequired,
    /// A code this version does not know (sent by a newer peer).
    #[serde(other)]
    Unknown,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The wire spelling, so messages and logs match what a packet capture shows.
        let word = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "unknown".into());
        f.write_str(&word)
    }
}
