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
//! `--tls` speaks TLS 1.3 and checks the server's certificate like ssh: the
//! known-hosts file, `--fingerprint SHA256:…` or `--ca FILE`.
//!
//! When stdin is a terminal it shows a `>> ` prompt with line editing (Up/Down
//! history, Ctrl-R, kept in `$XDG_STATE_HOME/socklab/echo-client_history`; Ctrl-C clears
//! the line, Ctrl-D leaves); otherwise it streams stdin to the server and the echo to
//! stdout at the same time. `--prompt` reads a script of lines instead: it stops with
//! `error: …` and a non-zero exit if the server goes away before the last echo.

use clap::Parser;
use socklab_echo::launch::{client_main, ClientFlags};
use std::path::PathBuf;
use std::process::ExitCode;

/// The two-terminal commands `--help` ends with.
const EXAMPLES: &str = "\
Examples:
  terminal 1$ echo-server                        # listening on 127.0.0.1:7007
  terminal 2$ echo-client                        # a >> prompt: each line comes back
  terminal 2$ echo-client < big.bin > out.bin    # pipe mode: byte-exact at any size";

/// TCP echo client: a `>> ` prompt on a terminal, pipe mode otherwise.
#[derive(Debug, Parser)]
#[command(name = "echo-client", version = socklab_net::cli::VERSION, after_help = EXAMPLES)]
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
    /// Speak TLS 1.3, trusting the server by --fingerprint, --ca, or the known-hosts file.
    #[arg(long)]
    tls: bool,
    /// Trust exactly the certificate with this fingerprint (implies --tls).
    #[arg(long, value_name = "SHA256:…")]
    fingerprint: Option<String>,
    /// Trust certificates signed by these CAs (PEM), for --host (implies --tls).
    #[arg(long, value_name = "FILE", conflicts_with = "fingerprint")]
    ca: Option<PathBuf>,
    /// Trust a server not yet in the known-hosts file, and add it (implies --tls).
    #[arg(long, conflicts_with_all = ["fingerprint", "ca"])]
    accept_new: bool,
}

fn main() -> ExitCode {
    let args = socklab_net::cli::parse::<Args>();
    socklab_net::cli::run_main(|| {
        client_main(ClientFlags {
            host: args.host,
            port: args.port,
            unix: args.unix,
            connect_timeout_secs: args.connect_timeout,
            prompt: args.prompt,
            pipe: args.pipe,
            tls: args.tls,
            fingerprint: args.fingerprint,
            ca: args.ca,
            accept_new: args.accept_new,
        })
    })
}
