//! `chat-client`: the UDP group chat client of lesson 2.
//!
//! ```text
//! terminal 1$ chat-server                           # listening on 127.0.0.1:7009
//! terminal 2$ chat-client --nick alice
//! > hello
//! <bob> hi alice
//! ```
//!
//! Incoming messages print above the line you are typing, which stays whole. The input
//! line is a line editor: Up/Down history (kept in `$XDG_STATE_HOME/socklab/`), Ctrl-R,
//! Tab completes `/commands` and nicks; Ctrl-C clears the line; `/quit` or Ctrl-D
//! leaves. `/help` asks the server for its commands. stdin may be a pipe: each line is
//! one message, and a line the client refuses stops the script (`--keep-going` sends the
//! rest) with a non-zero exit.

use clap::Parser;
use socklab_chat::args::ClientArgs;
use std::process::ExitCode;

/// The two-terminal commands `--help` ends with.
const EXAMPLES: &str = "\
Examples:
  terminal 1$ chat-server                        # listening on 127.0.0.1:7009
  terminal 2$ chat-client --nick alice           # type a line to send it; /quit leaves
  terminal 3$ chat-client --nick bob";

/// UDP group chat client: sends what you type, prints what the others say.
#[derive(Debug, Parser)]
#[command(name = "chat-client", version = socklab_net::cli::VERSION, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    client: ClientArgs,
}

fn main() -> ExitCode {
    let cli = socklab_net::cli::parse::<Cli>();
    socklab_net::cli::run_main(|| cli.client.run())
}
