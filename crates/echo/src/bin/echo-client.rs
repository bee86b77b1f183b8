//! `echo-client`: the TCP echo client of lesson 1.
//!
//! ```text
//! terminal 1$ echo-server
//! terminal 2$ echo-client                       # a >> prompt
//! >> hello
//! hello
//! terminal 2$ echo-client < big.bin > out.bin   # pipe mode: byte-exact at any size
//! ```
//!
//! When stdin is a terminal it shows a `>> ` prompt; otherwise it streams stdin to the
//! server and the echo to stdout at the same time.

use clap::Parser;
use socklab_echo::client::{pipe, prompt};
use socklab_echo::{EchoStream, Target};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// TCP echo client: a `>> ` prompt on a terminal, pipe mode otherwise.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Server name or address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = socklab_echo::limits::ECHO_PORT)]
    port: u16,
    /// Connect to an AF_UNIX socket at this path instead of TCP.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port"])]
    unix: Option<PathBuf>,
    /// Seconds to wait for the connection.
    #[arg(long, value_name = "SECS", default_value_t = socklab_net::limits::CONNECT_TIMEOUT.as_secs_f64())]
    connect_timeout: f64,
    /// Show the `>> ` prompt even when stdin is not a terminal.
    #[arg(long, conflicts_with = "pipe")]
    prompt: bool,
    /// Pipe mode even when stdin is a terminal.
    #[arg(long)]
    pipe: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    socklab_net::cli::run_main(|| {
        let target = match &args.unix {
            Some(path) => Target::Unix(path.clone()),
            None => Target::Tcp {
                host: args.host.clone(),
                port: args.port,
            },
        };
        let timeout = Duration::try_from_secs_f64(args.connect_timeout)
            .map_err(|e| socklab_proto::Error::Other(format!("--connect-timeout: {e}")))?;
        let conn = EchoStream::open(&target, timeout)?;
        let interactive = args.prompt || (!args.pipe && std::io::stdin().is_terminal());
        let stdout = std::io::stdout();
        // Each arm names the concrete socket type, so the copy loops are monomorphic.
        match (conn, interactive) {
            (EchoStream::Tcp(mut s), true) => {
                prompt(&mut s, std::io::stdin().lock(), stdout.lock())
            }
            (EchoStream::Unix(mut s), true) => {
                prompt(&mut s, std::io::stdin().lock(), stdout.lock())
            }
            (EchoStream::Tcp(s), false) => pipe(s, std::io::stdin(), &mut stdout.lock()).map(drop),
            (EchoStream::Unix(s), false) => pipe(s, std::io::stdin(), &mut stdout.lock()).map(drop),
        }
    })
}
