//! The echo lesson's limits and defaults, each with the flag that changes it.

/// The echo lesson's default TCP port.
pub const ECHO_PORT: u16 = 7007;

use std::time::Duration;

/// The longest spin `--busy-poll-us` accepts: beyond a few hundred µs, spinning no
/// longer saves a wake-up, it only burns the core.
pub const MAX_BUSY_POLL: Duration = Duration::from_millis(10);
