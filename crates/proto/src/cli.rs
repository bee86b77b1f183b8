//! What every binary does the same way: logging, and `error: …` with a non-zero exit.

use crate::auth::LoginPolicy;
use crate::error::Result;
use std::process::ExitCode;
use std::time::Duration;

/// The login flags every server with login shares (shell, ftp): flatten them into a
/// binary's arguments with `#[command(flatten)]`, then call [`LoginArgs::policy`].
#[derive(Debug, Clone, clap::Args)]
pub struct LoginArgs {
    /// Close a connection that has not logged in within this many seconds (a total
    /// deadline from connect, not an idle timer).
    #[arg(long, value_name = "SECS", default_value_t = crate::LOGIN_DEADLINE.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub login_timeout: u64,
    /// Delay before answering a failed login, in milliseconds. For tests only: the
    /// delay is what makes guessing passwords slow.
    #[arg(long, hide = true, value_name = "MS",
          default_value_t = crate::LOGIN_FAILURE_DELAY.as_millis() as u64)]
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

/// Logs to stderr through `env_logger`: level `info` unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    let env = env_logger::Env::default().default_filter_or("info");
    // `try_init`: a second call (tests driving several servers) is harmless.
    let _ = env_logger::Builder::from_env(env)
        .format_timestamp_millis()
        .target(env_logger::Target::Stderr)
        .try_init();
}

/// Runs a binary's body: prints `error: MESSAGE` on stderr and exits 1 on failure.
pub fn run_main(body: impl FnOnce() -> Result<()>) -> ExitCode {
    init_logging();
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
