//! # socklab-echo: lesson 1, TCP echo
//!
//! The first socket program of every tutorial: a server that sends back whatever it
//! receives. Run it in two terminals:
//!
//! ```text
//! terminal 1$ make echo-server            # listening on 127.0.0.1:7007
//! terminal 2$ make echo-client            # >> hello   →   hello
//! ```
//!
//! or talk to it with a real peer: `printf 'hello\n' | nc -N 127.0.0.1 7007`.
//!
//! What the tutorials' version got wrong, and what this one does instead:
//!
//! - It served one client at a time; here each connection has a thread, up to
//!   `--max-conns` (`--iterative` brings back the old behaviour to show what the
//!   backlog is for).
//! - Its client called `recv(1024)` once and assumed it got the whole reply; here the
//!   client reads exactly as many bytes as it sent, and pipe mode streams both ways at
//!   once so any size works without deadlock.
//! - A client that sent and never read could make the server buffer without bound;
//!   here each connection copies through one fixed buffer, so a client that does not
//!   read simply stops being read (TCP flow control does the rest).
//!
//! `--event-loop` serves every client from one thread with non-blocking sockets and
//! `epoll` instead (see [`event_loop`]): the `select()` lesson the tutorials end with.
//!
//! The echo byte stream has no framing: it is the one lesson where the server never
//! needs to know where a message ends. `examples/sticky.rs` shows why every other
//! lesson does.

pub mod busy_poll;
pub mod client;
pub mod event_loop;
pub mod limits;
pub mod server;

pub use client::{EchoStream, Target};
pub use server::{run, ServerConfig};
