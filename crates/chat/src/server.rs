//! The chat server: one UDP socket, one loop, a table of members keyed by address.
//!
//! There is no `accept` and no connection per client: every member's datagrams arrive
//! on the same socket, and `recvmmsg` says who sent each one (see [`crate::batch`]). "Joining" is simply the
//! server seeing a new source address; "leaving" is `/quit`, or silence for longer than
//! `--expire`, because UDP has no close that would tell the server a member went away.

use crate::batch::{Outbox, Receiver};
use crate::protocol::{self, Command, Filter, TokenBucket, PONG};
use socklab_net::accept::Shutdown;
use socklab_proto::{Error, Result};
use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead};
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long `recvmmsg` blocks before the loop wakes to expire silent members and to
/// see whether SIGINT/SIGTERM asked it to stop. A production server would sleep in
/// `poll`/`epoll` until the next expiry instead of waking on a fixed tick.
pub const POLL: Duration = socklab_net::limits::ACCEPT_POLL;

/// How a chat server runs. Every field has a flag in `chat-server`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The longest message, in bytes (`--max-message`).
    pub max_message: usize,
    /// Members at once (`--max-members`).
    pub max_members: usize,
    /// Messages per second per member (`--rate`).
    pub rate: f64,
    /// Messages a member may send at once above the rate (`--burst`).
    pub burst: u32,
    /// Members silent for longer than this are dropped (`--expire`).
    pub expire: Duration,
    /// Words to mask (`--filter FILE`).
    pub filter: Filter,
    /// Broadcast lines typed on the server's stdin as `[server] …`.
    pub console: bool,
    /// The receive buffer. [`crate::limits::MAX_DATAGRAM`] holds any UDP datagram;
    /// tests shrink it to show that truncation is detected.
    pub recv_buffer: usize,
    /// Raised to stop the server.
    pub shutdown: Shutdown,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_message: crate::limits::MAX_CHAT_MESSAGE,
            max_members: crate::limits::MAX_CHAT_MEMBERS,
            rate: crate::limits::CHAT_RATE,
            burst: crate::limits::CHAT_BURST,
            expire: crate::limits::CHAT_EXPIRE,
            filter: Filter::none(),
            console: false,
            recv_buffer: crate::limits::MAX_DATAGRAM,
            shutdown: Shutdown::new(),
        }
    }
}

