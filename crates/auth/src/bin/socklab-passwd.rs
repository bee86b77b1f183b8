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
use socklab_auth::Users;
use std::path::PathBuf;
use std::process::ExitCode;

/// Add a user to a socklab users file, or change their password.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The users file (created, mode 0600, if missing).
    #[arg(long, value_name = "FILE")]
    users: PathBuf,
    /// The user name: 1 to 32 of A-Z a-z 0-9 . _ -
    name: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    socklab_net::cli::run_main(|| {
        let password = socklab_auth::password::new_password(&args.name)?;
        // Say whether this added a user or replaced a password: a typo in the name would
        // otherwise add a second user silently, and a replaced password matters too.
        let replaced = Users::set_password(&args.users, &args.name, &password)?;
        let what = if replaced {
            "changed the password of"
        } else {
            "added"
        };
        eprintln!("{what} user {} in {}", args.name, args.users.display());
        // The servers read the users file once, at start (see docs/security.md).
        eprintln!("a running shell-server or ftp-server sees this once it is restarted");
        Ok(())
    })
}
