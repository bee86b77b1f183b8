//! The chat client: the main thread reads what you type and sends it, a second thread
//! prints what arrives, so neither waits for the other (the tutorial's `input()`
//! blocked all incoming messages until you pressed Enter).
//!
//! On a terminal the input line is a line editor ([`socklab_prompt`]): incoming lines
//! are printed above it and what you are typing is drawn again below them, whole; Tab
//! completes `/commands` and the nicks seen in the chat ([`Roster`]). Fed a script,
//! each line is a message, under the scripting rule of every socklab prompt.

use crate::join::{self, cookie_answer, padded, JOIN_TRIES};
use crate::protocol::{self, PING, PONG};
pub use crate::roster::Roster;
use crate::signals::LeaveOnSignal;
use socklab_prompt::{Failure, Printer, Prompt, Step, Stopped};
use socklab_proto::{Error, Result};
use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the receiving thread wakes to send a heartbeat or notice the end.
const TICK: Duration = Duration::from_millis(200);

/// The input line's prompt on a terminal.
const PROMPT: &str = "> ";

/// How the client runs. Every field has a flag in `chat-client`.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server.
    pub server: SocketAddr,
    /// Join with this nick instead of the address.
    pub nick: Option<String>,
    /// Refuse to send longer messages (the server's `--max-message`).
    pub max_message: usize,
    /// Send `/ping` this often so the server does not expire an idle member.
    pub heartbeat: Duration,
    /// After stdin ends, keep printing incoming messages this long before leaving.
    pub linger: Duration,
    /// When the nick is taken, try `NICK_2`, `NICK_3`… instead of giving up.
    pub nick_fallback: bool,
    /// Fed a script: send the rest after a line the client refuses (`--keep-going`).
    pub keep_going: bool,
    /// Leave with `/quit` on SIGINT, SIGTERM and SIGHUP, then die by that signal. For
    /// a program that is only a chat client: it takes over those signals for the whole
    /// process.
    pub leave_on_signal: bool,
}

impl ClientConfig {
    /// Defaults for `server`.
    pub fn new(server: SocketAddr) -> Self {
        ClientConfig {
            server,
            nick: None,
            max_message: crate::limits::MAX_CHAT_MESSAGE,
            heartbeat: crate::limits::CHAT_HEARTBEAT,
            linger: Duration::ZERO,
            nick_fallback: false,
            keep_going: false,
            leave_on_signal: false,
        }
    }
}
/// A UDP socket `connect`ed to the server. UDP `connect` sends nothing: it fixes the
/// destination of `send`, makes the kernel drop datagrams from anyone else, and lets
/// ICMP "port unreachable" come back as `ECONNREFUSED`, so the client can say that no
/// server is listening.
fn connect(server: SocketAddr) -> Result<UdpSocket> {
    let local: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).map_err(|e| Error::io("binding a UDP socket", e))?;
    socket
        .connect(server)
        .map_err(|e| socklab_net::socket::connect_error(&server.to_string(), e))?;
    Ok(socket)
}

/// Chats through `server` until `input` ends or says `/quit`: lines from `input` are
/// sent; incoming lines are printed above the input line on a terminal, written to
/// `output` otherwise, and taught to `roster`.
pub fn run<W: Write + Send + 'static>(
    config: &ClientConfig,
    input: Prompt,
    output: W,
    roster: &Roster,
) -> Result<()> {
    if let Some(nick) = &config.nick {
        protocol::validate_nick(nick)
            .map_err(|why| Error::Usage(format!("--nick {nick}: {why}")))?;
    }
    let socket = connect(config.server)?;
    // Before the join: from the moment the server may count us in, a signal must not
    // make us vanish without a word.
    let _signals = if config.leave_on_signal {
        Some(LeaveOnSignal::install(&socket)?)
    } else {
        None
    };
    let (answer, nick) = join::join(&socket, config)?;
    let config = &ClientConfig {
        nick,
        ..config.clone()
    };
    let nick = config.nick.as_deref().unwrap_or("your address");
    let mut output = output;
    match answer {
        Some(welcome) => {
            // A retried join without a nick may be answered by the pong alone, if the
            // welcome was lost: joined all the same, with nothing to show.
            if welcome != PONG {
                roster.learn(&welcome);
                let _ = writeln!(output, "{welcome}");
            }
            let keys = if input.on_terminal() {
                "/quit or Ctrl-D leaves, Ctrl-C clears the line, Tab completes"
            } else {
                "/quit or the end of input leaves"
            };
            eprintln!(
                "joined {} as {nick}; type a message, /help lists the commands; {keys}",
                config.server
            );
        }
        None => eprintln!(
            "warning: no answer from {} to {JOIN_TRIES} joins: the server may be down or \
             unreachable; what you type is sent anyway",
            config.server
        ),
    }
    chat(config, &socket, input, output, roster)
}

