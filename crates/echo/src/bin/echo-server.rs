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
//! backlog is for, `--event-loop` serves every client from one thread with epoll.
//! SIGINT or SIGTERM stops it gracefully.

use clap::Parser;
use socklab_echo::event_loop::{raise_open_file_limit, run_tcp, run_unix};
use socklab_echo::{run, ServerConfig};
use socklab_net::accept::{ServeOptions, Shutdown};
use socklab_net::socket::{announce, bind_addr, tcp_listener, unix_listener, ListenOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// TCP echo server: sends back every byte it receives.
#[derive(Debug, Parser)]
#[command(version)]
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
    /// Do not set SO_REUSEADDR, to see "Address already in use" after a restart.
    #[arg(long)]
    no_reuse_addr: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    socklab_net::cli::run_main(|| {
        let config = ServerConfig {
            upper: args.upper,
            idle_timeout: (args.idle_timeout > 0).then(|| Duration::from_secs(args.idle_timeout)),
            busy_poll: Duration::from_micros(args.busy_poll_us),
            serve: ServeOptions {
                max_conns: args.max_conns,
                iterative: args.iterative,
                shutdown: Shutdown::on_signals()?,
                ..ServeOptions::default()
            },
        };
        let opts = ListenOptions {
            backlog: args.backlog,
            reuse_addr: !args.no_reuse_addr,
        };
        // A socket is a file descriptor: holding --max-conns of them needs the limit.
        // The threaded server holds two per connection (a duplicate is kept so that a
        // stop can cut connections still open after the grace period).
        let per_conn = if args.event_loop { 1 } else { 2 };
        raise_open_file_limit(args.max_conns * per_conn);
        if let Some(path) = &args.unix {
            let listener = unix_listener(path, args.backlog)?;
            announce(path.display());
            let result = if args.event_loop {
                run_unix(listener, config)
            } else {
                run(listener, config)
            };
            let _ = std::fs::remove_file(path);
            result
        } else {
            let listener = tcp_listener(bind_addr(&args.host, args.port)?, opts)?;
            let addr = listener
                .local_addr()
                .map_err(|e| socklab_proto::Error::io("reading the bound address", e))?;
            announce(addr);
            if args.event_loop {
                run_tcp(listener, config)
            } else {
                run(listener, config)
            }
        }
    })
}
