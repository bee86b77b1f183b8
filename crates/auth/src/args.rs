//! The login flags every server with login shares (shell, ftp).

use crate::limits::{LOGIN_DEADLINE, LOGIN_FAILURE_DELAY};
use crate::login::LoginPolicy;
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
