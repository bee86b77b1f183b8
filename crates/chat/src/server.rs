//! The chat server: one UDP socket, one loop. Its socket calls come in the order of
//! lesson 2: `bind`, then `SO_RCVTIMEO`, then in a loop `recvmmsg` to take the
//! datagrams that arrived and `sendmmsg` to send everything they caused.
//!
//! There is no `accept` and no connection per client: every member's datagrams arrive
//! on the same socket, and `recvmmsg` says who sent each one (see [`crate::batch`]).
//! What a datagram means, and who the members are, is the room's job (`room.rs`).

use crate::batch::Receiver;
use crate::protocol::{self, Filter};
use crate::room::Room;
use socklab_net::accept::Shutdown;
use socklab_net::socket::{announce, bind_addr, udp_socket, warn_if_exposed};
use socklab_proto::{Error, Result};
use std::io::{self, BufRead};
use std::net::UdpSocket;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long `recvmmsg` blocks before the loop wakes to expire silent members and to
/// see whether SIGINT/SIGTERM asked it to stop. A production server would sleep in
/// `poll`/`epoll` until the next expiry instead of waking on a fixed tick.
const POLL: Duration = socklab_net::limits::ACCEPT_POLL;

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
    /// A new address joins only after echoing a cookie (`--verify-join`; always on
    /// when the server is bound beyond loopback). See [`crate::cookie`].
    pub verify_join: bool,
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
            verify_join: false,
            shutdown: Shutdown::new(),
        }
    }
}

/// Binds the chat's UDP socket to `host:port`, prints `listening on ADDR`, and runs
/// the chat on it until `config.shutdown` is raised.
pub(crate) fn listen_and_run(host: &str, port: u16, mut config: ServerConfig) -> Result<()> {
    // socket(), IPV6_V6ONLY off when `host` is `::`, bind(): no listen, no accept.
    let socket = udp_socket(bind_addr(host, port)?)?;
    let addr = socket
        .local_addr()
        .map_err(|e| Error::io("reading the bound address", e))?;
    announce(addr);
    // No login and no encryption: anyone who can reach the port can read and speak.
    warn_if_exposed(addr, "chat-server");
    // On loopback every source address is this machine's own; beyond it, anyone on
    // the path can write any source address on a datagram.
    config.verify_join |= !addr.ip().is_loopback();
    run(socket, config)
}

/// Runs the chat on `socket` until `config.shutdown` is raised.
pub fn run(socket: UdpSocket, config: ServerConfig) -> Result<()> {
    socket
        .set_read_timeout(Some(POLL))
        .map_err(|e| Error::io("setting SO_RCVTIMEO on the chat socket", e))?;
    let console_socket = socket
        .try_clone()
        .map_err(|e| Error::io("cloning the chat socket", e))?;
    log::info!(
        "chat: max {} members, {} bytes a message, {}/s (burst {}) each, expiry after {:?} of silence{}{}",
        config.max_members,
        config.max_message,
        config.rate,
        config.burst,
        config.expire,
        if config.verify_join {
            ", joins verified by cookie"
        } else {
            ""
        },
        if config.filter.is_empty() {
            String::new()
        } else {
            format!(", {} filtered words", config.filter.len())
        }
    );
    let shutdown = config.shutdown.clone();
    let recv_buffer = config.recv_buffer.max(1);
    let console = config.console;
    let room = Arc::new(Mutex::new(Room::new(config)));
    if console {
        spawn_console(Arc::clone(&room), console_socket);
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
        room.outbox.flush(&socket);
    }
    let mut room = lock(&room);
    room.broadcast(None, "*** the server is shutting down");
    room.outbox.flush(&socket);
    log::info!("stopped");
    Ok(())
}

fn lock(room: &Mutex<Room>) -> MutexGuard<'_, Room> {
    // A panic while holding the lock would be a bug, but the room is still usable:
    // keep serving rather than poisoning every later datagram.
    room.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads the server's own stdin and broadcasts each line as `[server] …` through
/// `socket`. EOF (stdin is /dev/null, or closed) just ends this thread; the chat goes
/// on.
fn spawn_console(room: Arc<Mutex<Room>>, socket: UdpSocket) {
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
                room.outbox.flush(&socket);
            }
            log::debug!("console: stdin closed; no more [server] lines");
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the console thread: {e}");
    }
}
