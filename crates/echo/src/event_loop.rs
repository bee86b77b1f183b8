//! `echo-server --event-loop`: one thread, non-blocking sockets, and `epoll`.
//!
//! The tutorials end with `select()`: instead of a thread blocked in `recv` for every
//! client, one thread asks the kernel "which of these sockets can I read or write
//! without blocking?" and serves only those. This is the same echo server written that
//! way, with `mio` (a thin, portable layer over `epoll` on Linux and `kqueue` on BSDs).
//! It takes the same listener as [`crate::server::run`]: the sockets are the same, only
//! made non-blocking and watched by `epoll` through their file descriptors.
//!
//! What makes it correct rather than a toy:
//!
//! - **Every socket is non-blocking.** A `read` or `write` that cannot proceed returns
//!   `WouldBlock` instead of stopping the whole server.
//! - **Readiness is edge-triggered** in mio: after an event we keep reading until
//!   `WouldBlock`, or we would never hear about the rest of the data.
//! - **Partial writes are buffered per connection.** When the client's receive window
//!   is full, `write` takes only part of the echo. The rest waits in that connection's
//!   `pending` buffer, we stop reading from it (backpressure: never buffer more than one
//!   read's worth, [`MAX_PENDING`], per client) and ask for `WRITABLE` instead of
//!   `READABLE`.
//! - **Memory per connection is a few dozen bytes when idle**: the one read buffer
//!   ([`MAX_PENDING`], 16 KiB) is shared by all connections, and `pending` is only
//!   allocated while a write is stuck. That is how one thread holds 10,000 connections
//!   in a few MiB.
//! - **One address cannot take every slot**: `--max-conns-per-ip` applies here as in
//!   the threaded server (the same rule, `socklab_net::accept::per_ip_cap`), counted
//!   per address as connections come and go.
//! - **It busy-polls after serving, if asked** (`--busy-poll-us`, see
//!   [`crate::busy_poll`]): for a moment after a connection was served, `epoll_wait`
//!   is called with a zero timeout instead of sleeping, so a client's next message
//!   finds the loop awake.
//!
//! A production server would also spread connections over one loop per core, and
//! use a timer wheel instead of scanning every connection for idleness.

use crate::limits::MAX_PENDING;
use crate::server::ServerConfig;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use socket2::SockRef;
use socklab_net::accept::{peer_ip, per_ip_cap, Listener};
use socklab_net::limits::ACCEPT_POLL;
use socklab_proto::{Error, Result};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

/// The listener's token; connections count up from 1.
const LISTENER: Token = Token(0);

/// Events handled per `epoll_wait`.
const EVENTS_CAPACITY: usize = 1024;

/// One client, as the loop sees it.
struct Client<S> {
    stream: S,
    peer: String,
    /// The peer's address (none for AF_UNIX), counted against `--max-conns-per-ip`.
    ip: Option<IpAddr>,
    /// Echo bytes the kernel has not taken yet, from `pending_from` on.
    pending: Vec<u8>,
    pending_from: usize,
    /// The client half-closed: close once `pending` is sent.
    read_closed: bool,
    /// What we asked `epoll` to tell us about.
    interest: Interest,
    bytes_in: u64,
    bytes_out: u64,
    last_active: Instant,
}

/// Every connection, by token, and how many come from each address.
///
/// Invariant: `per_ip[ip]` is the number of clients in `by_token` whose `ip` is `ip`
/// (no zero entries), kept by `insert` and `remove`, the only ways in and out.
struct Clients<S> {
    by_token: HashMap<Token, Client<S>>,
    per_ip: HashMap<IpAddr, usize>,
}

impl<S> Clients<S> {
    fn new() -> Self {
        Clients {
            by_token: HashMap::new(),
            per_ip: HashMap::new(),
        }
    }

    fn len(&self) -> usize {
        self.by_token.len()
    }

    fn count_from(&self, ip: IpAddr) -> usize {
        self.per_ip.get(&ip).copied().unwrap_or(0)
    }

    fn insert(&mut self, token: Token, client: Client<S>) {
        if let Some(ip) = client.ip {
            *self.per_ip.entry(ip).or_insert(0) += 1;
        }
        self.by_token.insert(token, client);
    }

    fn remove(&mut self, token: Token) -> Option<Client<S>> {
        let client = self.by_token.remove(&token)?;
        if let Some(ip) = client.ip {
            if let Some(n) = self.per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    self.per_ip.remove(&ip);
                }
            }
        }
        Some(client)
    }
}

/// What to do with a connection after serving it.
enum Next {
    Keep,
    Close(Option<io::Error>),
}

