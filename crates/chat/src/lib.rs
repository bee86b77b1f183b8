//! # socklab-chat: lesson 2, UDP group chat
//!
//! A group chat over one UDP socket: every member sends datagrams to the server, and
//! the server relays each message to the other members. Run it in three terminals:
//!
//! ```text
//! terminal 1$ make chat-server                       # listening on 127.0.0.1:7009
//! terminal 2$ make chat-client ARGS="--nick alice"
//! terminal 3$ make chat-client ARGS="--nick bob"     # or: nc -u 127.0.0.1 7009
//! ```
//!
//! One datagram is one message, plain UTF-8 text, so `nc -u` and `socat - UDP:…` can
//! take part as well as `chat-client` (see [`protocol`] for the lines and commands).
//!
//! What the tutorial's UDP chat got wrong, and what this one does instead:
//!
//! - Its server answered only whoever sent the last datagram, and its `input()`
//!   blocked everything else; here the server keeps a table of members keyed by
//!   address and relays to all of them, and the client sends and receives on two
//!   threads.
//! - `recvfrom(1024)` silently cut longer datagrams; here the buffer holds any datagram
//!   (65,536 bytes), truncation is detected ([`batch::recv_datagram`]), and a message
//!   over `--max-message` is refused with an error line, never relayed cut.
//! - Bytes that are not UTF-8 crashed `decode()`; here they show as U+FFFD.
//! - Nothing limited who or how much; here members, rate and message size are capped,
//!   silent members expire, and a stranger never gets a reply larger than what it sent
//!   (UDP source addresses can be forged: see `docs/security.md`); beyond loopback a
//!   new address joins only by echoing a cookie ([`cookie`]), and nicks that look alike
//!   are one nick.
//!
//! UDP keeps message boundaries (no 粘包: two sends are two receives), but it may lose,
//! duplicate or reorder datagrams, and the chat does not hide that: it is a lesson in
//! what a datagram socket gives you, not a reliable messenger.
//!
//! The library holds everything, the flags included ([`args`]); the binaries in
//! `src/bin/` parse them and call `run`.

pub mod args;
pub mod batch;
pub mod client;
pub mod cookie;
mod join;
pub mod limits;
pub mod protocol;
mod room;
mod roster;
pub mod server;
mod signals;

pub use client::ClientConfig;
pub use protocol::Filter;
pub use server::{run, ServerConfig};
