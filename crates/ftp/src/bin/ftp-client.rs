//! `ftp-client`: the file client of lesson 4.
//!
//! ```text
//! terminal 1$ ftp-server --root ./files --users users.txt
//! terminal 2$ ftp-client --user alice put notes.txt          # one command, then exit
//! terminal 2$ ftp-client --user alice get notes.txt -o copy.txt
//! terminal 2$ ftp-client --user alice                         # an `ftp> ` prompt
//! ```
//!
//! The password comes from `--password-file`, `SOCKLAB_PASSWORD`, or a prompt.
//! `--anonymous` skips login on a server started with `--anonymous`. It exits 0 on
//! success and 1 with `error: …` on failure.

use clap::Parser;
use socklab_auth::password::client_password;
use socklab_ftp::client::{explain, repl, run_command};
use socklab_ftp::{ClientConfig, Command, Session};
use socklab_proto::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// File client: ls, stat, get and put against an ftp-server.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Server host name or address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = socklab_ftp::limits::FTP_PORT)]
    port: u16,
    /// User name to log in as (required unless --anonymous).
    #[arg(long, required_unless_present = "anonymous")]
    user: Option<String>,
    /// Read the password from this file (first line); without it, the SOCKLAB_PASSWORD
    /// environment variable, or else a prompt.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Do not log in (the server must allow --anonymous; read-only).
    #[arg(long, conflicts_with_all = ["user", "password_file"])]
    anonymous: bool,
    /// Give up on a transfer that moves no byte for this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = socklab_net::limits::STALL_TIMEOUT.as_secs())]
    timeout: u64,
    /// Never draw a progress bar.
    #[arg(long)]
    no_progress: bool,
    /// A command to run; without one, an `ftp> ` prompt reads commands from stdin.
    #[command(subcommand)]
    command: Option<Command>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    socklab_net::cli::run_main(|| {
        let login = match &args.user {
            Some(user) if !args.anonymous => {
                let password = client_password(
                    args.password_file.as_deref(),
                    &format!("password for {user}: "),
                )?;
                Some((user.clone(), password))
            }
            _ => None,
        };
        let config = ClientConfig {
            host: args.host.clone(),
            port: args.port,
            login,
            connect_timeout: socklab_net::limits::CONNECT_TIMEOUT,
            stall_timeout: Duration::from_secs(args.timeout.max(1)),
            progress: !args.no_progress,
        };
        match &args.command {
            Some(command) => {
                let run = || -> Result<(), Error> {
                    let mut session = Session::connect(&config)?;
                    run_command(&mut session, command, &mut std::io::stdout().lock())
                };
                run().map_err(explain)
            }
            None => repl(&config, &mut std::io::stdin().lock()).map_err(explain),
        }
    })
}
