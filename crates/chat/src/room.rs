//! The chat room: the table of members keyed by address, and what each datagram
//! means to it (a message to relay, a command, a join, a leave). It queues what it
//! answers in an [`Outbox`]; the server's loop sends that with one `sendmmsg`.
//!
//! "Joining" is simply the server seeing a new source address; "leaving" is `/quit`,
//! or silence for longer than `--expire`, because UDP has no close that would tell the
//! server a member went away.

use crate::batch::Outbox;
use crate::cookie::{Cookies, CHALLENGE};
use crate::limits::{MAX_AMPLIFICATION, MAX_RATE_ENTRIES};
use crate::protocol::{self, Command, TokenBucket, PONG};
use crate::server::ServerConfig;
use socklab_proto::names::escape;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

#[derive(Debug)]
struct Member {
    nick: String,
    joined: u64,
    last_seen: Instant,
}

/// An address's rate cap. It is kept apart from the membership and outlives it by
/// `--expire`: a member that quits and rejoins finds its bucket as it left it, so
/// rejoining is no way to refill it.
#[derive(Debug)]
struct Rate {
    bucket: TokenBucket,
    /// Told "slow down" already; stays quiet until a message gets through again, so a
    /// flood does not get a flood of errors back.
    throttled: bool,
    last_used: Instant,
}

/// The members, and what the room has to say to them.
#[derive(Debug)]
pub(crate) struct Room {
    /// Replies and copies queued by `send` and `broadcast`, for the server's loop to
    /// send.
    pub(crate) outbox: Outbox,
    /// The limits and the word filter the room keeps to.
    pub(crate) config: ServerConfig,
    members: HashMap<SocketAddr, Member>,
    /// Members' buckets, and those of addresses that left less than `--expire` ago; at
    /// most [`MAX_RATE_ENTRIES`].
    rates: HashMap<SocketAddr, Rate>,
    next_join: u64,
    cookies: Cookies,
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
    pub(crate) fn new(config: ServerConfig) -> Self {
        Room {
            outbox: Outbox::default(),
            config,
            members: HashMap::new(),
            rates: HashMap::new(),
            next_join: 0,
            cookies: Cookies::new(Instant::now()),
        }
    }

    /// Queues one line for `to`. `bound` is the size of the datagram that caused it when
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
    pub(crate) fn broadcast(&mut self, except: Option<SocketAddr>, line: &str) {
        let to = self.members.keys().filter(|a| Some(**a) != except).copied();
        self.outbox.push(datagram(line), to);
    }

    /// Why `nick` cannot be `by`'s, if it cannot: invalid, or taken. The wording is
    /// what chat-client shows when it gives up.
    fn refuse_nick(&self, nick: &str, by: SocketAddr) -> Option<String> {
        if let Err(why) = protocol::validate_nick(nick) {
            return Some(format!("nick {} is invalid: {why}", escape(nick)));
        }
        self.nick_taken(nick, by)
            .then(|| format!("nick \"{nick}\" is taken"))
    }

    /// True when another member's nick looks like `nick`: the same in any case, or the
    /// same confusable skeleton (see [`protocol::nick_keys`]).
    fn nick_taken(&self, nick: &str, by: SocketAddr) -> bool {
        let wanted = protocol::nick_keys(nick);
        self.members.iter().any(|(addr, m)| {
            let theirs = protocol::nick_keys(&m.nick);
            *addr != by && (wanted[0] == theirs[0] || wanted[1] == theirs[1])
        })
    }

