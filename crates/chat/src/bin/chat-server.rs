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
use socklab_chat::args::ServerArgs;
use std::process::ExitCode;

/// The two-terminal commands `--help` ends with.
const EXAMPLES: &str = "\
Examples:
  terminal 1$ chat-server                        # listening on 127.0.0.1:7009
  terminal 2$ chat-client --nick alice
  terminal 3$ nc -u 127.0.0.1 7009               # type: /nick bob, then hello";

/// UDP group chat server: relays each member's datagrams to the other members.
#[derive(Debug, Parser)]
#[command(name = "chat-server", version = socklab_net::cli::VERSION, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
}

fn main() -> ExitCode {
    let cli = socklab_net::cli::parse::<Cli>();
    socklab_net::cli::run_main(|| cli.server.run())
}
