//! What every binary does the same way: its command line ([`parse`]: clap, plus the
//! hidden `--generate` that `make install` uses), its `--version` ([`VERSION`]),
//! logging, and `error: …` with a non-zero exit.

use clap::{Arg, ArgAction, Parser};
use socklab_proto::Result;
use std::io::Write;
use std::process::ExitCode;

/// What `--version` prints after the binary's name: the workspace version, and the git
/// commit when it was built from a checkout (`0.1.0 (git 1a2b3c4d5e6f)`). `build.rs`
/// finds the commit.
pub const VERSION: &str = if GIT_COMMIT.is_empty() {
    env!("CARGO_PKG_VERSION")
} else {
    VERSION_WITH_COMMIT
};

const GIT_COMMIT: &str = env!("SOCKLAB_GIT_COMMIT");
const VERSION_WITH_COMMIT: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("SOCKLAB_GIT_COMMIT"),
    ")"
);

/// What `--generate` can print, each made from the binary's own clap definition.
const GENERATE: [&str; 4] = ["man", "bash", "zsh", "fish"];

/// Parses the command line into `T`, as `T::parse()` does, with one hidden flag more:
/// `--generate man|bash|zsh|fish` prints the binary's man page (roff) or its shell
/// completion script on stdout and exits. `make install` (scripts/install.sh) calls it,
/// so the pages and completions always match the flags the binary really has. The
/// flag is added here, not in each binary's struct, so it appears in neither the
/// help, the man page nor the completions, and stands alone (`exclusive`: no other
/// flag, required ones included, is needed or allowed with it).
pub fn parse<T: Parser>() -> T {
    let generate = Arg::new("socklab-generate")
        .long("generate")
        .value_name("WHAT")
        .value_parser(GENERATE)
        .action(ArgAction::Set)
        .exclusive(true)
        .hide(true);
    let mut cmd = T::command().arg(generate);
    let mut matches = cmd.get_matches_mut();
    if let Some(what) = matches.get_one::<String>("socklab-generate") {
        let code = match generate_to(&mut std::io::stdout().lock(), T::command(), what) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: --generate {what}: {e}");
                1
            }
        };
        std::process::exit(code);
    }
    T::from_arg_matches_mut(&mut matches)
        .map_err(|e| e.format(&mut cmd))
        .unwrap_or_else(|e| e.exit())
}

/// Writes `cmd`'s man page (`man`) or completion script (`bash`, `zsh`, `fish`).
fn generate_to(out: &mut impl Write, mut cmd: clap::Command, what: &str) -> std::io::Result<()> {
    use clap_complete::Shell;
    let shell = match what {
        "man" => return clap_mangen::Man::new(cmd).render(out),
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        "fish" => Shell::Fish,
        other => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("cannot generate {other:?}; one of {GENERATE:?}"),
            ))
        }
    };
    let name = cmd.get_name().to_owned();
    cmd.set_bin_name(&name);
    clap_complete::generate(shell, &mut cmd, name, out);
    Ok(())
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
