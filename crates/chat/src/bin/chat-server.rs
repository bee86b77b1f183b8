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

/// UDP group chat server: relays each member's datagrams to the other members.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    socklab_net::cli::run_main(|| cli.server.run())
}
