//! Socket setup with `socket2`: one small function per socket option.
//!
//! `std::net::TcpListener::bind` hides the calls a server makes, and picks the backlog
//! and options for you. socklab spells them out, in the order the C API wants them:
//! `socket()`, `setsockopt()`…, `bind()`, `listen(backlog)`. Each option has its own
//! function naming the C option and saying why it is set.

use crate::limits::{ACCEPT_POLL, DEFAULT_BACKLOG};
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use socklab_proto::{Error, Result};
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::Duration;

/// How a listening socket is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenOptions {
    /// `listen(2)` backlog.
    pub backlog: i32,
    /// Set `SO_REUSEADDR` (on by default; `--no-reuse-addr` turns it off to show why).
    pub reuse_addr: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            backlog: DEFAULT_BACKLOG,
            reuse_addr: true,
        }
    }
}

/// `SO_REUSEADDR`: lets a restarted server bind its port while connections from its
/// previous run sit in TIME_WAIT. Without it, `bind` fails with "Address already in
/// use" for up to a minute after a restart: the tutorials' most asked question.
/// It does not let two live servers share a port on Linux; that is `SO_REUSEPORT`.
fn set_reuse_addr(socket: &Socket, on: bool) -> Result<()> {
    socket
        .set_reuse_address(on)
        .map_err(|e| Error::io("setting SO_REUSEADDR", e))
}

/// `IPV6_V6ONLY` off: an IPv6 socket bound to `::` also accepts IPv4 clients, who
/// appear as `::ffff:a.b.c.d`. One socket then serves both families ("dual stack").
/// Linux defaults to off, but BSDs and Windows default to on, so we say it.
fn set_dual_stack(socket: &Socket, on: bool) -> Result<()> {
    socket
        .set_only_v6(!on)
        .map_err(|e| Error::io("setting IPV6_V6ONLY", e))
}

/// `listen(backlog)`: turns a bound socket into a listening one. The kernel completes
/// up to `backlog` handshakes and queues them until `accept` takes them; past that,
/// Linux drops new SYNs and the client retries, which is why a slow, one-at-a-time
/// server makes clients hang instead of failing.
fn listen(socket: &Socket, backlog: i32) -> Result<()> {
    socket
        .listen(backlog)
        .map_err(|e| Error::io(format!("listen(backlog={backlog})"), e))
}

/// `SO_RCVTIMEO` on a listening socket: on Linux it bounds how long `accept` blocks.
/// Our accept loops wake every [`ACCEPT_POLL`] to see whether SIGTERM asked them to
/// stop. A production server would wait in `poll`/`epoll` on the listener and a
/// self-pipe instead (the event-loop lesson shows that).
fn set_accept_timeout(listener: SockRef<'_>, timeout: Duration) -> Result<()> {
    listener
        .set_read_timeout(Some(timeout))
        .map_err(|e| Error::io("setting SO_RCVTIMEO on the listener", e))
}

/// `TCP_NODELAY`: send small writes at once instead of waiting (Nagle's algorithm) to
/// merge them. Request/reply protocols want it; otherwise a reply can wait up to 40 ms
/// for the peer's delayed ACK. Bulk transfers write 64 KiB and more at a time, so they
/// lose nothing by it. On a listener it is inherited by every accepted socket.
fn set_nodelay(socket: SockRef<'_>) -> Result<()> {
    socket
        .set_nodelay(true)
        .map_err(|e| Error::io("setting TCP_NODELAY", e))
}

/// `socket()`, options, `bind()`, `listen()`: a TCP listener as the C API builds it.
/// Binding `::` turns dual stack on, so one socket serves IPv4 and IPv6. Every
/// socklab protocol is request/reply, so `TCP_NODELAY` is set here, once, and each
/// accepted socket inherits it.
pub fn tcp_listener(addr: SocketAddr, opts: ListenOptions) -> Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| Error::io("creating a TCP socket", e))?;
    set_reuse_addr(&socket, opts.reuse_addr)?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        set_dual_stack(&socket, true)?;
    }
    set_nodelay(SockRef::from(&socket))?;
    socket
        .bind(&addr.into())
        .map_err(|e| bind_error(&addr.to_string(), e))?;
    listen(&socket, opts.backlog)?;
    let listener: TcpListener = socket.into();
    set_accept_timeout(SockRef::from(&listener), ACCEPT_POLL)?;
    Ok(listener)
}

/// An AF_UNIX stream listener at `path`. A stale socket file left by a server that
/// was killed is removed first, but only if nothing answers on it.
pub fn unix_listener(path: &Path, backlog: i32) -> Result<UnixListener> {
    if path.exists() && std::os::unix::net::UnixStream::connect(path).is_err() {
        // Nobody listens: it is a leftover from a killed server.
        let _ = std::fs::remove_file(path);
    }
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)
        .map_err(|e| Error::io("creating a unix socket", e))?;
    let addr = socket2::SockAddr::unix(path)
        .map_err(|e| Error::io(format!("unix socket path {}", path.display()), e))?;
    socket
        .bind(&addr)
        .map_err(|e| bind_error(&path.display().to_string(), e))?;
    listen(&socket, backlog)?;
    let listener: UnixListener = socket.into();
    set_accept_timeout(SockRef::from(&listener), ACCEPT_POLL)?;
    Ok(listener)
}