/// Runs the chat on `socket` until `config.shutdown` is raised.
pub fn run(socket: UdpSocket, config: ServerConfig) -> Result<()> {
    socket
        .set_read_timeout(Some(POLL))
        .map_err(|e| Error::io("setting SO_RCVTIMEO on the chat socket", e))?;
    let sender = socket
        .try_clone()
        .map_err(|e| Error::io("cloning the chat socket", e))?;
    log::info!(
        "chat: max {} members, {} bytes a message, {}/s (burst {}) each, expiry after {:?} of silence{}",
        config.max_members,
        config.max_message,
        config.rate,
        config.burst,
        config.expire,
        if config.filter.is_empty() {
            String::new()
        } else {
            format!(", {} filtered words", config.filter.len())
        }
    );
    let shutdown = config.shutdown.clone();
    let recv_buffer = config.recv_buffer.max(1);
    let console = config.console;
    let room = Arc::new(Mutex::new(Room::new(sender, config)));
    if console {
        spawn_console(Arc::clone(&room));
    }

    // Allocated once, at the largest size a datagram can have: a receive buffer sized
    // from what a peer claims would be the TCP lessons' mistake all over again.
    let mut receiver = Receiver::new(recv_buffer);
    while !shutdown.is_triggered() {
        match receiver.recv(&socket) {
            Ok(_) => {
                let now = Instant::now();
                let mut room = lock(&room);
                for (d, data) in receiver.datagrams() {
                    room.handle(d.from, data, d.truncated, now);
                }
            }
            Err(e) if socklab_net::socket::is_wait_over(&e) => {}
            Err(e) => {
                // Nothing a peer sends can make recvmmsg fail for good; log it and
                // go on (after a moment, so a persistent error does not spin a core).
                log::warn!("recvmmsg: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let mut room = lock(&room);
        room.expire(Instant::now());
        // Every reply and copy the batch caused, in one sendmmsg per 64.
        room.flush();
    }
    let mut room = lock(&room);
    room.broadcast(None, "*** the server is shutting down");
    room.flush();
    log::info!("stopped");
    Ok(())
}

fn lock(room: &Mutex<Room>) -> MutexGuard<'_, Room> {
    // A panic while holding the lock would be a bug, but the room is still usable:
    // keep serving rather than poisoning every later datagram.
    room.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads the server's own stdin and broadcasts each line as `[server] …`. EOF (stdin
/// is /dev/null, or closed) just ends this thread; the chat goes on.
fn spawn_console(room: Arc<Mutex<Room>>) {
    let spawned = std::thread::Builder::new()
        .name("console".into())
        .spawn(move || {
            for line in io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                let text = protocol::decode(protocol::trim_end(line.as_bytes()));
                if text.is_empty() {
                    continue;
                }
                let mut room = lock(&room);
                if text.len() > room.config.max_message {
                    log::warn!(
                        "console: line of {} bytes not sent (max {})",
                        text.len(),
                        room.config.max_message
                    );
                    continue;
                }
                room.broadcast(None, &format!("[server] {text}"));
                room.flush();
            }
            log::debug!("console: stdin closed; no more [server] lines");
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the console thread: {e}");
    }
}

#[derive(Debug)]
struct Member {
    nick: String,
    joined: u64,
    last_seen: Instant,
    bucket: TokenBucket,
    /// Told "slow down" already; stays quiet until a message gets through again, so a
    /// flood does not get a flood of errors back.
    throttled: bool,
}

/// The members and the socket to reach them.
#[derive(Debug)]
struct Room {
    socket: UdpSocket,
    /// Replies and copies queued by `send` and `broadcast`, sent by `flush`.
    outbox: Outbox,
    config: ServerConfig,
    members: HashMap<SocketAddr, Member>,
    next_join: u64,
}

/// A member's address as people read it: `127.0.0.1:5000`, not the dual-stack
/// socket's `[::ffff:127.0.0.1]:5000`.
/// Formatted only when a log line is actually written, not for every datagram.
fn show_addr(addr: SocketAddr) -> Shown {
    Shown(addr)
}

struct Shown(SocketAddr);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SocketAddr::new(self.0.ip().to_canonical(), self.0.port()).fmt(f)
    }
}

/// A chat line as it goes on the wire: the text and a newline.
fn datagram(line: &str) -> Vec<u8> {
    let mut d = Vec::with_capacity(line.len() + 1);
    d.extend_from_slice(line.as_bytes());
    d.push(b'\n');
    d
}

impl Room {
    fn new(socket: UdpSocket, config: ServerConfig) -> Self {
        Room {
            socket,
            outbox: Outbox::default(),
            config,
            members: HashMap::new(),
            next_join: 0,
        }
    }

    /// Sends one line to `to`. `bound` is the size of the datagram that caused it when
    /// the sender was not yet a member: then the reply must not be larger. Anyone can
    /// put a victim's address as the source of a UDP datagram; a server that answered
    /// 10 bytes with 1,000 would turn itself into a traffic amplifier aimed at them.
    fn send(&mut self, to: SocketAddr, line: &str, bound: Option<usize>) {
        let datagram = datagram(line);
        if let Some(max) = bound {
            if datagram.len() > max {
                log::debug!(
                    "{}: reply of {} bytes not sent to a new address that sent {max}",
                    show_addr(to),
                    datagram.len()
                );
                return;
            }
        }
        self.outbox.push(datagram, [to]);
    }

    /// Queues `line` for every member but `except`: one payload, one copy each.
    fn broadcast(&mut self, except: Option<SocketAddr>, line: &str) {
        let to = self.members.keys().filter(|a| Some(**a) != except).copied();
        self.outbox.push(datagram(line), to);
    }

    /// Sends what `send` and `broadcast` queued. UDP gives no delivery guarantee
    /// anyway: a copy the kernel refuses is logged and the others still go.
    fn flush(&mut self) {
        if !self.outbox.is_empty() {
            self.outbox.flush(&self.socket);
        }
    }

    fn nick_taken(&self, nick: &str, by: SocketAddr) -> bool {
        let wanted = nick.to_lowercase();
        self.members
            .iter()
            .any(|(addr, m)| *addr != by && m.nick.to_lowercase() == wanted)
    }

    /// Handles one datagram from `from`.
    fn handle(&mut self, from: SocketAddr, data: &[u8], truncated: bool, now: Instant) {
        let who = show_addr(from);
        let was_member = self.members.contains_key(&from);
        if let Some(m) = self.members.get_mut(&from) {
            m.last_seen = now;
            if !m.bucket.take(now) {
                let first = !m.throttled;
                m.throttled = true;
                if first {
                    log::warn!("{who} ({}): over the rate cap, dropping", m.nick);
                    let line = format!(
                        "error: slow down (max {} messages/s, burst {}); messages dropped",
                        self.config.rate, self.config.burst
                    );
                    self.send(from, &line, None);
                }
                return;
            }
            m.throttled = false;
        }

        let body = protocol::trim_end(data);
        if truncated || body.len() > self.config.max_message {
            // Members are rate-capped before this point; strangers are not, so their
            // refusals are logged at debug level: a flood must not become a flood of
            // log lines.
            let level = if was_member {
                log::Level::Warn
            } else {
                log::Level::Debug
            };
            log::log!(
                level,
                "{who}: refused a datagram of {}{} bytes (max {})",
                body.len(),
                if truncated {
                    "+ (truncated by the receive buffer)"
                } else {
                    ""
                },
                self.config.max_message
            );
            // Errors go to members only: a stranger gets nothing for a bad datagram.
            if was_member {
                let line = format!(
                    "error: message too long (max {} bytes)",
                    self.config.max_message
                );
                self.send(from, &line, None);
            }
            return;
        }
        let text = protocol::decode(body);
        let command = protocol::parse(&text);

        // The reply to the datagram that makes an address join is bounded by its size.
        let bound = (!was_member).then_some(data.len());
        if !was_member {
            let nick = match &command {
                Command::Quit => return,
                Command::Unknown(word) => {
                    log::debug!("{who}: unknown command /{word} from a stranger, ignored");
                    return;
                }
                Command::Nick(nick) => {
                    if protocol::validate_nick(nick).is_err() || self.nick_taken(nick, from) {
                        log::info!("{who}: cannot join as {nick:?} (invalid or taken)");
                        return;
                    }
                    Some(nick.clone())
                }
                _ => None,
            };
            if !self.join(from, nick, data.len(), now) {
                return;
            }
        }

        let Some(nick) = self.members.get(&from).map(|m| m.nick.clone()) else {
            return;
        };
        match command {
            Command::Say(text) => {
                if !text.is_empty() {
                    log::debug!("<{nick}> {text}");
                    let line = format!("<{nick}> {}", self.config.filter.mask(&text));
                    self.broadcast(Some(from), &line);
                }
            }
            Command::Me(action) => {
                if action.is_empty() {
                    self.send(from, "error: usage: /me ACTION", bound);
                } else {
                    let line = format!("* {nick} {}", self.config.filter.mask(&action));
                    self.broadcast(Some(from), &line);
                }
            }
            Command::Nick(new) => {
                if was_member {
                    self.rename(from, &nick, &new);
                }
            }
            Command::Who => {
                let mut members: Vec<&Member> = self.members.values().collect();
                members.sort_by_key(|m| m.joined);
                let names: Vec<&str> = members.iter().map(|m| m.nick.as_str()).collect();
                let line = format!("*** {} members: {}", names.len(), names.join(", "));
                self.send(from, &line, bound);
            }
            Command::Quit => {
                self.members.remove(&from);
                log::info!("{who}: {nick} left");
                self.broadcast(None, &format!("*** {nick} left"));
                self.send(from, &format!("*** bye, {nick}"), None);
            }
            Command::Ping => self.send(from, PONG, bound),
            Command::Unknown(word) => {
                let line = format!(
                    "error: unknown command /{word} (try /nick NAME, /who, /me ACTION, /quit, /ping; //text sends text starting with /)"
                );
                self.send(from, &line, bound);
            }
        }
    }

    /// Adds `addr` as a member, unless the room is full. `trigger` is the size of the
    /// datagram that asked, which bounds what we may answer (see [`Room::send`]).
    fn join(
        &mut self,
        addr: SocketAddr,
        nick: Option<String>,
        trigger: usize,
        now: Instant,
    ) -> bool {
        let who = show_addr(addr);
        if self.members.len() >= self.config.max_members {
            log::warn!(
                "{who}: not joined, the chat is full ({} members)",
                self.config.max_members
            );
            let line = format!(
                "error: the chat is full (max {} members)",
                self.config.max_members
            );
            self.send(addr, &line, Some(trigger));
            return false;
        }
        let nick = nick.unwrap_or_else(|| who.to_string());
        self.members.insert(
            addr,
            Member {
                nick: nick.clone(),
                joined: self.next_join,
                last_seen: now,
                bucket: TokenBucket::new(self.config.rate, self.config.burst, now),
                throttled: false,
            },
        );
        self.next_join += 1;
        // Joining costs a token like any other datagram.
        if let Some(m) = self.members.get_mut(&addr) {
            m.bucket.take(now);
        }
        log::info!(
            "{who}: joined as {nick} ({} in the chat)",
            self.members.len()
        );
        self.broadcast(Some(addr), &format!("*** {nick} joined"));
        let welcome = format!(
            "*** welcome, {nick}: {} here, /who lists them, /nick NAME renames you",
            self.members.len()
        );
        self.send(addr, &welcome, Some(trigger));
        true
    }

    fn rename(&mut self, addr: SocketAddr, old: &str, new: &str) {
        if let Err(why) = protocol::validate_nick(new) {
            self.send(addr, &format!("error: {why}"), None);
            return;
        }
        if new == old {
            // Answered, not ignored: a client whose join (`/nick NAME`) arrived but
            // whose welcome was lost sends the same join again, and must hear back.
            self.send(addr, &format!("*** you are already {new}"), None);
            return;
        }
        if self.nick_taken(new, addr) {
            self.send(addr, &format!("error: the nick {new} is taken"), None);
            return;
        }
        if let Some(m) = self.members.get_mut(&addr) {
            m.nick = new.to_owned();
        }
        log::info!("{}: {old} is now {new}", show_addr(addr));
        self.broadcast(None, &format!("*** {old} is now known as {new}"));
    }

    /// Drops members silent for longer than `--expire` and tells the others.
    fn expire(&mut self, now: Instant) {
        let limit = self.config.expire;
        let gone: Vec<SocketAddr> = self
            .members
            .iter()
            .filter(|(_, m)| now.saturating_duration_since(m.last_seen) > limit)
            .map(|(addr, _)| *addr)
            .collect();
        for addr in gone {
            let Some(m) = self.members.remove(&addr) else {
                continue;
            };
            let secs = limit.as_secs_f64();
            log::info!(
                "{}: {} expired after {secs} s of silence",
                show_addr(addr),
                m.nick
            );
            self.broadcast(
                None,
                &format!("*** {} expired (silent for {secs} s)", m.nick),
            );
            // It may be gone for good, or only have lost its heartbeats: say how to
            // come back.
            let line = format!(
                "error: you were silent for more than {secs} s and left the chat; send anything to rejoin"
            );
            self.send(addr, &line, None);
        }
    }
}
