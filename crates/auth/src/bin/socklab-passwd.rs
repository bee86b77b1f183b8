//! `socklab-passwd`: add a user to a users file, or change their password.
//!
//! ```text
//! socklab-passwd --users users.txt alice          # asks twice, without echo
//! printf 'long secret\n' | socklab-passwd --users users.txt alice   # from a pipe
//! ```
//!
//! It says whether it added the user or changed their password, and refuses a password
//! shorter than `MIN_PASSWORD_LEN` (8) characters.
//!
//! The file gets one `alice:$argon2id$…` line; no password is ever stored.
//! `shell-server --users users.txt` and `ftp-server --users users.txt` read it.

use clap::Parser;
use socklab_auth::args::PasswdArgs;
use std::process::ExitCode;

/// The two-terminal commands `--help` ends with.
const EXAMPLES: &str = "\
Examples:
  socklab-passwd --users users.txt alice               # asks twice, without echo
  terminal 1$ shell-server --users users.txt           # then log in as alice
  terminal 2$ shell-client --user alice";

/// Add a user to a socklab users file, or change their password.
#[derive(Debug, Parser)]
#[command(name = "socklab-passwd", version = socklab_net::cli::VERSION, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    passwd: PasswdArgs,
}

fn main() -> ExitCode {
    let cli = socklab_net::cli::parse::<Cli>();
    socklab_net::cli::run_main(|| cli.passwd.run())
}
