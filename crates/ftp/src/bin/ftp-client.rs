//! `ftp-client`: the file client of lesson 4.
//!
//! ```text
//! terminal 1$ ftp-server --root ./files --users users.txt
//! terminal 2$ ftp-client --user alice put notes.txt          # one command, then exit
//! terminal 2$ ftp-client --user alice get notes.txt -o copy.txt
//! terminal 2$ ftp-client --user alice                         # an `ftp> ` prompt
//! ```
//!
//! The password comes from `--password-file`, `SOCKLAB_PASSWORD`, or a prompt.
//! `--anonymous` skips login on a server started with `--anonymous`. `--tls` (or
//! `--fingerprint`, `--ca`, `--accept-new`) connects over TLS. It exits 0 on
//! success and 1 with `error: …` on failure. The prompt edits lines on a terminal
//! (history, Tab completion of remote paths); fed a script it stops at the first
//! failing command unless `--keep-going`.
//!
//! Its flags, and what it does with them, are in `socklab_ftp::cli`.

use socklab_ftp::cli::ClientArgs;
use std::process::ExitCode;

fn main() -> ExitCode {
    socklab_net::cli::parse::<ClientArgs>().run()
}
