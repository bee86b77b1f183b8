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
