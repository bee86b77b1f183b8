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
use socklab_proto::auth::Users;
use socklab_proto::{Error, Result};
use std::io::{BufRead, IsTerminal};
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
    socklab_proto::cli::run_main(|| {
        let password = read_password(&args.name)?;
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

fn read_password(name: &str) -> Result<String> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("new password for {name}: "))
            .map_err(|e| Error::Other(format!("reading the password: {e}")))?;
        let again = rpassword::prompt_password("again: ")
            .map_err(|e| Error::Other(format!("reading the password: {e}")))?;
        if first != again {
            return Err(Error::Other(
                "the passwords differ; nothing was changed".into(),
            ));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Error::Other(format!("reading the password from stdin: {e}")))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.is_empty() {
        return Err(Error::Other(
            "the password is empty; nothing was changed".into(),
        ));
    }
    if password.chars().count() < socklab_proto::MIN_PASSWORD_LEN {
        return Err(Error::Other(format!(
            "the password is shorter than {} characters; nothing was changed",
            socklab_proto::MIN_PASSWORD_LEN
        )));
    }
    Ok(password)
}
