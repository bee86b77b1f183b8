//! `shell-server`: the remote shell server of lesson 3.
//!
//! ```text
//! terminal 1$ socklab-passwd --users users.txt alice      # once: choose a password
//! terminal 1$ shell-server --users users.txt               # listening on 127.0.0.1:7022
//! terminal 2$ shell-client --user alice                    # >> ls -l
//! ```
//!
//! Each client logs in, then runs commands with `/bin/sh -c` in its session's
//! directory (starting at `--workdir`), or a login shell on a pseudo-terminal, with
//! stdin forwarded, stdout and stderr streamed back separately and the exit code at
//! the end. Commands run in a session of their own under a keeper (this binary,
//! started again once per login session, and once per terminal) that leaves nothing
//! running when each ends. It refuses to run as root
//! unless given `--allow-root`. It binds 127.0.0.1 unless `--host` says
//! otherwise, plain there unless `--tls`; on any other address TLS 1.3 is on by
//! default (`--no-tls` turns it off, with a loud warning: commands and passwords then
//! cross the network in clear). With TLS the second stdout line is the certificate's
//! `fingerprint SHA256:…`, kept in `.socklab/tls/shell-server/` beside the users file
//! (`--state-dir`, or `--cert FILE --key FILE`).
//! SIGINT or SIGTERM stops it gracefully.

use clap::Parser;
use socklab_shell::args::ServerArgs;
use std::process::ExitCode;

/// The two-terminal commands `--help` ends with.
const EXAMPLES: &str = "\
Examples:
  terminal 1$ socklab-passwd --users users.txt alice   # once: choose a password
  terminal 1$ shell-server --users users.txt           # listening on 127.0.0.1:7022
  terminal 2$ shell-client --user alice -- uname -a";

/// Remote shell server: runs commands for logged-in users, ssh style, over TLS with --tls.
#[derive(Debug, Parser)]
#[command(name = "shell-server", version = socklab_net::cli::VERSION, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
}

fn main() -> ExitCode {
    // The server runs itself again as each session's keeper (see the keeper modules).
    if let Some(code) = socklab_shell::keeper::main_if_keeper() {
        return code;
    }
    let cli = socklab_net::cli::parse::<Cli>();
    socklab_net::cli::run_main(|| cli.server.run())
}
