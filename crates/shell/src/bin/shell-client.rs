//! `shell-client`: the remote shell client of lesson 3, used like ssh.
//!
//! ```text
//! terminal 1$ shell-server --users users.txt                   # listening on 127.0.0.1:7022
//! terminal 2$ shell-client --user alice                        # a >> prompt, like the tutorial
//! terminal 2$ shell-client --user alice -- ls -l 'a b'         # one command, then exit
//! ```
//!
//! The password comes from `--password-file`, else `SOCKLAB_PASSWORD`, else a prompt
//! without echo. One-shot mode prints the command's stdout to stdout and its stderr to
//! stderr, byte for byte, and exits with its exit code (128 + N when signal N killed
//! it, 255 when connecting or logging in failed), as ssh does.

use clap::Parser;
use socklab_auth::password::client_password;
use socklab_shell::client::{join_command, repl, Client};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The exit code for "could not connect or log in", as ssh uses it.
const EXIT_CONNECT_FAILED: u8 = 255;

/// Remote shell client: log in, then run commands interactively or one-shot.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Server host name or address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = socklab_shell::limits::SHELL_PORT)]
    port: u16,
    /// User to log in as.
    #[arg(long, env = "USER")]
    user: String,
    /// Read the password from this file (its first line). Without it the password
    /// comes from SOCKLAB_PASSWORD, else from a prompt without echo.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Seconds to wait for the connection to be accepted.
    #[arg(long, value_name = "SECS", default_value_t = socklab_net::limits::CONNECT_TIMEOUT.as_secs())]
    connect_timeout: u64,
    /// The command to run, after `--`; without one, a `>> ` prompt reads commands.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    socklab_net::cli::init_logging();
    ExitCode::from(run(&args))
}

fn run(args: &Args) -> u8 {
    let prompt = format!("password for {}@{}: ", args.user, args.host);
    let connected = client_password(args.password_file.as_deref(), &prompt).and_then(|password| {
        Client::connect(
            &args.host,
            args.port,
            Duration::from_secs(args.connect_timeout),
            &args.user,
            &password,
        )
    });
    let mut client = match connected {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONNECT_FAILED;
        }
    };
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let result = if args.command.is_empty() {
        let stdin = std::io::stdin();
        let interactive = stdin.is_terminal();
        repl(
            &mut client,
            &mut stdin.lock(),
            &mut out,
            &mut err,
            interactive,
        )
    } else {
        client
            .exec(&join_command(&args.command), &mut out, &mut err)
            .map(|status| {
                if let Some(what) = status.describe() {
                    eprintln!("shell-client: {what}");
                }
                status.local_code()
            })
    };
    match result {
        Ok(code) => code,
        Err(e @ socklab_proto::Error::Remote { .. }) => {
            // The server refused the command itself (`cd nowhere`): a command failure.
            eprintln!("error: {e}");
            1
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_CONNECT_FAILED
        }
    }
}
