//! The chat client: one thread reads what you type and sends it, another prints what
//! arrives, so neither waits for the other (the tutorial's `input()` blocked all
//! incoming messages until you pressed Enter).

use crate::join::{self, cookie_answer, padded, JOIN_TRIES};
use crate::protocol::{self, PING, PONG};
use socklab_proto::{Error, Result};
use std::io::{self, BufRead, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the receiving thread wakes to send a heartbeat or notice the end.
const TICK: Duration = Duration::from_millis(200);

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
    /// stdin is a terminal: keep a `> ` prompt under incoming lines.
    pub prompt: bool,
    /// The terminal's size (rows, columns), to keep the prompt on the bottom row and
    /// to know how many rows an incoming line takes.
    pub terminal: (usize, usize),
    /// When the nick is taken, try `NICK_2`, `NICK_3`… instead of giving up.
    pub nick_fallback: bool,
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
            prompt: false,
            terminal: (24, 80),
            nick_fallback: false,
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
/// sent, incoming lines are written to `output`.
pub fn run<R: BufRead, W: Write + Send + 'static>(
    config: &ClientConfig,
    input: R,
    output: W,
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
                let _ = writeln!(output, "{welcome}");
            }
            eprintln!(
                "joined {} as {nick}; type a message, /who, /nick NAME, /me ACTION; /quit, Ctrl-D or Ctrl-C leaves",
                config.server
            );
        }
        None => eprintln!(
            "warning: no answer from {} to {JOIN_TRIES} joins: the server may be down or \
             unreachable; what you type is sent anyway",
            config.server
        ),
    }
    chat(config, &socket, input, output)
}

/// The chat itself, once joined (or given up waiting): sends each line of `input`,
/// prints what arrives on a second thread.
fn chat<R: BufRead, W: Write + Send + 'static>(
    config: &ClientConfig,
    socket: &UdpSocket,
    input: R,
    output: W,
) -> Result<()> {
    let done = Arc::new(AtomicBool::new(false));
    let output = Arc::new(Mutex::new(output));
    let receiver = {
        let socket = socket
            .try_clone()
            .map_err(|e| Error::io("cloning the UDP socket", e))?;
        let done = Arc::clone(&done);
        let output = Arc::clone(&output);
        let config = config.clone();
        std::thread::Builder::new()
            .name("receive".into())
            .spawn(move || receive(&socket, &config, &done, &output))
            .map_err(|e| Error::io("starting the receiving thread", e))?
    };
    if config.prompt {
        // Start on the bottom row, as chat programs do: new lines then always appear
        // by scrolling, which is what `above_input` relies on.
        let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
        let _ = write!(out, "{}", "\n".repeat(config.terminal.0.saturating_sub(1)));
        drop(out);
        show_prompt(&output);
    }

    let mut quit = false;
    for line in input.lines() {
        let line = line.map_err(|e| Error::io("reading stdin", e))?;
        let message = protocol::trim_end(line.as_bytes());
        if message.is_empty() {
            if config.prompt {
                show_prompt(&output);
            }
            continue;
        }
        if message.len() > config.max_message {
            eprintln!(
                "error: message too long ({} bytes, max {} bytes); not sent",
                message.len(),
                config.max_message
            );
        } else {
            send(socket, message)?;
            if message == b"/quit" {
                quit = true;
                break;
            }
        }
        if config.prompt {
            show_prompt(&output);
        }
    }
    if !quit {
        // Ctrl-D: leave as /quit would, so the others see "left" at once instead of
        // an expiry a minute later.
        send(socket, b"/quit")?;
    }
    std::thread::sleep(config.linger);
    done.store(true, Ordering::SeqCst);
    let _ = receiver.join();
    Ok(())
}

/// Ctrl-C (SIGINT), SIGTERM or a closed terminal (SIGHUP) would kill the client
/// without a word, and the others would see it leave only when the server expires it a
/// minute later. While this guard lives, a thread waits for those signals instead,
/// sends `/quit` as Ctrl-D would, and then lets the signal kill the process as it would
/// have: a shell loop around the client stops on Ctrl-C only if the child died *by*
/// SIGINT, not if it exited with 130.
///
/// A signal the parent set to be ignored stays ignored (`nohup`, or a background job
/// of a script): that is the parent's decision. Dropping the guard stops the thread;
/// the signals then stay caught but do nothing (signal-hook cannot put the default
/// action back), which is why only a program that is just a chat client should ask
/// for this.
#[derive(Debug)]
struct LeaveOnSignal {
    handle: signal_hook::iterator::Handle,
}

