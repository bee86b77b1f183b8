//! The remote shell's limits and defaults, each with the flag that changes it.

use std::time::Duration;

/// The remote shell's default TCP port.
pub const SHELL_PORT: u16 = 7022;

/// Wall-clock limit of one remote command (`shell-server --timeout`).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
