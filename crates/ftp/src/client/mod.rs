//! The file client: one connection, then `ls`, `stat`, `get` and `put`, as one-shot
//! commands or in a `ftp> ` prompt.
//!
//! - [`Session`] (`session.rs`): the protocol calls, one request and its reply each;
//! - `download.rs`: the local side of a `get`. Downloads land in `PATH.socklab-part`
//!   next to the target, are hashed as they are written, and are renamed into place
//!   only after the trailer's md5 matches; an interrupted one stays there for
//!   `get --resume`. The target is never replaced unless `--overwrite` says so;
//! - `commands.rs`: the commands a user types and what each prints;
//! - `upload.rs`: the client's side of a `put`;
//! - `tree.rs`: `get -r`, and what a tree copy shares; `tree_put.rs`: `put -r` with
//!   eager puts, many in flight;
//! - `prompt.rs`: the `ftp> ` prompt; `cwd.rs`: its working directories (`cd`, `pwd`,
//!   `lcd`, `lls`); `complete.rs`: what Tab completes there (remote paths through
//!   `list`);
//! - `hints.rs`: the command that continues an interrupted transfer (on a lost
//!   connection, on Ctrl-C), and when `--overwrite` would help;
//! - `display.rs`: what the user sees besides results: names made safe to print,
//!   local times, the progress bar, and each error with what to do about it.

mod commands;
mod complete;
mod cwd;
mod display;
mod download;
mod hints;
mod prompt;
mod session;
mod tree;
mod tree_put;
mod upload;

pub(crate) use commands::{execute, Command};
pub(crate) use display::explain;
pub use download::part_path;
pub(crate) use hints::{on_interrupt, set_command_line};
pub(crate) use prompt::repl;
pub use session::{ClientConfig, Session};
