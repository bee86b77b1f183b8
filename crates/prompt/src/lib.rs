//! # socklab-prompt: reads a command line from a person or from a script
//!
//! Every interactive prompt in socklab (`echo-client`'s `>> `, chat-client's input
//! line, `ftp>`, `shell-client --prompt`) reads its lines through [`Prompt`]:
//!
//! - On a terminal, a line editor ([`rustyline`]): Emacs keys, Up/Down history,
//!   Ctrl-R search, Tab completion ([`Completion`]), no 4095-byte limit (the editor reads
//!   the terminal raw, so the kernel's line buffer never cuts a long line), and a
//!   history file per tool under `$XDG_STATE_HOME/socklab/` ([`history_path`]). Ctrl-C
//!   clears the line ([`Event::Interrupted`]), Ctrl-D on an empty line leaves
//!   ([`Event::Eof`]). A [`Printer`] prints lines above the one being typed.
//! - Off a terminal, plain buffered lines from stdin, so scripts and tests drive the
//!   prompts as before.
//! - [`Prompt::restore_on_sigterm`]: a `kill` while the editor holds the terminal raw
//!   puts the terminal's modes back first (echo-client and ftp-client; chat-client and
//!   shell-client handle SIGTERM themselves).
//!
//! [`script::run`] holds the rule every prompt keeps when it is fed a script: stop at
//! the first failing command (`error: …`, non-zero exit), or go on with
//! `--keep-going`; exit 0 only if every command succeeded.
//!
//! ```text
//! terminal 1$ echo-server
//! terminal 2$ echo-client          # the >> prompt reads through this crate
//! ```
//!
//! Passwords are never read through a [`Prompt`]: they would land in the history file.
//! The tools read them with `rpassword`.

mod complete;
mod editor;
pub mod limits;
mod restore;
pub mod script;

pub use complete::{Completion, Items};
pub use editor::{history_path, Event, Printer, Prompt};
pub use restore::OnSignals;
pub use script::{Failure, Step, Stopped};
