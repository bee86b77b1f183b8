//! # socklab-ftp
//!
//! Lesson 4, FTP-style file transfer: `ftp-server` serves the files of one directory
//! to logged-in users, `ftp-client` lists, downloads and uploads them.
//!
//! ```text
//! terminal 1$ ftp-server --root ./files --users users.txt     # listening on 127.0.0.1:7021
//! terminal 2$ ftp-client --user alice put report.pdf
//! terminal 2$ ftp-client --user alice ls
//! terminal 2$ ftp-client --user alice get report.pdf -o copy.pdf
//! ```
//!
//! The tutorials sent a JSON header (`filename`, `md5`, `size`) behind a
//! native-endian length, never checked the md5, used the peer's filename as a path
//! and left half-written files behind. Here the protocol is the framed JSON of
//! `socklab_proto::msg` (see `docs/protocol.md`), and:
//!
//! - [`wire`]: the replies and the md5 trailer;
//! - [`store`]: the served root: single-component names, symlinks confined to the
//!   root, uploads written aside and published atomically, resumable partials;
//! - [`server`]: the session (login, then list/stat/get/put);
//! - [`client`]: the client's side, its prompt and its error hints.
//!
//! Both ends hash while they stream: the md5 rides in a trailer after the body, so
//! nobody reads a file twice to learn its checksum first. Every body goes through
//! `socklab_proto::checksum::copy_hashed`, which hashes on a second thread while the
//! first one moves the bytes, so a transfer runs at the speed of md5 alone rather
//! than md5 plus the copying.

pub mod client;
pub mod limits;
pub mod server;
pub mod store;
pub mod transfer;
pub mod wire;

pub use client::{ClientConfig, Command, Session};
pub use server::{prepare, run, Prepared, ServerConfig};
