//! The remote shell over TLS (`--tls`): the same frames inside a TLS 1.3 session.
//!
//! ```text
//! terminal 1$ shell-server --users users.txt --tls     # listening on 127.0.0.1:7022
//!                                                      # fingerprint SHA256:…
//! terminal 2$ shell-client --user alice --tls -- uname -a   # asks whether to trust it
//! ```
//!
//! The server side is `accept::serve_framed_tls` (the handshake on each connection's
//! own thread) with a listener that notes when each client was accepted, so the
//! handshake counts against the login deadline (`Accepted`).
//!
//! One rule follows from TLS for the rest of the shell: a TLS session is one state
//! machine, so every byte of it goes through the one [`socklab_net::Connection`] that
//! owns it, on the thread that owns it (no second handle on the socket writes output
//! or reads input), and a readable socket is not the same as a readable frame, either
//! way: rustls may already hold decrypted bytes that `poll(2)` cannot see, and a
//! readable socket may carry only part of a record. `MaybeTls::has_plaintext` and
//! `MaybeTls::pull_readable` answer "is there something to read without waiting?"
//! before and after a `poll`.

use crate::limits::{KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_PROBES, UNACKED_DATA_TIMEOUT};
use rustls::{ConnectionCommon, SideData};
use socklab_net::accept::Listener;
use socklab_net::limits::HANDSHAKE_TIMEOUT;
use socklab_net::socket::connect as tcp_connect;
use socklab_net::tls::{self, ClientOptions, Identity, MaybeTls, OnPlain, Service, TlsAcceptor};
use socklab_net::tls::{ConnectError, Trust};
use socklab_proto::{Error, Result};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

/// A client's socket and the moment it was accepted: the login deadline counts from
/// then, so a client cannot spend one deadline in the handshake and another in login.
#[derive(Debug)]
pub(crate) struct Accepted {
    sock: TcpStream,
    at: Instant,
}

impl Accepted {
    /// When `accept(2)` returned this client.
    pub(crate) fn at(&self) -> Instant {
        self.at
    }
}

impl Read for Accepted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.read(buf)
    }
}

impl Write for Accepted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sock.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.sock.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sock.flush()
    }
}

impl AsFd for Accepted {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

/// A TCP listener whose streams are [`Accepted`].
#[derive(Debug)]
pub(crate) struct TimedListener(pub(crate) TcpListener);

impl Listener for TimedListener {
    type Stream = Accepted;
    fn accept_stream(&self) -> io::Result<(Accepted, String)> {
        let (sock, peer) = self.0.accept_stream()?;
        if let Err(e) = watch_for_silent_death(&sock) {
            log::warn!("{peer}: cannot set TCP keepalive: {e}");
        }
        Ok((
            Accepted {
                sock,
                at: Instant::now(),
            },
            peer,
        ))
    }
}

/// TCP keepalive and `TCP_USER_TIMEOUT` on a client's socket, so a client that
/// vanishes without a FIN is seen within [`KEEPALIVE_IDLE`] +
/// [`KEEPALIVE_PROBES`] × [`KEEPALIVE_INTERVAL`] (idle, or waiting for a command) or
/// [`UNACKED_DATA_TIMEOUT`] (sending it output): the socket then reports an error,
/// the session ends, and its command's tree is killed.
pub(crate) fn watch_for_silent_death(sock: &TcpStream) -> nix::Result<()> {
    use nix::sys::socket::{setsockopt, sockopt};
    let secs = |d: Duration| d.as_secs() as u32;
    setsockopt(sock, sockopt::KeepAlive, &true)?;
    setsockopt(sock, sockopt::TcpKeepIdle, &secs(KEEPALIVE_IDLE))?;
    setsockopt(sock, sockopt::TcpKeepInterval, &secs(KEEPALIVE_INTERVAL))?;
    setsockopt(sock, sockopt::TcpKeepCount, &KEEPALIVE_PROBES)?;
    setsockopt(
        sock,
        sockopt::TcpUserTimeout,
        &(UNACKED_DATA_TIMEOUT.as_millis() as u32),
    )
}

/// The shell's acceptor: ALPN `socklab-shell/1`; a plain client is told
/// `tls_required` in a frame, which shell-client turns into "add --tls".
pub(crate) fn acceptor(identity: &Identity) -> Result<TlsAcceptor> {
    TlsAcceptor::new(identity, Service::Shell, OnPlain::Framed)
}

/// The client's stream: the socket, or a TLS session over it.
pub type ClientStream = MaybeTls<rustls::ClientConnection, TcpStream>;

/// A connection to `host`:`port`, in TLS when `trust` is given (then the server is
/// trusted as it says before anything of ours is sent).
pub(crate) fn connect(
    host: &str,
    port: u16,
    timeout: Duration,
    trust: Option<Trust>,
) -> std::result::Result<ClientStream, ConnectError> {
    let stream: TcpStream = tcp_connect(host, port, timeout)?;
    let Some(trust) = trust else {
        return Ok(MaybeTls::Plain(stream));
    };
    let opts = ClientOptions {
        service: Service::Shell,
        trust,
        handshake_timeout: HANDSHAKE_TIMEOUT,
    };
    Ok(MaybeTls::Tls(tls::client::connect(
        stream, host, port, &opts,
    )?))
}

/// True when the TLS layer of `stream` holds something to read now: decrypted bytes,
/// or the peer's close. Always false for a plain stream, whose readiness `poll(2)`
/// tells exactly.
pub(crate) fn tls_buffered<C, S, D>(stream: &mut MaybeTls<C, S>) -> Result<bool>
where
    C: DerefMut + Deref<Target = ConnectionCommon<D>>,
    S: Read + Write,
    D: SideData + 'static,
{
    Ok(stream.has_plaintext())
}

/// True when a frame (or the end) can be read from `stream` now that `poll(2)` said
/// its socket is readable: always for a plain stream; for TLS only once a whole record
/// of data came (a readable socket may hold part of one, or a record without data).
pub(crate) fn readable_after_poll<C, S, D>(stream: &mut MaybeTls<C, S>) -> Result<bool>
where
    C: DerefMut + Deref<Target = ConnectionCommon<D>>,
    S: Read + Write,
    D: SideData + 'static,
{
    stream
        .pull_readable()
        .map_err(|e| Error::io("reading the TLS session", e))
}
