//! Accepting clients: `accept(2)` in a loop, a thread per connection under a cap, and
//! a graceful stop on SIGINT or SIGTERM.
//!
//! The tutorials' servers call `accept`, serve that one client to the end, then accept
//! the next: one client at a time. A socklab server calls [`accept`] in a loop and
//! hands each connection to [`Threads::spawn`], which runs it on a thread of its own,
//! up to `max_conns` at once; one more is refused at once (and told why, where the
//! protocol can say it) rather than queued behind the others. [`serve_framed`] is
//! that loop for the framed lessons (shell, ftp), which have nothing to add to it. A
//! production server with tens of
//! thousands of clients would multiplex them on a few threads with `epoll` instead
//! (echo's `--event-loop`).

use crate::conn::{Connection, Deadlines};
use crate::limits::{MAX_CONNS, PER_IP_SHARE, SHUTDOWN_GRACE};
use socket2::{SockRef, Socket};
use socklab_proto::{Error, ErrorCode, Result};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Shutdown as Direction, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A flag that SIGINT/SIGTERM (or a test) raises to stop a server.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// A flag nobody has raised yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A flag raised by SIGINT and SIGTERM. The handler only stores `true`; the accept
    /// loop notices within [`crate::limits::ACCEPT_POLL`].
    pub fn on_signals() -> Result<Self> {
        let s = Self::new();
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&s.0))
                .map_err(|e| Error::io("installing the SIGINT/SIGTERM handler", e))?;
        }
        Ok(s)
    }

    /// Asks the server to stop.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once a stop was asked for.
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A listening socket, TCP or AF_UNIX. (std has no trait for `accept` that both
/// listeners share; this one method is what lets one server serve either.)
pub trait Listener {
    /// What `accept` returns: a connected stream.
    type Stream: io::Read + io::Write + AsFd + Send + 'static;
    /// `accept(2)`, with the peer's address as text.
    fn accept_stream(&self) -> io::Result<(Self::Stream, String)>;
}

impl Listener for TcpListener {
    type Stream = TcpStream;
    fn accept_stream(&self) -> io::Result<(TcpStream, String)> {
        // The stream inherits TCP_NODELAY from the listener (see `tcp_listener`), and
        // not its SO_RCVTIMEO: it starts blocking.
        let (s, peer) = self.accept()?;
        Ok((s, peer.to_string()))
    }
}

impl Listener for UnixListener {
    type Stream = UnixStream;
    fn accept_stream(&self) -> io::Result<(UnixStream, String)> {
        let (s, _) = self.accept()?;
        // Unix peers have no address worth printing; number them instead.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Ok((s, format!("unix#{}", NEXT.fetch_add(1, Ordering::Relaxed))))
    }
}

/// Waits in `accept(2)` for the next client, until `shutdown` is raised (then `None`).
///
/// The listener's `SO_RCVTIMEO` ([`crate::limits::ACCEPT_POLL`], set by `tcp_listener`) wakes the
/// call now and then to look at the flag. Running out of file descriptors (`EMFILE`)
/// leaves the client in the backlog and backs off, rather than spinning a core.
pub fn accept<L: Listener>(listener: &L, shutdown: &Shutdown) -> Option<(L::Stream, String)> {
    while !shutdown.is_triggered() {
        match listener.accept_stream() {
            Ok(pair) => return Some(pair),
            // No client within ACCEPT_POLL, or a signal interrupted accept.
            Err(e) if crate::socket::is_wait_over(&e) => {}
            Err(e) if matches!(e.raw_os_error(), Some(EMFILE | ENFILE)) => {
                log::warn!("accept: {e}; waiting for connections to close");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => {
                log::warn!("accept: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    None
}

/// `EMFILE` and `ENFILE`: this process, or the whole system, is out of descriptors.
const EMFILE: i32 = 24;
const ENFILE: i32 = 23;

/// How the accept loop runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Connections served at once; one more is refused.
    pub max_conns: usize,
    /// Connections served at once from one IP address (`--max-conns-per-ip`), so one
    /// address cannot take every slot. `None` applies `max_conns` / [`PER_IP_SHARE`] to every
    /// address but loopback (local users share 127.0.0.1, and the tests and benchmarks
    /// open hundreds of connections from it); `Some(n)` applies `n` to every address.
    pub max_conns_per_ip: Option<usize>,
    /// Serve one client at a time in the accept thread, as the tutorials did.
    pub iterative: bool,
    /// How long connections in flight may take to finish after a stop.
    pub grace: Duration,
    /// Raised to stop the server.
    pub shutdown: Shutdown,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_conns: MAX_CONNS,
            max_conns_per_ip: None,
            iterative: false,
            grace: SHUTDOWN_GRACE,
            shutdown: Shutdown::new(),
        }
    }
}

/// The cap on connections from `ip` under `--max-conns-per-ip` (`max_conns_per_ip`,
/// see [`ServeOptions::max_conns_per_ip`]): `Some(n)` caps every address at `n`; `None`
/// caps every address but loopback at `max_conns` / [`PER_IP_SHARE`] (at least one).
/// One rule for every server, threaded or event loop.
pub fn per_ip_cap(max_conns_per_ip: Option<usize>, max_conns: usize, ip: IpAddr) -> Option<usize> {
    match max_conns_per_ip {
        Some(n) => Some(n),
        None if ip.is_loopback() => None,
        None => Some((max_conns / PER_IP_SHARE).max(1)),
    }
}

/// The address a peer string (`ip:port`, `[v6]:port`) names, IPv4-mapped IPv6 as IPv4;
/// `None` for an AF_UNIX peer, which has no address.
pub fn peer_ip(peer: &str) -> Option<IpAddr> {
    peer.parse::<std::net::SocketAddr>()
        .ok()
        .map(|a| a.ip().to_canonical())
}

/// The threads serving connections: at most `max_conns` at once, and a way to cut
/// the ones still running when the server stops.
///
/// Invariant: a connection's socket closes when its handler returns. To cut a
/// connection at a stop, `Threads` holds a second handle on each socket (`dup(2)`),
/// and lets go of it the moment that connection's thread ends.
#[derive(Debug)]
pub struct Threads {
    max_conns: usize,
    max_conns_per_ip: Option<usize>,
    next: u64,
    live: Arc<Mutex<HashMap<u64, Live>>>,
}

/// A connection being served: a second handle on its socket, to cut it at a stop,
/// and the address it came from, to count it against its address's cap.
#[derive(Debug)]
struct Live {
    socket: Socket,
    ip: Option<IpAddr>,
}

/// Forgets a connection when its thread ends, however it ends (a panic included).
struct Slot {
    id: u64,
    live: Arc<Mutex<HashMap<u64, Live>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.live).remove(&self.id);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Threads {
    /// Room for `opts.max_conns` connections, at most `opts.max_conns_per_ip` of them
    /// from one address.
    pub fn new(opts: &ServeOptions) -> Self {
        Threads {
            max_conns: opts.max_conns,
            max_conns_per_ip: opts.max_conns_per_ip,
            next: 0,
            live: Arc::default(),
        }
    }

    /// Connections being served now.
    fn active(&self) -> usize {
        lock(&self.live).len()
    }

    /// Runs `handle(stream, peer)` on a new thread, or gives the stream back when
    /// `max_conns` connections, or its address's cap ([`per_ip_cap`]), are already
    /// being served (the caller refuses it).
    pub fn spawn<S, H>(&mut self, stream: S, peer: &str, handle: H) -> std::result::Result<(), S>
    where
        S: AsFd + Send + 'static,
        H: FnOnce(S, &str) + Send + 'static,
    {
        let ip = peer_ip(peer);
        let active = self.active();
        let refusal = if active >= self.max_conns {
            Some(format!(
                "{active} connections already (max {})",
                self.max_conns
            ))
        } else {
            // Counted only when a cap applies: uncapped loopback peers skip the scan.
            ip.and_then(|ip| Some((ip, per_ip_cap(self.max_conns_per_ip, self.max_conns, ip)?)))
                .and_then(|(ip, cap)| {
                    let from_ip = lock(&self.live)
                        .values()
                        .filter(|l| l.ip == Some(ip))
                        .count();
                    (from_ip >= cap).then(|| {
                        format!(
                            "{from_ip} connections from its address already (--max-conns-per-ip {cap})"
                        )
                    })
                })
        };
        if let Some(why) = refusal {
            log::warn!("{peer}: refused, {why}");
            // A refusal must not block the accept loop on a peer that does not read.
            let _ = SockRef::from(&stream).set_write_timeout(Some(Duration::from_secs(1)));
            return Err(stream);
        }
        let id = self.next;
        self.next += 1;
        if let Ok(socket) = SockRef::from(&stream).try_clone() {
            lock(&self.live).insert(id, Live { socket, ip });
        }
        let slot = Slot {
            id,
            live: Arc::clone(&self.live),
        };
        let peer = peer.to_owned();
        let spawned = std::thread::Builder::new()
            .name(format!("conn-{id}"))
            .spawn(move || {
                let _slot = slot;
                handle(stream, &peer);
            });
        if let Err(e) = spawned {
            // The closure, and so the slot and the stream, were dropped: it is closed.
            log::error!("cannot start a thread for a connection: {e}");
        }
        Ok(())
    }

    /// Waits up to `grace` for the connections in flight to finish, then cuts the
    /// rest (`shutdown(SHUT_RDWR)` wakes a thread blocked on its socket) and gives
    /// them a moment to clean up (temp files).
    pub fn stop(self, grace: Duration) {
        let active = self.active();
        if active > 0 {
            log::info!("stopping: waiting up to {grace:?} for {active} connection(s)");
        }
        self.wait_for_idle(grace);
        for live in lock(&self.live).values() {
            let _ = live.socket.shutdown(Direction::Both);
        }
        self.wait_for_idle(Duration::from_secs(1));
        log::info!("stopped");
    }

    fn wait_for_idle(&self, limit: Duration) {
        let start = Instant::now();
        while self.active() > 0 && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The whole accept loop for a server with nothing to add to it: [`accept`] until
/// `opts.shutdown` is raised, each connection on a thread of its own ([`Threads`]),
/// at most `opts.max_conns` at once; a connection over the cap is passed to
/// `refuse` (which may write a short reply) and closed. With `opts.iterative` each
/// client is served to the end in the accepting thread, as the tutorials did.
fn serve<L, H, R>(listener: L, opts: &ServeOptions, handle: H, refuse: R) -> Result<()>
where
    L: Listener,
    H: Fn(L::Stream, &str) + Send + Sync + 'static,
    R: Fn(L::Stream, &str),
{
    let handle = Arc::new(handle);
    let mut threads = Threads::new(opts);
    while let Some((stream, peer)) = accept(&listener, &opts.shutdown) {
        if opts.iterative {
            log::info!("{peer}: accepted (iterative: others wait in the backlog)");
            handle(stream, &peer);
            continue;
        }
        let handle = Arc::clone(&handle);
        if let Err(stream) = threads.spawn(stream, &peer, move |s, p| handle(s, p)) {
            refuse(stream, &peer);
        }
    }
    threads.stop(opts.grace);
    Ok(())
}

/// The accept loop of the framed lessons (shell, ftp), as `serve` runs it: wraps each client's stream in a
/// [`Connection`] with `deadlines`, runs `session` on it, logs how it ended (a peer
/// that went away is not a warning), and answers a client over the cap with a `busy`
/// reply before closing it.
pub fn serve_framed<L, F>(
    listener: L,
    opts: &ServeOptions,
    deadlines: Deadlines,
    session: F,
) -> Result<()>
where
    L: Listener,
    F: Fn(&mut Connection<L::Stream>, &str) -> Result<()> + Send + Sync + 'static,
{
    serve(
        listener,
        opts,
        move |stream, peer| {
            log::info!("{peer}: connected");
            let ended =
                Connection::new(stream, deadlines).and_then(|mut conn| session(&mut conn, peer));
            match ended {
                Ok(()) => log::info!("{peer}: closed"),
                Err(e) if e.is_disconnect() => log::info!("{peer}: dropped: {e}"),
                Err(e) => log::warn!("{peer}: closed: {e}"),
            }
        },
        |mut stream, _peer| {
            let busy = Error::refused(
                ErrorCode::Busy,
                "the server is at its connection limit; try again later",
            );
            let _ = socklab_proto::msg::write_error(&mut stream, &busy);
        },
    )
}

/// TLS for [`serve_framed_tls`]: the acceptor, and how long after `accept` each
/// connection's handshake must be over (the login timeout: a client that stalls in
/// the handshake is cut like one that stalls in login).
#[derive(Debug, Clone)]
pub struct FramedTls {
    /// The certificate, the service's ALPN name, and `OnPlain::Framed`.
    pub acceptor: crate::tls::TlsAcceptor,
    /// From `accept` to the end of the handshake.
    pub handshake_timeout: Duration,
}

/// The stream a [`serve_framed_tls`] session gets: the socket, or TLS over it.
pub type FramedStream<S> = crate::tls::MaybeTls<rustls::ServerConnection, S>;

/// [`serve_framed`] with TLS when `tls` is given (plain otherwise): each connection's
/// handshake runs on its own thread, by `tls.handshake_timeout` after accept, before
/// `session`; a plain client is told `tls_required` (the acceptor's `OnPlain`). One
/// session type serves both modes. A TLS client over the cap is closed without a
/// word: a plain `busy` frame would read to it as a server that does not speak TLS.
pub fn serve_framed_tls<L, F>(
    listener: L,
    opts: &ServeOptions,
    deadlines: Deadlines,
    tls: Option<FramedTls>,
    session: F,
) -> Result<()>
where
    L: Listener,
    F: Fn(&mut Connection<FramedStream<L::Stream>>, &str) -> Result<()> + Send + Sync + 'static,
{
    let refuse_busy = tls.is_none();
    serve(
        listener,
        opts,
        move |stream, peer| {
            log::info!("{peer}: connected");
            let stream = match &tls {
                None => Ok(FramedStream::Plain(stream)),
                Some(t) => t
                    .acceptor
                    .accept(stream, Instant::now() + t.handshake_timeout)
                    .map(FramedStream::Tls),
            };
            let ended = stream
                .and_then(|s| Connection::new(s, deadlines))
                .and_then(|mut conn| {
                    let result = session(&mut conn, peer);
                    let _ = conn.body().map(|s| s.close());
                    result
                });
            match ended {
                Ok(()) => log::info!("{peer}: closed"),
                Err(e) if e.is_disconnect() => log::info!("{peer}: dropped: {e}"),
                Err(e) => log::warn!("{peer}: closed: {e}"),
            }
        },
        move |mut stream, _peer| {
            if refuse_busy {
                let busy = Error::refused(
                    ErrorCode::Busy,
                    "the server is at its connection limit; try again later",
                );
                let _ = socklab_proto::msg::write_error(&mut stream, &busy);
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::{tcp_listener, ListenOptions};

    #[test]
    fn the_default_per_address_cap_is_a_share_of_max_conns_beyond_loopback() {
        let far: IpAddr = "192.0.2.7".parse().unwrap();
        let near: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(per_ip_cap(None, 256, far), Some(32));
        assert_eq!(per_ip_cap(None, 16, far), Some(2));
        assert_eq!(per_ip_cap(None, 3, far), Some(1), "never zero");
        assert_eq!(per_ip_cap(None, 256, near), None);
        assert_eq!(per_ip_cap(Some(5), 256, near), Some(5));
    }
    use std::io::{BufRead, BufReader, Read, Write};

    #[test]
    fn refuses_past_cap_and_stops_on_shutdown() {
        let l = tcp_listener("127.0.0.1:0".parse().unwrap(), ListenOptions::default()).unwrap();
        let addr = l.local_addr().unwrap();
        let opts = ServeOptions {
            max_conns: 1,
            grace: Duration::from_millis(200),
            ..ServeOptions::default()
        };
        let stop = opts.shutdown.clone();
        let server = std::thread::spawn(move || {
            serve(
                l,
                &opts,
                |mut s: TcpStream, _| {
                    let _ = s.write_all(b"hello\n");
                    let _ = s.read(&mut [0u8; 1]);
                },
                |mut s: TcpStream, _| {
                    let _ = s.write_all(b"busy\n");
                },
            )
        });
        let first = TcpStream::connect(addr).unwrap();
        let mut line = String::new();
        BufReader::new(&first).read_line(&mut line).unwrap();
        assert_eq!(line, "hello\n");
        let second = TcpStream::connect(addr).unwrap();
        line.clear();
        BufReader::new(&second).read_line(&mut line).unwrap();
        assert_eq!(line, "busy\n");
        let start = Instant::now();
        stop.trigger();
        server.join().unwrap().unwrap();
        // The first client never closed: the stop cut it after the grace period.
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "took {:?}",
            start.elapsed()
        );
    }
}
