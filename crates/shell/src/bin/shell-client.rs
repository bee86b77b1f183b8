//! `shell-client`: the remote shell client of lesson 3, used like ssh.
//!
//! ```text
//! terminal 1$ shell-server --users users.txt                   # listening on 127.0.0.1:7022
//! terminal 2$ shell-client --user alice                        # a login shell on a remote terminal
//! terminal 2$ shell-client --user alice -T                     # a >> prompt, like the tutorial
//! terminal 2$ printf 'make\nmake test\n' | shell-client --user alice -T   # stops at a failure
//! terminal 2$ shell-client --user alice -- ls -l 'a b'         # one command, then exit
//! terminal 2$ tar c src | shell-client --user alice -- tar x   # stdin is forwarded (-n: not)
//! terminal 2$ shell-client --user alice -t -- top              # a command on a remote terminal
//! terminal 2$ shell-client --user alice --tls -- uname -a      # over TLS (known-hosts trust)
//! ```
//!
//! `--tls` trusts the server by the known-hosts file (`--accept-new` adds an unknown
//! one), `--fingerprint SHA256:…` pins it, `--ca FILE` checks a CA chain; each of the
//! last three implies `--tls`. A changed or untrusted certificate exits 255 before
//! anything is sent, as does a plain client reaching a TLS server ("add --tls").
//!
//! The password comes from `--password-file`, else `SOCKLAB_PASSWORD`, else a prompt
//! without echo. One-shot mode prints the command's stdout to stdout and its stderr to
//! stderr, byte for byte, and exits with its exit code (128 + N when signal N killed
//! it, 255 when connecting or logging in failed), as ssh does.
//!
//! At the `>> ` prompt (`-T`) a terminal gets the line editor (history in
//! `$XDG_STATE_HOME/socklab/shell-client_history`, Tab completes `cd`, `exit`, `quit`);
//! a script on stdin stops at its first failing command and exits with its code
//! (`--keep-going` runs the rest, still non-zero); `exit N` exits N.

use clap::Parser;
use socklab_shell::args::ClientArgs;
use std::process::ExitCode;

/// The two-terminal commands `--help` ends with.
const EXAMPLES: &str = "\
Examples:
  terminal 1$ shell-server --users users.txt           # listening on 127.0.0.1:7022
  terminal 2$ shell-client --user alice                # a login shell on a remote terminal
  terminal 2$ shell-client --user alice -- ls -l       # one command, then exit";

/// Remote shell client: log in, then run commands interactively or one-shot.
#[derive(Debug, Parser)]
#[command(name = "shell-client", version = socklab_net::cli::VERSION, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    client: ClientArgs,
}

fn main() -> ExitCode {
    ExitCode::from(socklab_net::cli::parse::<Cli>().client.run())
}
