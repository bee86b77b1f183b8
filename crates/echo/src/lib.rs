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
//! Read it in the lesson's order (docs/lessons/01-tcp-echo.md):
//!
//! 1. [`server`]: `accept` in [`server::run`], then `read` and `write_all` until the
//!    client closes, a thread per client;
//! 2. [`client`]: `connect`, then the `>> ` prompt or pipe mode.
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
//! [`tls`] (`--tls`, lesson 5) runs the same echo inside a TLS 1.3 session.
//!
//! Then the advanced parts, each behind a flag:
//!
//! - [`event_loop`] (`--event-loop`): every client from one thread with non-blocking
//!   sockets and `epoll`, the `select()` lesson the tutorials end with;
//! - [`busy_poll`] (`--busy-poll-us`, off by default): spin briefly for a
//!   connection's next message instead of sleeping, trading CPU for wake-up latency;
//! - [`splice`] (`--splice`): zero copy, socket → pipe → socket with `splice(2)`.
//!
//! [`launch`] is what the two binaries do once their flags are parsed; [`limits`]
//! holds the lesson's defaults.
//!
//! The echo byte stream has no framing: it is the one lesson where the server never
//! needs to know where a message ends. `examples/sticky.rs` shows why every other
//! lesson does.

// The lesson, in its order (one comment per module keeps rustfmt from sorting them).
// 1. The server: accept, read, write_all.
pub mod server;
// 2. The client: connect, then the prompt or pipe mode.
pub mod client;

// Lesson 5: the same echo inside TLS (`--tls`).
pub mod tls;

// The advanced parts, each behind a flag.
// `--event-loop`: one thread and epoll.
pub mod event_loop;
// `--busy-poll-us`: spin instead of sleeping.
pub mod busy_poll;
// `--splice`: the bytes never enter the process.
pub mod splice;

// What the binaries run, and the lesson's defaults.
pub mod launch;
pub mod limits;

pub use client::{EchoStream, Target};
pub use server::{run, ServerConfig};