/// The chat itself, once joined (or given up waiting): sends each line of `input`,
/// prints what arrives on a second thread.
fn chat<W: Write + Send + 'static>(
    config: &ClientConfig,
    socket: &UdpSocket,
    mut input: Prompt,
    output: W,
    roster: &Roster,
) -> Result<()> {
    let screen = match input.printer() {
        Some(printer) => Screen::Above(printer),
        None => Screen::Plain(Box::new(output)),
    };
    let done = Arc::new(AtomicBool::new(false));
    let receiver = {
        let socket = socket
            .try_clone()
            .map_err(|e| Error::io("cloning the UDP socket", e))?;
        let done = Arc::clone(&done);
        let config = config.clone();
        let roster = roster.clone();
        std::thread::Builder::new()
            .name("receive".into())
            .spawn(move || receive(&socket, &config, &done, screen, &roster))
            .map_err(|e| Error::io("starting the receiving thread", e))?
    };
    if input.on_terminal() {
        // Who is here: shown to the person, and the nicks Tab completes.
        send(socket, b"/who")?;
    }

    let mut quit = false;
    let result = socklab_prompt::script::run(&mut input, PROMPT, config.keep_going, |line| {
        let message = protocol::trim_end(line.as_bytes());
        if message.is_empty() {
            return Ok(Step::Next);
        }
        refuse(message, config.max_message).map_err(Failure::Command)?;
        send(socket, message).map_err(Failure::Fatal)?;
        if message == b"/quit" {
            quit = true;
            return Ok(Step::Quit);
        }
        Ok(Step::Next)
    });
    if !quit {
        // Ctrl-D, the end of a script, or a script stopped by a refused line: leave as
        // /quit would, so the others see "left" at once instead of an expiry a minute
        // later.
        send(socket, b"/quit")?;
    }
    std::thread::sleep(config.linger);
    done.store(true, Ordering::SeqCst);
    let _ = receiver.join();
    result.map_err(|stop| match stop {
        Stopped::Fatal(e) => e,
        Stopped::Read(e) => Error::io("reading stdin", e),
        script @ Stopped::Script { .. } => Error::Other(script.to_string()),
    })
}

/// Why the client will not send `message`, if it will not: the mistakes it can see
/// without asking the server. (The server's own `error: …` lines are printed as they
/// come, like any line from it.)
fn refuse(message: &[u8], max: usize) -> std::result::Result<(), String> {
    if message.len() > max {
        return Err(format!(
            "message too long ({} bytes, max {max} bytes); not sent",
            message.len()
        ));
    }
    let text = String::from_utf8_lossy(message);
    match protocol::parse(&text) {
        protocol::Command::Nick(nick) => {
            protocol::validate_nick(&nick).map_err(|why| format!("/nick {nick}: {why}"))
        }
        protocol::Command::Me(action) if action.is_empty() => Err("usage: /me ACTION".into()),
        _ => Ok(()),
    }
}

/// Where the receiving thread shows what arrives.
enum Screen {
    /// Above the line being typed (the line editor draws that line again below).
    Above(Printer),
    /// Plain lines, to a pipe or file; warnings to stderr.
    Plain(Box<dyn Write + Send>),
}

impl Screen {
    /// Shows a line from the server. An error means nobody can see any more.
    fn line(&mut self, line: &str) -> io::Result<()> {
        match self {
            Screen::Above(printer) => printer.print_line(line),
            Screen::Plain(out) => writeln!(out, "{line}").and_then(|()| out.flush()),
        }
    }

    /// Shows a warning of the client's own.
    fn warn(&mut self, warning: &str) {
        match self {
            Screen::Above(printer) => {
                let _ = printer.print_line(&format!("warning: {warning}"));
            }
            Screen::Plain(_) => eprintln!("warning: {warning}"),
        }
    }
}

pub(crate) fn send(socket: &UdpSocket, datagram: &[u8]) -> Result<()> {
    match socket.send(datagram) {
        Ok(_) => Ok(()),
        // An earlier datagram hit a closed port; the receiving thread already said so.
        // The server may come back, and UDP does not mind: keep going.
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
        Err(e) => Err(Error::io("sending a datagram", e)),
    }
}

/// The receiving thread: shows each datagram as a line and sends the heartbeat.
fn receive(
    socket: &UdpSocket,
    config: &ClientConfig,
    done: &AtomicBool,
    mut screen: Screen,
    roster: &Roster,
) {
    if let Err(e) = socket.set_read_timeout(Some(TICK)) {
        screen.warn(&format!(
            "cannot set a receive timeout ({e}); heartbeats may stop"
        ));
    }
    let mut buf = vec![0u8; crate::limits::MAX_DATAGRAM];
    let mut last_ping = Instant::now();
    let mut warned = false;
    while !done.load(Ordering::SeqCst) {
        if last_ping.elapsed() >= config.heartbeat {
            let _ = socket.send(PING.as_bytes());
            last_ping = Instant::now();
        }
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                if !warned {
                    screen.warn(&format!(
                        "nothing listens at {} (ICMP port unreachable): is chat-server running?",
                        config.server
                    ));
                    warned = true;
                }
                continue;
            }
            Err(e) if socklab_net::socket::is_wait_over(&e) => {
                continue; // the tick: time to check the heartbeat and `done`
            }
            Err(e) => {
                if !warned {
                    screen.warn(&format!("receiving from {}: {e}", config.server));
                    warned = true;
                }
                // Do not spin on an error that does not go away.
                std::thread::sleep(TICK);
                continue;
            }
        };
        warned = false;
        let line = protocol::decode(protocol::trim_end(&buf[..n]));
        if line == PONG {
            continue;
        }
        // Expired and back as a stranger: rejoin by answering the cookie ourselves.
        if let Some(reply) = cookie_answer(&line, config.nick.as_deref()) {
            let _ = socket.send(padded(&reply).as_bytes());
            continue;
        }
        roster.learn(&line);
        if screen.line(&line).is_err() {
            // stdout closed (the reader of our pipe left): nothing more to show.
            break;
        }
    }
}
