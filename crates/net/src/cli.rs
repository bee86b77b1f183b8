//! What every binary does the same way: logging, and `error: …` with a non-zero exit.

use socklab_proto::Result;
use std::process::ExitCode;

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
