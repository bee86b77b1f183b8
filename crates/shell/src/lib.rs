//! # socklab-shell: lesson 3, login and the remote shell
//!
//! The tutorials' "ssh": a server that runs whatever text arrives and sends back what
//! it printed. Run it in two terminals:
//!
//! ```text
//! terminal 1$ make shell-server           # listening on 127.0.0.1:7022
//! terminal 2$ make shell-client           # >> ls -l
//!             make shell-client ARGS='-- uname -a'   # one command, ssh style
//! ```
//!
//! or, by hand, with a users file made by `socklab-passwd`:
//!
//! ```text
//! terminal 1$ socklab-passwd --users users.txt alice
//! terminal 1$ shell-server --users users.txt
//! terminal 2$ shell-client --user alice -- 'echo out; echo err >&2; exit 3'; echo $?
//! ```
//!
//! What the tutorials' version got wrong, and what this one does instead:
//!
//! - It ran `os.popen(data)` for anyone who connected. Here a client must log in
//!   first (argon2id users file, [`socklab_auth`]), and the server listens on
//!   127.0.0.1 unless told otherwise, warning loudly when it is not.
//! - It glued stderr to stdout and lost the exit code. Here the two streams travel as
//!   separate chunks and the final reply carries the exit code, or the signal, the way
//!   ssh reports them ([`wire`]).
//! - It read the whole output, then sent its length, then the output, and the client
//!   assumed one `recv` got it all. Here output is streamed in framed chunks while the
//!   command runs, so `ping` shows its lines live and a gigabyte never sits in memory.
//! - A command that never ended held the connection forever, and a client that went
//!   away left its command running. Here each command has a wall-clock limit and runs
//!   under a keeper (one per login session for commands on pipes, one per terminal;
//!   [`keeper`]): a new session with no controlling terminal, a child subreaper that
//!   kills everything a command started, however it tried to leave, when the command
//!   ends.
//! - It could not feed a command its input or give it a terminal. Here stdin is
//!   forwarded in frames ([`request`]), and `vi` or a login shell runs on a
//!   pseudo-terminal, the client's own terminal in raw mode meanwhile.
//! - Commands inherited the server's whole environment. Here they get sshd's ([`env`]).
//! - Everything crossed the network in clear. Here `--tls` (the default beyond
//!   loopback) runs the session inside TLS 1.3 ([`tls`]).
//!
//! The library holds everything, the flags included ([`args`]); the binaries in
//! `src/bin/` parse them and call `run`.

pub mod args;
mod cd;
pub mod client;
mod ender;
pub mod env;
mod exec;
pub mod keeper;
pub mod limits;
mod link;
mod orphans;
mod outbox;
mod prompt;
mod pump;
pub mod request;
pub mod server;
mod session_keeper;
mod spawn;
mod streams;
pub mod tls;
mod tty;
pub mod wire;

pub use client::Client;
pub use server::{run, ServerConfig};
pub use wire::{ExitStatus, StreamName};
