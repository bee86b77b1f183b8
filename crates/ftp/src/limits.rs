//! The file server's limits and defaults, each with the flag that changes it. The
//! transfer engines' buffer sizes are in `src/transfer/`, beside the engines.

/// The file-transfer lesson's default TCP port.
pub const FTP_PORT: u16 = 7021;

/// The largest file the file server accepts (`ftp-server --max-file-size`).
pub const MAX_FILE_SIZE: u64 = 1 << 40;

use std::time::Duration;

/// How long an interrupted upload is kept for `put --resume` (`--partial-ttl`).
pub const PARTIAL_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The most components a remote path may have (`a/b/c` has three). Deeper trees are
/// refused with `invalid_name` on both ends, before any lookup.
pub const MAX_PATH_DEPTH: usize = 64;

/// The longest remote path, in bytes, as Linux's `PATH_MAX` counts them.
pub const MAX_PATH_LEN: usize = 4096;

/// How long `put --resume` waits, retrying, for the server to notice that the
/// interrupted upload's old connection is gone (it answers `busy` until then).
pub const RESUME_BUSY_WAIT: Duration = Duration::from_secs(5);

/// The largest body of an eager put (`"eager":true`: the body follows the request
/// without waiting for a ready reply). A refused eager put's body is read and thrown
/// away to keep the stream in step, so it must be small; a bigger one is
/// `bad_request` and the connection is closed.
pub const MAX_EAGER_PUT: u64 = 1 << 20;

/// How long the server keeps reading, and throwing away, what a client sent after a
/// refused put that it answers by closing: long enough for the refusal to reach the
/// client before the close (closing with unread bytes would send a reset that can
/// destroy the reply in flight), short enough that nobody holds the slot with it.
pub const REFUSED_LINGER: Duration = Duration::from_secs(2);

/// At most this much is read and thrown away in [`REFUSED_LINGER`].
pub const REFUSED_LINGER_BYTES: u64 = 4 << 20;

/// An anonymous session with no request for this long is closed
/// (`--anonymous-idle-timeout`): a stranger gets a shorter wait than a user who
/// logged in (`--idle-timeout`), so idle strangers cannot hold the slots.
pub const ANONYMOUS_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
