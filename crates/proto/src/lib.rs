//! # socklab-proto: the wire
//!
//! What the framed lessons (remote shell, file transfer) put on a TCP connection, and
//! nothing else: no sockets, threads, terminals, password hashing or argument parsing.
//!
//! - [`frame`]: `u32` big-endian length + payload, the fix for 粘包 (sticky packets);
//! - [`msg`]: a JSON header in a frame, typed [`Request`]s and `{"ok":…}` replies;
//! - [`error`]: the one error type, and the wire [`ErrorCode`]s;
//! - [`names`]: file names from the network, one safe component or nothing;
//! - [`checksum`]: md5 hashed while bytes stream, for the trailer of a transfer;
//! - [`limits`]: the lengths the wire allows, each checked before allocating.
//!
//! The sockets that carry these messages are `socklab-net`'s job; `docs/protocol.md`
//! draws every message byte by byte.

pub mod checksum;
pub mod error;
pub mod frame;
pub mod limits;
pub mod msg;
pub mod names;

pub use error::{Error, ErrorCode, Result};
pub use msg::Request;
