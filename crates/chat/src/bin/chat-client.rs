//! `chat-client`: the UDP group chat client of lesson 2.
//!
//! ```text
//! terminal 1$ chat-server                           # listening on 127.0.0.1:7009
//! terminal 2$ chat-client --nick alice
//! > hello
//! <bob> hi alice
//! ```
//!
//! Incoming messages print while you type. `/quit`, Ctrl-D or Ctrl-C leaves; `/who`, `/nick`,
//! `/me` are the server's commands. stdin may be a pipe: each line is one message.

use clap::Parser;
use socklab_chat::{client, parse_secs, ClientConfig};
use socklab_net::socket::resolve;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

/// UDP group chat client: sends what you type, prints what the others say.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The server's host name or address (an IPv6 address such as ::1 works too).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The server's port.
    #[arg(long, default_value_t = socklab_chat::limits::CHAT_PORT)]
    port: u16,
    /// Join with this nick (letters, digits, '-', '_', '.') instead of your address.
    #[arg(long)]
    nick: Option<String>,
    /// Refuse to send messages longer than this many bytes (the server's limit).
    #[arg(long, value_name = "BYTES", default_value_t = socklab_chat::limits::MAX_CHAT_MESSAGE)]
    max_message: usize,
    /// Send a /ping this often (seconds) so that the server does not expire you.
    #[arg(long, value_name = "SECS", value_parser = parse_secs, default_value = "15")]
    heartbeat: Duration,
    /// After stdin ends, keep printing incoming messages for this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_secs, default_value = "0")]
    linger: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    socklab_net::cli::run_main(|| {
        let server = resolve(&args.host, args.port)?
            .into_iter()
            .next()
            .ok_or_else(|| socklab_proto::Error::Other(format!("{} has no address", args.host)))?;
        let stdin = std::io::stdin();
        let config = ClientConfig {
            nick: args.nick.clone(),
            max_message: args.max_message,
            heartbeat: args.heartbeat.max(Duration::from_millis(100)),
            linger: args.linger,
            prompt: stdin.is_terminal(),
            terminal: if stdin.is_terminal() {
                client::terminal_size()
            } else {
                (24, 80)
            },
            leave_on_signal: true,
            ..ClientConfig::new(server)
        };
        client::run(&config, stdin.lock(), std::io::stdout())
    })
}