/// A UDP socket bound to `addr`, dual stack when `addr` is `::`.
pub fn udp_socket(addr: SocketAddr) -> Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| Error::io("creating a UDP socket", e))?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        set_dual_stack(&socket, true)?;
    }
    socket
        .bind(&addr.into())
        .map_err(|e| bind_error(&addr.to_string(), e))?;
    Ok(socket.into())
}

fn bind_error(what: &str, e: std::io::Error) -> Error {
    let hint = match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            " (another server is using it; choose another --port, or --port 0 for any free one)"
        }
        std::io::ErrorKind::PermissionDenied => " (ports below 1024 need root)",
        _ => "",
    };
    Error::io(format!("cannot bind {what}{hint}"), e)
}

/// Resolves `host` (a name or a literal address) and `port` to the address a server
/// binds: the first one the resolver gives.
pub fn bind_addr(host: &str, port: u16) -> Result<SocketAddr> {
    resolve(host, port)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Usage(format!("{host} has no address")))
}

/// `getaddrinfo`: every address `host:port` resolves to, in the resolver's order.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    // Literal IPv6 addresses may come with brackets, as users copy them from URLs.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    (bare, port)
        .to_socket_addrs()
        .map(Iterator::collect)
        .map_err(|e| Error::io(format!("cannot resolve {host}"), e))
}

/// Connects like Python's `socket.create_connection`: resolves `host`, tries each
/// address in turn with a timeout, and returns the first that answers, with
/// `TCP_NODELAY` set (every socklab protocol is request/reply). The error names the
/// address and says what a user should check.
pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream> {
    let mut last = None;
    for addr in resolve(host, port)? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                set_nodelay(SockRef::from(&stream))?;
                return Ok(stream);
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    Err(match last {
        Some((addr, e)) => connect_error(&addr.to_string(), e),
        None => Error::Usage(format!("{host} has no address")),
    })
}

/// The error a client shows when `connect` fails, with a hint for the usual causes.
pub fn connect_error(what: &str, e: std::io::Error) -> Error {
    let hint = match e.kind() {
        std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound => {
            " (is the server running?)"
        }
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            " (no answer: check the host, the port and any firewall)"
        }
        _ => "",
    };
    Error::io(format!("cannot connect to {what}{hint}"), e)
}

/// True for what a blocking call returns when its `SO_RCVTIMEO` passed with nothing
/// to read (`EAGAIN`, which std reports as `WouldBlock`, or `TimedOut`), or when a
/// signal interrupted it (`EINTR`): nothing went wrong, look at the clock and the stop
/// flag, then call again.
pub fn is_wait_over(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock
            | std::io::ErrorKind::TimedOut
            | std::io::ErrorKind::Interrupted
    )
}

/// Prints the server's first stdout line, `listening on ADDR`, with the address it
/// really bound (so `--port 0` works), and flushes it so a script reading the pipe
/// sees it at once.
pub fn announce(addr: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}

/// Warns, loudly, when a server that takes passwords and runs commands or serves files
/// is bound to anything but loopback: socklab does not encrypt its traffic.
pub fn warn_if_exposed(addr: SocketAddr, what: &str) {
    if !addr.ip().is_loopback() {
        log::warn!(
            "{what} is listening on {addr}, beyond this machine: passwords, commands and \
             data cross the network IN CLEAR. Prefer the default 127.0.0.1 and an ssh \
             tunnel (ssh -L PORT:127.0.0.1:PORT host), see docs/security.md"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn accepted_sockets_inherit_nodelay_from_the_listener() {
        let l = tcp_listener("127.0.0.1:0".parse().unwrap(), ListenOptions::default()).unwrap();
        let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        assert!(s.nodelay().unwrap(), "TCP_NODELAY was not inherited");
    }

    #[test]
    fn port_zero_listener_reports_real_port() {
        let l = tcp_listener("127.0.0.1:0".parse().unwrap(), ListenOptions::default()).unwrap();
        assert_ne!(l.local_addr().unwrap().port(), 0);
    }

    #[test]
    fn dual_stack_listener_accepts_ipv4_client() {
        let l = match tcp_listener("[::]:0".parse().unwrap(), ListenOptions::default()) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("skipping: no IPv6 on this machine: {e}");
                return;
            }
        };
        let port = l.local_addr().unwrap().port();
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut s, peer) = l.accept().unwrap();
        assert!(
            peer.to_string().starts_with("[::ffff:127.0.0.1]"),
            "peer {peer}"
        );
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"x");
    }

    #[test]
    fn connect_to_closed_port_says_nothing_listens() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = connect("127.0.0.1", port, Duration::from_secs(2)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("is the server running?"), "{msg}");
    }

    #[test]
    fn second_bind_on_a_live_port_names_the_problem() {
        let l = tcp_listener("127.0.0.1:0".parse().unwrap(), ListenOptions::default()).unwrap();
        let err = tcp_listener(l.local_addr().unwrap(), ListenOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("another server is using it"),
            "{err}"
        );
    }

    #[test]
    fn resolve_accepts_bracketed_ipv6() {
        assert_eq!(
            resolve("[::1]", 7).unwrap(),
            vec!["[::1]:7".parse().unwrap()]
        );
    }

    #[test]
    fn accept_times_out_so_loops_can_check_for_shutdown() {
        let l = tcp_listener("127.0.0.1:0".parse().unwrap(), ListenOptions::default()).unwrap();
        let err = l.accept().unwrap_err();
        assert!(
            matches!(
                err.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{err:?}"
        );
    }
}
