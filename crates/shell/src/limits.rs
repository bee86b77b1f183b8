//! The remote shell's limits and defaults, each with the flag that changes it.

use std::time::Duration;

/// The remote shell's default TCP port.
pub const SHELL_PORT: u16 = 7022;

/// Wall-clock limit of one remote command (`shell-server --timeout`).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// After a command's keeper is gone, how long to wait for its output pipes to close.
/// Only a process that escaped the keeper could hold them; it must not hold the
/// session.
pub const KILL_DRAIN: Duration = Duration::from_secs(2);

/// How long a keeper told to stop (SIGTERM) has to kill its tree and exit before the
/// server kills it.
pub const KEEPER_GRACE: Duration = Duration::from_secs(1);

/// Rounds of SIGKILL a keeper (or the server's sweep) makes before giving up on a
/// tree that keeps forking.
pub const MAX_KILL_ROUNDS: usize = 10_000;

/// The largest message from the server to a session keeper: a command (its header is
/// at most 64 KiB) and its environment. It must fit one datagram of a Unix socket.
pub const MAX_JOB_MESSAGE: usize = 160 * 1024;

/// A client that vanishes without a FIN or a reset (its cable pulled, its machine
/// off, a NAT that forgot it) is seen by TCP keepalive: after this long with nothing
/// received, the server's kernel probes it...
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(15);

/// ...every this long...
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);

/// ...and this many unanswered probes end the connection: the session, and any
/// command it runs, end at most `KEEPALIVE_IDLE + KEEPALIVE_PROBES * KEEPALIVE_INTERVAL`
/// after the client's last sign of life.
pub const KEEPALIVE_PROBES: u32 = 3;

/// Output the client has not acknowledged for this long ends the connection
/// (`TCP_USER_TIMEOUT`): the bound while the server is sending, when keepalive does
/// not probe.
pub const UNACKED_DATA_TIMEOUT: Duration = Duration::from_secs(30);
