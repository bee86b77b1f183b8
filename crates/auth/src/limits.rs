//! The limits of login, each a named default (`docs/security.md` lists them all).

use std::time::Duration;

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

/// The longest user name.
pub const MAX_USERNAME_LEN: usize = 32;

/// Password hashes computed at once, across all connections: the size of the hashing
/// thread pool. Each argon2id verification holds its whole memory cost (19 MiB with
/// argon2's default parameters) while it runs, so without a cap every client logging
/// in at once would add that much to the server's memory.
pub const MAX_CONCURRENT_HASHES: usize = 4;

/// Login attempts one address may make at once before its attempts are spaced out by
/// [`GUESS_INTERVAL`], across all its connections: the per-connection delay alone let
/// a hundred connections guess a hundred times as fast.
pub const GUESS_BURST: u32 = 5;

/// The spacing of one address's login attempts once its burst is spent: a failed
/// attempt makes the next one from that address wait this long; a success gives its
/// turn back.
pub const GUESS_INTERVAL: Duration = Duration::from_secs(1);

/// The longest an attempt waits for its address's turn; one whose turn is further off
/// is refused at once (`busy`) and the connection closed, rather than holding a thread.
pub const MAX_GUESS_WAIT: Duration = Duration::from_secs(10);

/// Addresses whose turns are remembered at once; past this, those with no debt are
/// forgotten first, then the one due soonest.
pub const MAX_GUESS_ADDRESSES: usize = 4096;
