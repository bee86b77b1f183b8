//! The accept loop every TCP lesson shares: a thread per connection under a cap,
//! and a graceful stop on SIGINT or SIGTERM.
//!
//! The tutorials' servers call `accept`, serve that one client to the end, then
//! accept the next: one client at a time. Here each connection gets its own thread,
//! up to `max_conns`; one more is refused at once (and told why, where the protocol
//! can say it) rather than queued behind the others. A production server with tens of
//! thousands of clients would multiplex them on a few threads with `epoll` instead.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown as Both, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
    /// loop notices within [`crate::ACCEPT_POLL`].
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

/// A connected stream the accept loop can hand out, clone and cut.
pub trait Conn: Read + Write + Send + Sized + 'static {
    /// `dup(2)`: a second handle on the same socket.
    fn try_clone_conn(&self) -> io::Result<Self>;
    /// `shutdown(SHUT_RDWR)`: wakes any thread blocked on this socket.
    fn shutdown_conn(&self);
    /// `shutdown(SHUT_WR)`: send FIN ("no more data from me"), keep reading.
    fn shutdown_write(&self) -> io::Result<()>;
    /// `SO_SNDTIMEO`.
    fn set_write_timeout_conn(&self, t: Option<Duration>) -> io::Result<()>;
}

/// A listening socket: TCP or AF_UNIX.
pub trait Listener {
    /// What `accept` returns.
    type Stream: Conn;
    /// `accept(2)`, with the peer's address as text.
    fn accept_conn(&self) -> io::Result<(Self::Stream, String)>;
}

impl Conn for TcpStream {
    fn try_clone_conn(&self) -> io::Result<Self> {
        self.try_clone()
    }
    fn shutdown_conn(&self) {
        let _ = self.shutdown(Both::Both);
    }
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Both::Write)
    }
    fn set_write_timeout_conn(&self, t: Option<Duration>) -> io::Result<()> {
        self.set_write_timeout(t)
    }
}

impl Conn for UnixStream {
    fn try_clone_conn(&self) -> io::Result<Self> {
        self.try_clone()
    }
    fn shutdown_conn(&self) {
        let _ = self.shutdown(Both::Both);
    }
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Both::Write)
    }
    fn set_write_timeout_conn(&self, t: Option<Duration>) -> io::Result<()> {
        self.set_write_timeout(t)
    }
}

impl Listener for TcpListener {
    type Stream = TcpStream;
    fn accept_conn(&self) -> io::Result<(TcpStream, String)> {
        let (s, peer) = self.accept()?;
        // Accepted sockets inherit nothing we want from the listener's SO_RCVTIMEO
        // (Linux does not copy it), but say so explicitly: they start blocking.
        s.set_read_timeout(None)?;
        // Every socklab protocol is request/reply: send replies at once (TCP_NODELAY).
        // Bulk transfers write 64 KiB at a time, so they lose nothing by it.
        crate::net::set_nodelay(&s).map_err(|e| io::Error::other(e.to_string()))?;
        Ok((s, peer.to_string()))
    }
}

impl Listener for UnixListener {
    type Stream = UnixStream;
    fn accept_conn(&self) -> io::Result<(UnixStream, String)> {
        let (s, _) = self.accept()?;
        s.set_read_timeout(None)?;
        // Unix peers have no address worth printing; number them instead.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Ok((s, format!("unix#{}", NEXT.fetch_add(1, Ordering::Relaxed))))
    }
}

/// How the accept loop runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Connections served at once; one more is refused.
    pub max_conns: usize,
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
            max_conns: crate::MAX_CONNS,
            iterative: false,
            grace: crate::SHUTDOWN_GRACE,
            shutdown: Shutdown::new(),
        }
    }
}

/// Live connections, so a stop can cut the ones that outlive the grace period.
struct Registry<S> {
    next: AtomicU64,
    active: AtomicUsize,
    conns: Mutex<HashMap<u64, S>>,
}

/// Decrements the active count and forgets the connection when its thread ends,
/// however it ends (a panic in a handler included).
struct Slot<S: Conn> {
    id: u64,
    registry: Arc<Registry<S>>,
}

