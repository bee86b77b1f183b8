//! `echo-server`: the TCP echo server of lesson 1.
//!
//! ```text
//! terminal 1$ echo-server --port 7007          # listening on 127.0.0.1:7007
//! terminal 2$ printf 'hello\n' | nc -N 127.0.0.1 7007
//! hello
//! ```
//!
//! `--upper` uppercases ASCII as the tutorial's server did, `--unix PATH` serves an
//! AF_UNIX socket instead, `--iterative` serves one client at a time to show what the
//! backlog is for, `--event-loop` serves every client from one thread with epoll,
//! `--splice` echoes with splice(2) so the bytes never enter the process.
//! `--tls` serves TLS 1.3 with a self-signed certificate kept in `--state-dir` (or
//! `--cert`/`--key`), and prints `fingerprint SHA256:…` as its second line.
//! SIGINT or SIGTERM stops it gracefully.

use clap::Parser;
use socklab_echo::launch::{server_main, ServerFlags};
use std::path::PathBuf;
use std::process::ExitCode;

/// The two-terminal commands `--help` ends with.
const EXAMPLES: &str = "\
Examples:
  terminal 1$ echo-server                        # listening on 127.0.0.1:7007
  terminal 2$ echo-client                        # >> hello  ->  hello
  terminal 2$ printf 'hello\\n' | nc -N 127.0.0.1 7007";

/// TCP echo server: sends back every byte it receives.
#[derive(Debug, Parser)]
#[command(name = "echo-server", version = socklab_net::cli::VERSION, after_help = EXAMPLES)]
struct Args {
    /// Address to bind: 127.0.0.1 (this machine only), 0.0.0.0 (IPv4 LAN) or :: (dual stack).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free one (the `listening on` line says which).
    #[arg(long, default_value_t = socklab_echo::limits::ECHO_PORT)]
    port: u16,
    /// Serve an AF_UNIX stream socket at this path instead of TCP.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port"])]
    unix: Option<PathBuf>,
    /// Uppercase ASCII letters in the echo, as the tutorial's server did.
    #[arg(long)]
    upper: bool,
    /// Connections served at once; one more is closed at once and logged.
    #[arg(long, default_value_t = socklab_net::limits::MAX_CONNS)]
    max_conns: usize,
    /// Connections served at once from one IP address; one more is refused. Default:
    /// an eighth of --max-conns for every address but loopback; given, for every
    /// address.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_conns_per_ip: Option<u64>,
    /// listen(2) backlog: handshakes the kernel queues before accept takes them.
    #[arg(long, default_value_t = socklab_net::limits::DEFAULT_BACKLOG)]
    backlog: i32,
    /// Serve one client at a time, as the tutorial did; others wait in the backlog.
    #[arg(long, conflicts_with = "event_loop")]
    iterative: bool,
    /// Serve every client from one thread with non-blocking sockets and epoll.
    #[arg(long)]
    event_loop: bool,
    /// Close a connection idle (or not reading) for this many seconds; 0 = never.
    #[arg(long, value_name = "SECS", default_value_t = socklab_net::limits::IDLE_TIMEOUT.as_secs())]
    idle_timeout: u64,
    /// After each reply, spin this many µs (at most 10000) for the connection's next
    /// message before sleeping in read: cuts a round trip's wake-up cost for up to
    /// one core of CPU (lesson 1 has the trade-off). 0, the default, never spins.
    #[arg(
        long,
        value_name = "MICROS",
        default_value_t = 0,
        value_parser = clap::value_parser!(u64).range(0..=socklab_echo::limits::MAX_BUSY_POLL.as_micros() as u64)
    )]
    busy_poll_us: u64,
    /// Zero copy: move the bytes socket → pipe → socket with splice(2), so they never
    /// enter this process (lesson 1, "Zero copy"). Threaded mode only; not with
    /// --upper, which must see the bytes to change them, nor --tls, --event-loop or
    /// --busy-poll-us.
    #[arg(long)]
    splice: bool,
    /// Do not set SO_REUSEADDR, to see "Address already in use" after a restart.
    #[arg(long)]
    no_reuse_addr: bool,
    /// Speak TLS 1.3 only (plain otherwise, wherever it binds). Prints a second line,
    /// `fingerprint SHA256:…`, for clients to check.
    #[arg(long)]
    tls: bool,
    /// The certificate chain, PEM (implies --tls; needs --key).
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The certificate's private key, PEM.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Where the self-signed certificate is made on first start and kept.
    #[arg(long, value_name = "DIR", default_value = ".socklab/tls/echo-server")]
    state_dir: PathBuf,
    /// Seconds a client has to finish the TLS handshake.
    #[arg(long, value_name = "SECS", default_value_t = socklab_net::limits::HANDSHAKE_TIMEOUT.as_secs())]
    handshake_timeout: u64,
}

fn main() -> ExitCode {
    let args = socklab_net::cli::parse::<Args>();
    socklab_net::cli::run_main(|| {
        server_main(ServerFlags {
            host: args.host,
            port: args.port,
            unix: args.unix,
            upper: args.upper,
            max_conns: args.max_conns,
            max_conns_per_ip: args.max_conns_per_ip.map(|n| n as usize),
            backlog: args.backlog,
            iterative: args.iterative,
            event_loop: args.event_loop,
            idle_timeout_secs: args.idle_timeout,
            busy_poll_us: args.busy_poll_us,
            reuse_addr: !args.no_reuse_addr,
            tls: args.tls,
            cert_key: args.cert.zip(args.key),
            state_dir: Some(args.state_dir),
            handshake_timeout_secs: args.handshake_timeout,
            splice: args.splice,
        })
    })
}
