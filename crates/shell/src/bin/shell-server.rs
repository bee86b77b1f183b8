//! `shell-server`: the remote shell server of lesson 3.
//!
//! ```text
//! terminal 1$ socklab-passwd --users users.txt alice      # once: choose a password
//! terminal 1$ shell-server --users users.txt               # listening on 127.0.0.1:7022
//! terminal 2$ shell-client --user alice                    # >> ls -l
//! ```
//!
//! Each client logs in, then runs commands with `/bin/sh -c` in its session's
//! directory (starting at `--workdir`), with stdout and stderr streamed back
//! separately and the exit code at the end. It binds 127.0.0.1 unless `--host` says
//! otherwise, and warns loudly then: commands and passwords are not encrypted. To use
//! it from another machine, tunnel it: `ssh -L 7022:127.0.0.1:7022 server-host`.
//! SIGINT or SIGTERM stops it gracefully.

use clap::Parser;
use socklab_auth::args::LoginArgs;
use socklab_auth::Users;
use socklab_net::accept::{ServeOptions, Shutdown};
use socklab_net::socket::{announce, bind_addr, tcp_listener, warn_if_exposed, ListenOptions};
use socklab_proto::Error;
use socklab_shell::{run, ServerConfig};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Remote shell server: runs commands for logged-in users, ssh style, without the encryption.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Users file of `name:$argon2id$…` lines (make it with socklab-passwd).
    #[arg(long, value_name = "FILE")]
    users: PathBuf,
    /// Address to bind. Anything but loopback sends passwords and commands in clear.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free one (the `listening on` line says which).
    #[arg(long, default_value_t = socklab_shell::limits::SHELL_PORT)]
    port: u16,
    /// Directory every session starts in (default: the current directory).
    #[arg(long, value_name = "DIR")]
    workdir: Option<PathBuf>,
    /// Wall-clock limit of one command, in seconds; past it its process group is killed.
    #[arg(long, value_name = "SECS", default_value_t = socklab_shell::limits::COMMAND_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Connections served at once; one more is answered `busy` and closed.
    #[arg(long, default_value_t = socklab_net::limits::MAX_CONNS)]
    max_conns: usize,
    #[command(flatten)]
    login: LoginArgs,
    /// A logged-in session with no command for this many seconds is closed.
    #[arg(long, value_name = "SECS", default_value_t = socklab_net::limits::IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    socklab_net::cli::run_main(|| {
        let users = Users::load(&args.users)?;
        if users.is_empty() {
            return Err(Error::Usage(format!(
                "{} has no users, so nobody could log in; add one with: socklab-passwd --users {} NAME",
                args.users.display(),
                args.users.display()
            )));
        }
        let workdir = match &args.workdir {
            Some(dir) => dir.clone(),
            None => std::env::current_dir()
                .map_err(|e| Error::io("reading the current directory", e))?,
        };
        let workdir = workdir
            .canonicalize()
            .ok()
            .filter(|d| d.is_dir())
            .ok_or_else(|| {
                Error::Usage(format!("--workdir {}: not a directory", workdir.display()))
            })?;
        let config = ServerConfig {
            users,
            workdir,
            command_timeout: Duration::from_secs(args.timeout),
            idle_timeout: Duration::from_secs(args.idle_timeout),
            login: args.login.policy(),
            serve: ServeOptions {
                max_conns: args.max_conns,
                shutdown: Shutdown::on_signals()?,
                ..ServeOptions::default()
            },
        };
        let listener = tcp_listener(bind_addr(&args.host, args.port)?, ListenOptions::default())?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the bound address", e))?;
        warn_if_exposed(addr, "shell-server");
        announce(addr);
        log::info!(
            "{} user(s) may log in; sessions start in {}",
            config.users.len(),
            config.workdir.display()
        );
        run(listener, config)
    })
}