impl<S: Conn> Drop for Slot<S> {
    fn drop(&mut self) {
        if let Ok(mut conns) = self.registry.conns.lock() {
            conns.remove(&self.id);
        }
        self.registry.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Accepts connections until `opts.shutdown` is raised, running `handle(stream, peer)`
/// on a thread of its own for each, at most `opts.max_conns` at once. A connection
/// over the cap is passed to `refuse` (which may write a short reply) and closed.
///
/// On shutdown it stops accepting, waits up to `opts.grace` for handlers to finish,
/// then shuts down the sockets of those still running and returns.
pub fn serve<L, H, R>(listener: L, opts: &ServeOptions, handle: H, refuse: R) -> Result<()>
where
    L: Listener,
    H: Fn(L::Stream, &str) + Send + Sync + 'static,
    R: Fn(L::Stream, &str),
{
    let registry = Arc::new(Registry {
        next: AtomicU64::new(0),
        active: AtomicUsize::new(0),
        conns: Mutex::new(HashMap::new()),
    });
    let handle = Arc::new(handle);
    while !opts.shutdown.is_triggered() {
        let (stream, peer) = match listener.accept_conn() {
            Ok(pair) => pair,
            // Our SO_RCVTIMEO on the listener: no client came within ACCEPT_POLL, or a
            // signal interrupted accept. Look at the stop flag and accept again.
            Err(e) if crate::net::is_wait_over(&e) => continue,
            Err(e) if e.raw_os_error() == Some(24) || e.raw_os_error() == Some(23) => {
                // EMFILE/ENFILE: out of file descriptors. The pending connection stays
                // in the backlog; retrying at once would spin a core, so back off.
                log::warn!("accept: {e}; waiting for connections to close");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Err(e) => {
                log::warn!("accept: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if opts.iterative {
            log::info!("{peer}: accepted (iterative: others wait in the backlog)");
            handle(stream, &peer);
            continue;
        }
        let active = registry.active.load(Ordering::SeqCst);
        if active >= opts.max_conns {
            log::warn!(
                "{peer}: refused, {active} connections already (max {})",
                opts.max_conns
            );
            // A refusal must not block the accept loop on a peer that does not read.
            let _ = stream.set_write_timeout_conn(Some(Duration::from_secs(1)));
            refuse(stream, &peer);
            continue;
        }
        registry.active.fetch_add(1, Ordering::SeqCst);
        let id = registry.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone_conn() {
            if let Ok(mut conns) = registry.conns.lock() {
                conns.insert(id, clone);
            }
        }
        let slot = Slot {
            id,
            registry: Arc::clone(&registry),
        };
        let handle = Arc::clone(&handle);
        let spawned = std::thread::Builder::new()
            .name(format!("conn-{id}"))
            .spawn(move || {
                let _slot = slot;
                handle(stream, &peer);
            });
        if let Err(e) = spawned {
            // The closure (and so the slot) was dropped: the count is already right.
            log::error!("cannot start a thread for a connection: {e}");
        }
    }

    let active = registry.active.load(Ordering::SeqCst);
    if active > 0 {
        log::info!(
            "stopping: waiting up to {:?} for {active} connection(s)",
            opts.grace
        );
    }
    wait_for_idle(&registry, opts.grace);
    if let Ok(conns) = registry.conns.lock() {
        for conn in conns.values() {
            conn.shutdown_conn();
        }
    }
    // Give the handlers a moment to notice the cut and clean up (temp files).
    wait_for_idle(&registry, Duration::from_secs(1));
    log::info!("stopped");
    Ok(())
}

/// [`serve`] for the framed protocols (shell, ftp): runs `session` on each connection,
/// logs how it ended (a peer that went away is not a warning), and answers a client
/// over the cap with a `busy` reply before closing it.
pub fn serve_framed<L, F>(listener: L, opts: &ServeOptions, session: F) -> Result<()>
where
    L: Listener,
    F: Fn(L::Stream, &str) -> Result<()> + Send + Sync + 'static,
{
    serve(
        listener,
        opts,
        move |stream, peer| {
            log::info!("{peer}: connected");
            match session(stream, peer) {
                Ok(()) => log::info!("{peer}: closed"),
                Err(e) if e.is_disconnect() => log::info!("{peer}: dropped: {e}"),
                Err(e) => log::warn!("{peer}: closed: {e}"),
            }
        },
        |mut stream, _peer| {
            let _ = crate::msg::write_failure(
                &mut stream,
                crate::ErrorCode::Busy,
                "the server is at its connection limit; try again later",
            );
        },
    )
}

fn wait_for_idle<S>(registry: &Registry<S>, limit: Duration) {
    let start = Instant::now();
    while registry.active.load(Ordering::SeqCst) > 0 && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{tcp_listener, ListenOptions};
    use std::io::{BufRead, BufReader};

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
