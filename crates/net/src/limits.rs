//! The limits every socklab server shares: connections, deadlines, buffers.
//!
//! Each constant is the documented default; where a user may want another value the
//! server has a flag for it (named beside the constant). `docs/security.md` lists
//! them with the limits of the wire (`socklab_proto::limits`), of login
//! (`socklab_auth::limits`) and of each lesson.

use std::time::Duration;

/// Concurrent connections a TCP server serves (`--max-conns`). One more is refused.
pub const MAX_CONNS: usize = 256;

/// Without `--max-conns-per-ip`, one IP address beyond loopback may hold at most
/// `--max-conns` / `PER_IP_SHARE` connections (at least one), so a few idle or slow
/// strangers cannot hold every slot.
pub const PER_IP_SHARE: usize = 8;

/// Connections a TCP server serves at once from one IP address beyond loopback at the
/// default `--max-conns` ([`MAX_CONNS`] / [`PER_IP_SHARE`]).
pub const MAX_CONNS_PER_IP: usize = MAX_CONNS / PER_IP_SHARE;

/// The `listen(2)` backlog: connections the kernel completes and queues before the
/// server calls `accept` (`--backlog`). Linux caps it at `net.core.somaxconn`.
pub const DEFAULT_BACKLOG: i32 = 128;

/// A logged-in session with no request for this long is closed (`--idle-timeout`).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// A transfer that moves no byte for this long is abandoned (`--stall-timeout`).
pub const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// After SIGINT or SIGTERM a server stops accepting and gives the connections in flight
/// this long to finish before it closes them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How often a blocked `accept` wakes up to see whether the server is stopping.
pub const ACCEPT_POLL: Duration = Duration::from_millis(200);

/// Default time a client waits for `connect` to complete.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Size of the buffer each connection copies through. Big enough that loopback copies
/// are not dominated by syscalls, small enough that 1,000 connections stay cheap.
pub const IO_BUFFER: usize = 64 * 1024;

/// How long a TLS handshake may take when nothing else bounds it (echo's
/// `--handshake-timeout`); shell and ftp count it against their login deadline.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest known-hosts file a client reads.
pub const MAX_KNOWN_HOSTS_BYTES: u64 = 1024 * 1024;

/// How long a server reads (and drops) what a refused client still sends before it
/// closes, so the refusal is not destroyed by a reset (see `tls::server`).
pub const CLOSE_LINGER: Duration = Duration::from_millis(500);
