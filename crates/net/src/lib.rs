//! # socklab-net: the sockets under every lesson
//!
//! Everything between the wire (`socklab-proto`) and a lesson's own logic:
//!
//! - [`socket`]: sockets set up with `socket2` in the order the C API wants them
//!   (`socket()`, `setsockopt()`…, `bind()`, `listen(backlog)`), one function per
//!   option, and connecting like Python's `create_connection`;
//! - [`accept`]: `accept(2)` in a loop, a thread per connection under a cap, and a
//!   graceful stop on SIGINT or SIGTERM;
//! - [`conn`]: [`Connection`], one framed connection with its idle, stall and login
//!   deadlines, so no handler sets a socket timeout by hand;
//! - [`tls`]: TLS 1.3 with rustls for any of these streams: the server's certificate,
//!   the handshake under a deadline, and the client's trust (pin, CA, known hosts);
//! - [`cli`]: what every binary does the same way (logging, `error: …` and the exit
//!   code);
//! - [`limits`]: the limits every server shares.
//!
//! A lesson's server reads top to bottom as the lesson does:
//!
//! ```no_run
//! use socklab_net::{accept, socket};
//! let listener = socket::tcp_listener(socket::bind_addr("127.0.0.1", 0)?, Default::default())?;
//! let stop = accept::Shutdown::on_signals()?;
//! let mut threads = accept::Threads::new(&accept::ServeOptions::default());
//! while let Some((stream, peer)) = accept::accept(&listener, &stop) {
//!     let _ = threads.spawn(stream, &peer, |stream, peer| { /* serve it */ });
//! }
//! # Ok::<(), socklab_proto::Error>(())
//! ```

pub mod accept;
pub mod cli;
pub mod conn;
pub mod limits;
pub mod socket;

pub mod tls;

pub use conn::{Connection, Deadlines, NO_DEADLINE};