    /// Handles one datagram from `from`.
    pub(crate) fn handle(&mut self, from: SocketAddr, data: &[u8], truncated: bool, now: Instant) {
        let who = show_addr(from);
        let was_member = self.members.contains_key(&from);
        if let Some(m) = self.members.get_mut(&from) {
            m.last_seen = now;
        }
        // Every datagram from an address with a bucket takes a token, member or not:
        // joins, nick changes and /quit included.
        if let Some(r) = self.rates.get_mut(&from) {
            r.last_used = now;
            if !r.bucket.take(now) {
                let first = !r.throttled;
                r.throttled = true;
                // Only a member is told: a stranger gets no errors.
                if first && was_member {
                    log::warn!("{who}: over the rate cap, dropping");
                    let line = format!(
                        "error: slow down (max {} messages/s, burst {}); messages dropped",
                        self.config.rate, self.config.burst
                    );
                    self.send(from, &line, None);
                }
                return;
            }
            r.throttled = false;
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

        // Replies to a stranger are bounded by the size of the datagram that caused
        // them; once an address has echoed its cookie, it is known to be real.
        let mut bound = None;
        if !was_member {
            let verify = self.config.verify_join;
            let (nick, verified) = match &command {
                Command::Quit => return,
                Command::Join { token, nick }
                    if !verify || self.cookies.verify(from, token, now) =>
                {
                    (nick.clone(), verify)
                }
                _ if verify => {
                    self.challenge(from, &command, data.len(), now);
                    return;
                }
                Command::Unknown(word) => {
                    log::debug!("{who}: unknown command /{word} from a stranger, ignored");
                    return;
                }
                Command::Nick(nick) => (Some(nick.clone()), false),
                _ => (None, false),
            };
            bound = (!verified).then_some(data.len());
            if let Some(nick) = &nick {
                if let Some(why) = self.refuse_nick(nick, from) {
                    log::info!("{who}: cannot join: {why}");
                    // Bounded like any answer to a stranger: chat-client's padded join
                    // leaves room for it.
                    self.send(from, &format!("error: {why}"), bound);
                    return;
                }
            }
            if !self.join(from, nick, bound, now) {
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
            Command::Help => self.send(from, &protocol::help_line(), bound),
            Command::Join { .. } => {
                // A join retried after a lost welcome: answer it, as a retried /nick is.
                if was_member {
                    self.send(from, &format!("*** you are already {nick}"), None);
                }
            }
            Command::Unknown(word) => {
                let line = format!(
                    "error: unknown command /{word} (/help lists the commands; //text sends text starting with /)"
                );
                self.send(from, &line, bound);
            }
        }
    }

    /// Hands a stranger its cookie, in a line no longer than [`MAX_AMPLIFICATION`]
    /// times the datagram that asked: a spoofed datagram gets its victim at most that.
    /// A stranger that asked for a nick is shown the line that joins under it.
    fn challenge(&mut self, from: SocketAddr, command: &Command, size: usize, now: Instant) {
        let token = self.cookies.token(from, now);
        let line = match command {
            Command::Nick(nick) if protocol::validate_nick(nick).is_ok() => {
                format!("{CHALLENGE}{token} {nick}")
            }
            _ => format!("{CHALLENGE}{token}"),
        };
        log::debug!("{}: new address, sent a join cookie", show_addr(from));
        self.send(from, &line, Some(size.saturating_mul(MAX_AMPLIFICATION)));
    }

    /// Adds `addr` as a member, unless the room is full. `bound` is the size of the
    /// datagram that asked if the address is not known to be real, which bounds what we
    /// may answer (see [`Room::send`]).
    fn join(
        &mut self,
        addr: SocketAddr,
        nick: Option<String>,
        bound: Option<usize>,
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
            self.send(addr, &line, bound);
            return false;
        }
        let nick = nick.unwrap_or_else(|| who.to_string());
        self.members.insert(
            addr,
            Member {
                nick: nick.clone(),
                joined: self.next_join,
                last_seen: now,
            },
        );
        self.next_join += 1;
        // Joining costs a token like any other datagram: an address that left recently
        // paid it on the way in; a new one starts a full bucket and pays it now.
        if !self.rates.contains_key(&addr) {
            self.make_room_for_a_rate(now);
            let mut bucket = TokenBucket::new(self.config.rate, self.config.burst, now);
            bucket.take(now);
            self.rates.insert(
                addr,
                Rate {
                    bucket,
                    throttled: false,
                    last_used: now,
                },
            );
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
        self.send(addr, &welcome, bound);
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
            self.send(addr, &format!("error: nick \"{new}\" is taken"), None);
            return;
        }
        if let Some(m) = self.members.get_mut(&addr) {
            m.nick = new.to_owned();
        }
        log::info!("{}: {old} is now {new}", show_addr(addr));
        self.broadcast(None, &format!("*** {old} is now known as {new}"));
    }

    /// Keeps the table of buckets under [`MAX_RATE_ENTRIES`]: forgets those of
    /// addresses gone for longer than `--expire`, then, if it is still full, the one of
    /// a former member that was used longest ago. Members' buckets always stay.
    fn make_room_for_a_rate(&mut self, now: Instant) {
        if self.rates.len() < MAX_RATE_ENTRIES {
            return;
        }
        let (limit, members) = (self.config.expire, &self.members);
        self.rates.retain(|addr, r| {
            members.contains_key(addr) || now.saturating_duration_since(r.last_used) <= limit
        });
        if self.rates.len() >= MAX_RATE_ENTRIES {
            let oldest = self
                .rates
                .iter()
                .filter(|(addr, _)| !self.members.contains_key(addr))
                .min_by_key(|(_, r)| r.last_used)
                .map(|(addr, _)| *addr);
            if let Some(addr) = oldest {
                self.rates.remove(&addr);
            }
        }
    }

    /// Drops members silent for longer than `--expire` and tells the others, and
    /// forgets the buckets of addresses that left longer than `--expire` ago.
    pub(crate) fn expire(&mut self, now: Instant) {
        let limit = self.config.expire;
        let members = &self.members;
        self.rates.retain(|addr, r| {
            members.contains_key(addr) || now.saturating_duration_since(r.last_used) <= limit
        });
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
