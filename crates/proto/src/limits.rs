//! Every limit and default in socklab, in one place.
//!
//! Each constant is the documented default; where a user may want another value the
//! server has a flag for it (named beside the constant). `docs/security.md` lists them
//! all. A production system would also make them configurable from a file.

use std::time::Duration;

/// The longest JSON header a peer may send (the `LEN` of a frame). Checked before a
/// single byte of the header is allocated, so a hostile `FF FF FF FF` costs nothing.
pub const MAX_HEADER_LEN: usize = 64 * 1024;

/// The longest chat message, in bytes of UTF-8 (`chat-server --max-message`).
pub const MAX_CHAT_MESSAGE: usize = 2048;

/// The largest datagram UDP can carry over IPv4 or IPv6 without jumbograms; the chat
/// receive buffer is this big so truncation can only mean a hostile or broken peer.
pub const MAX_DATAGRAM: usize = 65_536;

/// Members a chat server holds at once (`chat-server --max-members`); a new address
/// past the cap is not joined.
pub const MAX_CHAT_MEMBERS: usize = 64;

/// Messages per second one chat member may send, on average (`chat-server --rate`).
pub const CHAT_RATE: f64 = 5.0;

/// Messages a chat member may send in a burst above the rate (`chat-server --burst`).
pub const CHAT_BURST: u32 = 10;

/// A chat member silent for longer than this is dropped (`chat-server --expire`): UDP
/// has no connection whose close would say that a member left.
pub const CHAT_EXPIRE: Duration = Duration::from_secs(60);

/// How often an idle `chat-client` sends `/ping` (`--heartbeat`), well inside the
/// server's expiry so that one or two lost heartbeats do not expire it.
pub const CHAT_HEARTBEAT: Duration = Duration::from_secs(15);

/// The longest chat nick, in bytes.
pub const MAX_NICK_LEN: usize = 32;

/// Concurrent connections a TCP server serves (`--max-conns`). One more is refused.
pub const MAX_CONNS: usize = 256;

/// The `listen(2)` backlog: connections the kernel completes and queues before the
/// server calls `accept` (`--backlog`). Linux caps it at `net.core.somaxconn`.
pub const DEFAULT_BACKLOG: i32 = 128;

/// Failed logins a connection may make; the last one closes it.
pub const MAX_LOGIN_FAILURES: u32 = 3;

/// How long a failed login waits before it is answered, to slow password guessing.
pub const LOGIN_FAILURE_DELAY: Duration = Duration::from_secs(1);

/// A connection that has not logged in by then is closed (`--login-timeout`). It is a
/// total deadline from accept, not an idle timer, so a byte every few seconds does not
/// keep a connection open.
pub const LOGIN_DEADLINE: Duration = Duration::from_secs(30);

/// The longest password accepted; a longer one is refused without being hashed, so a
/// peer cannot make the server hash megabytes.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// The shortest password `socklab-passwd` sets. Logins are limited to a few tries per
/// connection, but connections are cheap; a production system would also check new
/// passwords against lists of leaked ones.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Password hashes computed at once, across all connections: the size of the hashing
/// thread pool. Each argon2id verification holds 19 MiB while it runs, so without a cap
/// 256 clients logging in together would make the server allocate almost 5 GiB.
/// Others wait their turn (within their login deadline).
pub const MAX_CONCURRENT_HASHES: usize = 4;

/// A logged-in session with no request for this long is closed (`--idle-timeout`).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// A transfer that moves no byte for this long is abandoned (`--stall-timeout`).
pub const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Wall-clock limit of one remote command (`shell-server --timeout`).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest output chunk the shell server sends in one frame.
pub const MAX_CHUNK: usize = 64 * 1024;

/// The largest file the file server accepts (`ftp-server --max-file-size`).
pub const MAX_FILE_SIZE: u64 = 1 << 40;

/// The longest file name, in bytes, as on most Unix file systems.
pub const MAX_NAME_LEN: usize = 255;

/// After SIGINT or SIGTERM a server stops accepting and gives the connections in flight
/// this long to finish before it closes them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How often a blocked `accept` wakes up to see whether the server is stopping.
pub const ACCEPT_POLL: Duration = Duration::from_millis(200);

/// How long the echo server spins for a connection's next message before it sleeps
/// in `read` (`--busy-poll-us`). Waking a sleeping thread costs tens of µs on a VM,
/// more than a loopback round trip; spinning only right after a reply, by one thread
/// per spare core, buys that back for a bounded slice of CPU.
pub const BUSY_POLL: Duration = Duration::from_micros(100);

/// Default time a client waits for `connect` to complete.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Size of the buffer each connection copies through. Big enough that loopback copies
/// are not dominated by syscalls, small enough that 1,000 connections stay cheap.
pub const IO_BUFFER: usize = 64 * 1024;

/// Default ports of the four lessons.
pub const ECHO_PORT: u16 = 7007;
/// UDP chat.
pub const CHAT_PORT: u16 = 7009;
/// File transfer.
pub const FTP_PORT: u16 = 7021;
/// Remote shell.
pub const SHELL_PORT: u16 = 7022;
