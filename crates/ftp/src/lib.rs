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
//! - `store`: the served root: single-component names, symlinks confined to the
//!   root, uploads written aside and published atomically, resumable partials;
//! - [`server`]: the session (login, then list/stat/get/put);
//! - `transfer`: moving a body while hashing it, on two threads;
//! - [`client`]: the client's side: the protocol calls, the local side of a download,
//!   the commands and the prompt;
//! - [`cli`]: the two binaries' flags and what they do with them.
//!
//! Both ends hash while they stream: the md5 rides in a trailer after the body, so
//! no sender reads a whole file to learn its checksum before it can start sending.
//! A receiving end copies the
//! body with `transfer::copy_hashed` and a sending end with
//! `transfer::send_file_hashed` (`sendfile(2)`); both hash on a second thread, so the
//! hashing overlaps the moving of the bytes instead of adding to it.

pub mod cli;
pub mod client;
pub mod limits;
pub mod paths;
pub mod request;
pub mod server;
mod store;
mod transfer;
pub mod wire;

pub use client::{ClientConfig, Session};
pub use server::{prepare, run, Prepared, ServerConfig};
