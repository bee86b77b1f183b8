//! The echo lesson's limits and defaults, with the flag that changes each where there
//! is one.

use std::time::Duration;

/// The echo lesson's default TCP port.
pub const ECHO_PORT: u16 = 7007;

/// The longest spin `--busy-poll-us` accepts: beyond a few hundred µs, spinning no
/// longer saves a wake-up, it only burns the core.
pub const MAX_BUSY_POLL: Duration = Duration::from_millis(10);

/// `--event-loop`: the most bytes read from one connection before its echo must have
/// left (the bound on what a connection that does not read can make the loop hold),
/// and the size of the one read buffer all connections share.
pub const MAX_PENDING: usize = 16 * 1024;
