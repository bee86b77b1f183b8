//! The file server's limits and defaults, each with the flag that changes it. The
//! transfer engines' buffer sizes are in `src/transfer/`, beside the engines.

/// The file-transfer lesson's default TCP port.
pub const FTP_PORT: u16 = 7021;

/// The largest file the file server accepts (`ftp-server --max-file-size`).
pub const MAX_FILE_SIZE: u64 = 1 << 40;

use std::time::Duration;

/// How long an interrupted upload is kept for `put --resume` (`--partial-ttl`).
pub const PARTIAL_TTL: Duration = Duration::from_secs(24 * 60 * 60);
