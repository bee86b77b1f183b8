//! The chat lesson's limits and defaults, each with the flag that changes it.

use std::time::Duration;

/// The chat lesson's default UDP port.
pub const CHAT_PORT: u16 = 7009;

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

/// A stranger (an address that has not echoed its join cookie) never gets a reply
/// larger than this many times the datagram that caused it: QUIC's anti-amplification
/// limit, so a spoofed datagram buys its victim little.
pub const MAX_AMPLIFICATION: usize = 3;

/// Rate buckets the chat server keeps at once: every member's, and those of
/// addresses that left less than `--expire` ago (so that leaving and rejoining does not
/// refill one). Past this, the stalest former member's is forgotten.
pub const MAX_RATE_ENTRIES: usize = 4096;

/// The longest chat nick, in bytes.
pub const MAX_NICK_LEN: usize = 32;
