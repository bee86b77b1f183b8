//! # socklab-proto
//!
//! What every socklab lesson shares:
//!
//! - [`frame`]: `u32` big-endian length + payload, the fix for 粘包 (sticky packets);
//! - [`msg`]: a JSON header in a frame, typed [`Request`]s and `{"ok":…}` replies;
//! - [`net`]: sockets set up with `socket2`, one function per option (`SO_REUSEADDR`,
//!   `IPV6_V6ONLY`, `listen(backlog)`, …), and connecting with a timeout;
//! - [`server`]: the thread-per-connection accept loop with a cap and a graceful stop;
//! - [`auth`]: the argon2id users file and login;
//! - [`checksum`]: md5 hashed while bytes stream: `Read`/`Write` adaptors, and
//!   `copy_hashed`, which hashes on a second thread while the first moves the bytes;
//! - [`names`]: file names from the network, one safe component or nothing;
//! - [`deadline`]: a total deadline on a stream, not just an idle timer;
//! - [`Error`]: the one error type, and the wire [`ErrorCode`]s;
//! - [`limits`]: every limit and default, named.
//!
//! It has one binary, `socklab-passwd`, which adds a user to a users file:
//!
//! ```text
//! cargo run -p socklab-proto --bin socklab-passwd -- --users users.txt alice
//! ```

pub mod auth;
pub mod checksum;
pub mod cli;
pub mod deadline;
pub mod error;
pub mod frame;
pub mod limits;
pub mod msg;
pub mod names;
pub mod net;
pub mod server;

pub use error::{Error, ErrorCode, Result};
pub use limits::*;
pub use msg::Request;