/// Serves echo on `listener` (TCP or AF_UNIX, as made by `socklab_net::socket`) from
/// this one thread until `config.serve.shutdown` is raised. `config.serve.iterative`
/// does not apply: every client is served at once.
pub fn serve_with_epoll<L>(listener: L, config: ServerConfig) -> Result<()>
where
    L: Listener + AsFd,
{
    SockRef::from(&listener)
        .set_nonblocking(true)
        .map_err(|e| Error::io("making the listener non-blocking", e))?;
    let mut poll = Poll::new().map_err(|e| Error::io("creating the epoll instance", e))?;
    let mut events = Events::with_capacity(EVENTS_CAPACITY);
    register(&poll, &listener, LISTENER, Interest::READABLE)
        .map_err(|e| Error::io("registering the listener", e))?;
    let mut conns: Clients<L::Stream> = Clients::new();
    let mut next_token = 1usize;
    // One read buffer for every connection: the loop serves one at a time.
    let mut buf = vec![0u8; MAX_PENDING];
    let mut accepting = true;
    // Set when accept failed for want of descriptors (EMFILE): the queued clients will
    // not raise another edge, so we retry on every wake (at least every ACCEPT_POLL).
    let mut accept_blocked = false;
    let mut stop_deadline = None;
    let mut last_idle_scan = Instant::now();
    // Busy polling (see `crate::busy_poll`): after serving a connection, poll with a
    // zero timeout until this instant instead of sleeping, so a quick next message
    // finds the loop awake.
    let mut spin_until: Option<Instant> = None;
    let spin = if crate::busy_poll::max_spinners() > 0 {
        config.busy_poll
    } else {
        Duration::ZERO
    };
    let mut last_accept_retry = Instant::now();

    loop {
        if accepting && config.serve.shutdown.is_triggered() {
            // Stop accepting; let the connections in flight finish within the grace.
            accepting = false;
            let _ = deregister(&poll, &listener);
            stop_deadline = Some(Instant::now() + config.serve.grace);
            log::info!(
                "stopping: waiting up to {:?} for {} connection(s)",
                config.serve.grace,
                conns.len()
            );
        }
        if let Some(deadline) = stop_deadline {
            if conns.by_token.is_empty() || Instant::now() >= deadline {
                break;
            }
        }
        let timeout = match spin_until {
            Some(t) if Instant::now() < t => Duration::ZERO,
            _ => ACCEPT_POLL,
        };
        match poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("epoll_wait", e)),
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                if accepting {
                    accept_blocked =
                        accept_all(&listener, &poll, &mut conns, &mut next_token, &config);
                }
                continue;
            }
            let token = event.token();
            if !spin.is_zero() {
                spin_until = Instant::now().checked_add(spin);
            }
            let Some(conn) = conns.by_token.get_mut(&token) else {
                continue;
            };
            if let Next::Close(err) = echo_until_blocked(conn, &mut buf, config.upper) {
                close(&poll, conns.remove(token), err);
            } else if let Err(e) = update_interest(&poll, token, conn) {
                close(&poll, conns.remove(token), Some(e));
            }
        }
        // At most once per ACCEPT_POLL: while busy polling, the loop wakes far more
        // often, and each failed retry would log another warning.
        if accepting && accept_blocked && last_accept_retry.elapsed() >= ACCEPT_POLL {
            last_accept_retry = Instant::now();
            accept_blocked = accept_all(&listener, &poll, &mut conns, &mut next_token, &config);
        }
        if let Some(idle) = config.idle_timeout {
            // Scanning every connection is O(n); once a second is cheap even at 10,000.
            if last_idle_scan.elapsed() >= Duration::from_secs(1) {
                last_idle_scan = Instant::now();
                let expired: Vec<Token> = conns
                    .by_token
                    .iter()
                    .filter(|(_, c)| c.last_active.elapsed() >= idle)
                    .map(|(t, _)| *t)
                    .collect();
                for token in expired {
                    let err = io::Error::new(io::ErrorKind::TimedOut, "idle timeout");
                    close(&poll, conns.remove(token), Some(err));
                }
            }
        }
    }
    for (_, conn) in conns.by_token.drain() {
        log::info!(
            "{}: cut at shutdown after {} bytes in",
            conn.peer,
            conn.bytes_in
        );
    }
    log::info!("stopped");
    Ok(())
}

