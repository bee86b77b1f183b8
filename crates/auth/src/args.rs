//! The login flags every server with login shares (shell, ftp), and the flags of
//! `socklab-passwd` with what it does with them.

use crate::limits::{LOGIN_DEADLINE, LOGIN_FAILURE_DELAY};
use crate::login::LoginPolicy;
use crate::password::new_password;
use crate::users::Users;
use socklab_proto::Result;
use std::path::PathBuf;
use std::time::Duration;

/// Flatten into a binary's arguments with `#[command(flatten)]`, then call
/// [`LoginArgs::policy`].
#[derive(Debug, Clone, clap::Args)]
pub struct LoginArgs {
    /// Close a connection that has not logged in within this many seconds (a total
    /// deadline from connect, not an idle timer).
    #[arg(long, value_name = "SECS", default_value_t = LOGIN_DEADLINE.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub login_timeout: u64,
    /// Delay before answering a failed login, in milliseconds. For tests only: the
    /// delay is what makes guessing passwords slow.
    #[arg(long, hide = true, value_name = "MS",
          default_value_t = LOGIN_FAILURE_DELAY.as_millis() as u64)]
    pub login_delay_ms: u64,
}

impl LoginArgs {
    /// The login policy these flags describe.
    pub fn policy(&self) -> LoginPolicy {
        LoginPolicy {
            deadline: Duration::from_secs(self.login_timeout),
            failure_delay: Duration::from_millis(self.login_delay_ms),
            ..LoginPolicy::default()
        }
    }
}

/// `socklab-passwd`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct PasswdArgs {
    /// The users file (created, mode 0600, if missing).
    #[arg(long, value_name = "FILE")]
    users: PathBuf,
    /// The user name: 1 to 32 of A-Z a-z 0-9 . _ -
    name: String,
}

impl PasswdArgs {
    /// Reads a new password and sets it for the user, saying whether that added the
    /// user or changed their password: a typo in the name would otherwise add a second
    /// user silently, and a replaced password matters too.
    pub fn run(&self) -> Result<()> {
        let password = new_password(&self.name)?;
        let replaced = Users::set_password(&self.users, &self.name, &password)?;
        let what = if replaced {
            "changed the password of"
        } else {
            "added"
        };
        eprintln!("{what} user {} in {}", self.name, self.users.display());
        // The servers read the users file once, at start (see docs/security.md).
        eprintln!("a running shell-server or ftp-server sees this once it is restarted");
        Ok(())
    }
}
