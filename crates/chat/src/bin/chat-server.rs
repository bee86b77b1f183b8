//! `chat-server`: the UDP group chat server of lesson 2.
//!
//! ```text
//! terminal 1$ chat-server --port 7009               # listening on 127.0.0.1:7009
//! terminal 2$ chat-client --port 7009 --nick alice
//! terminal 3$ nc -u 127.0.0.1 7009                  # type: /nick bob, then hello
//! ```
//!
//! Lines typed on the server's own stdin are broadcast as `[server] …`. SIGINT or
//! SIGTERM stops it (exit 0) after telling the members.

use clap::Parser;
use socklab_chat::{parse_secs, run, Filter, ServerConfig};
use socklab_net::accept::Shutdown;
use socklab_net::socket::{announce, bind_addr, udp_socket, warn_if_exposed};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// UDP group chat server: relays each member's datagrams to the other members.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to bind: 127.0.0.1 (this machine only), 0.0.0.0 (IPv4 LAN) or :: (dual stack).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free one (the `listening on` line says which).
    #[arg(long, default_value_t = socklab_chat::limits::CHAT_PORT)]
    port: u16,
    /// The longest message, in bytes; longer ones get `error: message too long`.
    #[arg(long, value_name = "BYTES", default_value_t = socklab_chat::limits::MAX_CHAT_MESSAGE)]
    max_message: usize,
    /// Members at once; a new address past the cap is not joined.
    #[arg(long, value_name = "N", default_value_t = socklab_chat::limits::MAX_CHAT_MEMBERS)]
    max_members: usize,
    /// Messages per second each member may send, on average.
    #[arg(long, value_name = "PER_SEC", default_value_t = socklab_chat::limits::CHAT_RATE)]
    rate: f64,
    /// Messages a member may send at once above the rate.
    #[arg(long, value_name = "N", default_value_t = socklab_chat::limits::CHAT_BURST)]
    burst: u32,
    /// Drop members silent for longer than this many seconds (clients send /ping).
    #[arg(long, value_name = "SECS", value_parser = parse_secs,
          default_value = "60")]
    expire: Duration,
    /// Mask the words listed in FILE (one a line, # comments), case-insensitively.
    #[arg(long, value_name = "FILE")]
    filter: Option<PathBuf>,
    /// Do not broadcast lines typed on stdin.
    #[arg(long)]
    no_console: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    socklab_net::cli::run_main(|| {
        if args.max_message == 0 || args.max_message > socklab_chat::limits::MAX_DATAGRAM - 100 {
            return Err(socklab_proto::Error::Other(format!(
                "--max-message must be between 1 and {} bytes",
                socklab_chat::limits::MAX_DATAGRAM - 100
            )));
        }
        if !args.rate.is_finite() || args.rate <= 0.0 {
            return Err(socklab_proto::Error::Other(
                "--rate must be a number above 0".into(),
            ));
        }
        if args.expire.is_zero() || args.max_members == 0 || args.burst == 0 {
            return Err(socklab_proto::Error::Other(
                "--expire, --max-members and --burst must be above 0".into(),
            ));
        }
        let filter = match &args.filter {
            Some(path) => Filter::load(path)?,
            None => Filter::none(),
        };
        let config = ServerConfig {
            max_message: args.max_message,
            max_members: args.max_members,
            rate: args.rate,
            burst: args.burst,
            expire: args.expire,
            filter,
            console: !args.no_console,
            shutdown: Shutdown::on_signals()?,
            ..ServerConfig::default()
        };
        let socket = udp_socket(bind_addr(&args.host, args.port)?)?;
        let addr = socket
            .local_addr()
            .map_err(|e| socklab_proto::Error::io("reading the bound address", e))?;
        announce(addr);
        // No login and no encryption: anyone who can reach the port can read and speak.
        warn_if_exposed(addr, "chat-server");
        run(socket, config)
    })
}
