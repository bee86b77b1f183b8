//! The flags of `chat-server` and `chat-client`, and what each binary does with them.
//!
//! Each binary flattens one of these into its `clap` parser and calls its `run`: the
//! binary holds no logic of its own.

use crate::client::{self, ClientConfig, Roster};
use crate::limits::MAX_DATAGRAM;
use crate::limits::{CHAT_BURST, CHAT_PORT, CHAT_RATE, MAX_CHAT_MEMBERS, MAX_CHAT_MESSAGE};
use crate::protocol::Filter;
use crate::server::{listen_and_run, ServerConfig};
use socklab_net::accept::Shutdown;
use socklab_net::socket::resolve;
use socklab_prompt::Prompt;
use socklab_proto::{Error, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The longest `--max-message`: a message and its nick must fit in one datagram, even
/// once every hidden character is escaped (a 2-byte U+061C becomes the 7 of `\u{61c}`).
const MAX_MESSAGE_FLAG: usize = (MAX_DATAGRAM - 100) / 4;

/// The shortest `--heartbeat` the client keeps to, so that a slip of the finger cannot
/// make it flood the server with pings.
const MIN_HEARTBEAT: Duration = Duration::from_millis(100);

/// `chat-server`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Address to bind: 127.0.0.1 (this machine only), 0.0.0.0 (IPv4 LAN) or :: (dual stack).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free one (the `listening on` line says which).
    #[arg(long, default_value_t = CHAT_PORT)]
    port: u16,
    /// The longest message, in bytes; longer ones get `error: message too long`.
    #[arg(long, value_name = "BYTES", default_value_t = MAX_CHAT_MESSAGE)]
    max_message: usize,
    /// Members at once; a new address past the cap is not joined.
    #[arg(long, value_name = "N", default_value_t = MAX_CHAT_MEMBERS)]
    max_members: usize,
    /// Messages per second each member may send, on average.
    #[arg(long, value_name = "PER_SEC", default_value_t = CHAT_RATE)]
    rate: f64,
    /// Messages a member may send at once above the rate.
    #[arg(long, value_name = "N", default_value_t = CHAT_BURST)]
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
    /// Make a new address echo a cookie before it joins, even on loopback (always on
    /// when bound beyond loopback).
    #[arg(long)]
    verify_join: bool,
}

impl ServerArgs {
    /// Checks the flags and loads the filter (either failing before anything is
    /// bound), then runs the chat until SIGINT or SIGTERM.
    pub fn run(&self) -> Result<()> {
        self.check()?;
        let filter = match &self.filter {
            Some(path) => Filter::load(path)?,
            None => Filter::none(),
        };
        let config = ServerConfig {
            max_message: self.max_message,
            max_members: self.max_members,
            rate: self.rate,
            burst: self.burst,
            expire: self.expire,
            filter,
            console: !self.no_console,
            verify_join: self.verify_join,
            shutdown: Shutdown::on_signals()?,
            ..ServerConfig::default()
        };
        listen_and_run(&self.host, self.port, config)
    }

    /// The limits clap's types cannot say: each above 0, a message within a datagram.
    fn check(&self) -> Result<()> {
        if self.max_message == 0 || self.max_message > MAX_MESSAGE_FLAG {
            return Err(Error::Usage(format!(
                "--max-message must be between 1 and {MAX_MESSAGE_FLAG} bytes"
            )));
        }
        if !self.rate.is_finite() || self.rate <= 0.0 {
            return Err(Error::Usage("--rate must be a number above 0".into()));
        }
        if self.expire.is_zero() || self.max_members == 0 || self.burst == 0 {
            return Err(Error::Usage(
                "--expire, --max-members and --burst must be above 0".into(),
            ));
        }
        Ok(())
    }
}

/// `chat-client`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// The server's host name or address (an IPv6 address such as ::1 works too).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The server's port.
    #[arg(long, default_value_t = CHAT_PORT)]
    port: u16,
    /// Join with this nick (letters, digits, '-', '_', '.') instead of your address.
    #[arg(long)]
    nick: Option<String>,
    /// Refuse to send messages longer than this many bytes (the server's limit).
    #[arg(long, value_name = "BYTES", default_value_t = MAX_CHAT_MESSAGE)]
    max_message: usize,
    /// Send a /ping this often (seconds) so that the server does not expire you.
    #[arg(long, value_name = "SECS", value_parser = parse_secs, default_value = "15")]
    heartbeat: Duration,
    /// If the nick is taken, join as NICK_2, NICK_3… instead of exiting.
    #[arg(long)]
    nick_fallback: bool,
    /// After stdin ends, keep printing incoming messages for this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_secs, default_value = "0")]
    linger: Duration,
    /// Fed a script on stdin: after a line the client refuses (too long, a bad /nick),
    /// send the rest instead of stopping there. The exit status is non-zero either way.
    #[arg(long)]
    keep_going: bool,
}

impl ClientArgs {
    /// Chats through the server from stdin to stdout until stdin ends or says `/quit`;
    /// on a terminal, with a `> ` input line kept under incoming lines.
    pub fn run(&self) -> Result<()> {
        let server = server_addr(&self.host, self.port)?;
        let config = ClientConfig {
            nick: self.nick.clone(),
            max_message: self.max_message,
            heartbeat: self.heartbeat.max(MIN_HEARTBEAT),
            linger: self.linger,
            nick_fallback: self.nick_fallback,
            keep_going: self.keep_going,
            leave_on_signal: true,
            ..ClientConfig::new(server)
        };
        let roster = Roster::new();
        let input = Prompt::stdin("chat-client", Some(roster.completion()))
            .map_err(|e| Error::io("opening the terminal", e))?;
        client::run(&config, input, std::io::stdout(), &roster)
    }
}

/// The server's address: the first one `host:port` resolves to.
fn server_addr(host: &str, port: u16) -> Result<SocketAddr> {
    resolve(host, port)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Usage(format!("{host} has no address")))
}

/// Parses a duration in seconds for a flag: `60`, `0.5`.
fn parse_secs(s: &str) -> std::result::Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{s:?} is not a duration"))
}