impl LeaveOnSignal {
    /// Starts the thread that leaves through `socket` on a signal.
    fn install(socket: &UdpSocket) -> Result<LeaveOnSignal> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let ignored = ignored_signals();
        let wanted = [SIGINT, SIGTERM, SIGHUP]
            .into_iter()
            .filter(|s| !ignored.contains(s));
        let mut signals = signal_hook::iterator::Signals::new(wanted)
            .map_err(|e| Error::io("installing the SIGINT/SIGTERM/SIGHUP handler", e))?;
        let handle = signals.handle();
        let socket = socket
            .try_clone()
            .map_err(|e| Error::io("cloning the UDP socket", e))?;
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                // `forever` ends when the guard is dropped: the chat ended first.
                if let Some(signal) = signals.forever().next() {
                    let _ = socket.send(b"/quit");
                    // Die by the signal; should that fail, exit as a shell would report it.
                    let _ = signal_hook::low_level::emulate_default_handler(signal);
                    std::process::exit(128 + signal);
                }
            })
            .map_err(|e| Error::io("starting the signal thread", e))?;
        Ok(LeaveOnSignal { handle })
    }
}

impl Drop for LeaveOnSignal {
    fn drop(&mut self) {
        self.handle.close();
    }
}

/// The signals this process was started with set to be ignored, from the `SigIgn`
/// mask in /proc/self/status (bit n-1 is signal n). Empty if it cannot be read.
fn ignored_signals() -> Vec<i32> {
    let mask = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .unwrap_or(0);
    (1..=64).filter(|n| mask & (1 << (n - 1)) != 0).collect()
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

fn show_prompt<W: Write>(output: &Mutex<W>) {
    let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
    let _ = write!(out, "> ");
    let _ = out.flush();
}

/// The receiving thread: prints each datagram as a line and sends the heartbeat.
fn receive<W: Write>(
    socket: &UdpSocket,
    config: &ClientConfig,
    done: &AtomicBool,
    output: &Mutex<W>,
) {
    if let Err(e) = socket.set_read_timeout(Some(TICK)) {
        eprintln!("warning: cannot set a receive timeout ({e}); heartbeats may stop");
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
                    eprintln!(
                        "warning: nothing listens at {} (ICMP port unreachable): is chat-server running?",
                        config.server
                    );
                    warned = true;
                }
                continue;
            }
            Err(e) if socklab_net::socket::is_wait_over(&e) => {
                continue; // the tick: time to check the heartbeat and `done`
            }
            Err(e) => {
                if !warned {
                    eprintln!("warning: receiving from {}: {e}", config.server);
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
        let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
        let written = if config.prompt {
            write!(out, "{}", above_input(&line, config.terminal.1))
        } else {
            writeln!(out, "{line}")
        };
        if written.and_then(|()| out.flush()).is_err() {
            // stdout closed (the reader of our pipe left): nothing more to show.
            break;
        }
    }
}

/// The escape sequences that print `line` above the line being typed, leaving what you
/// typed, and the cursor, where they were. The terminal echoes your typing itself (it
/// is in "cooked" mode), so the client does not know that text and cannot redraw it;
/// instead it makes room above it:
///
/// ```text
/// ESC 7        save the cursor (row r, column c)
/// ESC [k S     scroll the screen up k rows: the typed line moves to row r-k
/// ESC [k A     cursor up k rows, onto the typed line
/// ESC [k L     insert k blank rows there: the typed line moves back down to row r
/// CR line      print the message in the k rows made free
/// ESC 8        restore the cursor to (r, c): the end of what you typed
/// ```
///
/// k is the number of rows the message needs at `columns` wide. A production client
/// would put the terminal in raw mode (rustyline, crossterm) and redraw the input line
/// itself, which also copes with typed text longer than a row and with resizes.
fn above_input(line: &str, columns: usize) -> String {
    // East Asian wide characters take two columns; this rough rule (everything from
    // U+1100 up) over-counts some, which only costs a blank row.
    let width: usize = line
        .chars()
        .map(|c| if u32::from(c) >= 0x1100 { 2 } else { 1 })
        .sum();
    let rows = width.max(1).div_ceil(columns.max(1));
    format!("\x1b7\x1b[{rows}S\x1b[{rows}A\x1b[{rows}L\r{line}\x1b8")
}

/// The terminal's (rows, columns), from `stty size` on our stdin, or (24, 80).
pub(crate) fn terminal_size() -> (usize, usize) {
    std::process::Command::new("stty")
        .arg("size")
        .stdin(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .and_then(|out| {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let mut words = text.split_whitespace().map(str::parse::<usize>);
            match (words.next(), words.next()) {
                (Some(Ok(rows)), Some(Ok(cols))) if rows > 0 && cols > 0 => Some((rows, cols)),
                _ => None,
            }
        })
        .unwrap_or((24, 80))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn above_input_makes_one_row_per_terminal_width_of_text() {
        assert_eq!(above_input("hi", 80), "\x1b7\x1b[1S\x1b[1A\x1b[1L\rhi\x1b8");
        assert!(above_input(&"x".repeat(81), 80).starts_with("\x1b7\x1b[2S\x1b[2A\x1b[2L"));
        // Wide characters count twice: 41 of them need two rows of 80.
        assert!(above_input(&"字".repeat(41), 80).contains("\x1b[2L"));
        assert!(above_input("", 80).contains("\x1b[1L"));
    }
}
