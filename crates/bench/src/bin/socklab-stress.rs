//! `socklab-stress` (`make stress`): many clients at once against every server,
//! bounded to a few minutes. Each part reports errors, p99 latency and the server's
//! peak RSS, and the run fails on any mismatch, error or lost file.
//!
//! ```text
//! make stress                 # release build, then every part
//! make stress ARGS='--only echo'
//! make stress ARGS='--only login-flood'   # one part: --only matches part names
//! ```

use clap::Parser;
use std::process::ExitCode;

/// Many clients at once against every socklab server.
#[derive(Debug, Parser)]
struct Args {
    /// Only parts whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// Scale every count down by this factor (2 = half the clients), for a quick look.
    #[arg(long, default_value_t = 1)]
    scale: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match socklab_bench::stress::run(args.only.as_deref(), args.scale) {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    }
}