/// Accepts every pending connection (edge-triggered: until `WouldBlock`). Returns
/// true when it had to stop early on an error such as EMFILE.
fn accept_all<L: Listener>(
    listener: &L,
    poll: &Poll,
    conns: &mut Clients<L::Stream>,
    next_token: &mut usize,
    config: &ServerConfig,
) -> bool {
    loop {
        let (stream, peer) = match listener.accept_stream() {
            Ok(pair) => pair,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // EMFILE and friends: the connection stays in the backlog, and the
                // caller retries on its next wake, not in a tight loop.
                log::warn!("accept: {e}");
                return true;
            }
        };
        if conns.len() >= config.serve.max_conns {
            log::warn!(
                "{peer}: refused, {} connections already (max {})",
                conns.len(),
                config.serve.max_conns
            );
            continue; // Dropping the stream closes it.
        }
        let ip = peer_ip(&peer);
        if let Some(ip) = ip {
            let cap = per_ip_cap(config.serve.max_conns_per_ip, config.serve.max_conns, ip)
                .unwrap_or(usize::MAX);
            let from_ip = conns.count_from(ip);
            if from_ip >= cap {
                log::warn!(
                    "{peer}: refused, {from_ip} connections from its address already (--max-conns-per-ip {cap})"
                );
                continue; // Echo has no way to say "busy": the client sees the close.
            }
        }
        // No set_nodelay here: a TCP socket accepted from a listener made by
        // `socklab_net::socket::tcp_listener` inherits TCP_NODELAY from it. It does not
        // inherit O_NONBLOCK, so that is set on each.
        let token = Token(*next_token);
        *next_token += 1;
        if let Err(e) = SockRef::from(&stream)
            .set_nonblocking(true)
            .and_then(|()| register(poll, &stream, token, Interest::READABLE))
        {
            log::warn!("{peer}: cannot register: {e}");
            continue;
        }
        log::info!("{peer}: connected");
        conns.insert(
            token,
            Client {
                stream,
                peer,
                ip,
                pending: Vec::new(),
                pending_from: 0,
                read_closed: false,
                interest: Interest::READABLE,
                bytes_in: 0,
                bytes_out: 0,
                last_active: Instant::now(),
            },
        );
    }
}

/// Echoes as many bytes as the socket allows, until it would block or is done.
fn echo_until_blocked<S: Read + Write>(conn: &mut Client<S>, buf: &mut [u8], upper: bool) -> Next {
    loop {
        // First, the echo we still owe.
        while conn.pending_from < conn.pending.len() {
            match conn.stream.write(&conn.pending[conn.pending_from..]) {
                Ok(n) => {
                    conn.pending_from += n;
                    conn.bytes_out += n as u64;
                    conn.last_active = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Next::Close(Some(e)),
            }
        }
        // All sent: free the buffer, so an idle connection owns no heap memory.
        conn.pending = Vec::new();
        conn.pending_from = 0;
        if conn.read_closed {
            return Next::Close(None);
        }
        let n = match conn.stream.read(buf) {
            Ok(0) => {
                conn.read_closed = true;
                continue;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Next::Close(Some(e)),
        };
        conn.bytes_in += n as u64;
        conn.last_active = Instant::now();
        if upper {
            buf[..n].make_ascii_uppercase();
        }
        // Try to echo at once; keep whatever the kernel does not take.
        let sent = match conn.stream.write(&buf[..n]) {
            Ok(sent) => sent,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Next::Close(Some(e)),
        };
        conn.bytes_out += sent as u64;
        if sent < n {
            conn.pending.extend_from_slice(&buf[sent..n]);
        }
    }
}

/// Asks for WRITABLE while an echo is stuck (and stops reading: backpressure), and
/// READABLE otherwise.
fn update_interest<S: AsFd>(poll: &Poll, token: Token, conn: &mut Client<S>) -> io::Result<()> {
    let want = if conn.pending_from < conn.pending.len() {
        Interest::WRITABLE
    } else {
        Interest::READABLE
    };
    if want != conn.interest {
        let fd = conn.stream.as_fd().as_raw_fd();
        poll.registry()
            .reregister(&mut SourceFd(&fd), token, want)?;
        conn.interest = want;
    }
    Ok(())
}

/// Stops watching a connection and logs how it ended; dropping it closes the socket.
fn close<S: AsFd>(poll: &Poll, conn: Option<Client<S>>, err: Option<io::Error>) {
    let Some(conn) = conn else { return };
    let _ = deregister(poll, &conn.stream);
    match err {
        None => log::info!(
            "{}: closed after {} bytes in, {} bytes out",
            conn.peer,
            conn.bytes_in,
            conn.bytes_out
        ),
        Some(e) => log::info!(
            "{}: dropped after {} bytes in, {} bytes out: {e}",
            conn.peer,
            conn.bytes_in,
            conn.bytes_out
        ),
    }
}

/// Asks `epoll` to watch `fd` (mio's `SourceFd`: any descriptor, no mio socket type).
fn register(poll: &Poll, fd: &impl AsFd, token: Token, interest: Interest) -> io::Result<()> {
    let fd = fd.as_fd().as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&fd), token, interest)
}

/// Stops watching `fd`.
fn deregister(poll: &Poll, fd: &impl AsFd) -> io::Result<()> {
    let fd = fd.as_fd().as_raw_fd();
    poll.registry().deregister(&mut SourceFd(&fd))
}
