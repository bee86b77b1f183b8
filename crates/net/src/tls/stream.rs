//! [`TlsStream`]: a TLS session over a socket, usable wherever a socket is.

use nix::sys::socket::MsgFlags;
use rustls::{ConnectionCommon, SideData, StreamOwned};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// A TLS session (`C` is `rustls::ServerConnection` or `rustls::ClientConnection`)
/// over the socket `S` it owns.
///
/// It is `Read + Write + AsFd`, so `Connection::new(tls_stream, deadlines)` works as
/// with a `TcpStream`: the descriptor is the socket's, and the socket timeouts a
/// `Connection` sets bound the reads and writes rustls makes under it (a timeout in
/// the middle of a record loses nothing: rustls keeps the partial record).
///
/// Dropping it closes the socket without a TLS `close_notify`; call
/// [`TlsStream::close`] first where the peer should see a clean end.
pub struct TlsStream<C, S: Read + Write = TcpStream>(StreamOwned<C, S>);

impl<C, S, D> TlsStream<C, S>
where
    C: DerefMut + Deref<Target = ConnectionCommon<D>>,
    S: Read + Write,
    D: SideData + 'static,
{
    pub(crate) fn new(conn: C, sock: S) -> Self {
        TlsStream(StreamOwned::new(conn, sock))
    }

    /// The socket under the session (its address, its options).
    pub fn get_ref(&self) -> &S {
        self.0.get_ref()
    }

    /// The ALPN protocol both ends agreed on, if the client offered one.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.0.conn.alpn_protocol()
    }

    /// Ends the session cleanly: sends `close_notify` (the peer's next read returns
    /// end of file rather than an error), under the socket's send timeout.
    pub fn close(&mut self) -> io::Result<()> {
        self.0.conn.send_close_notify();
        self.0.flush()
    }

    /// Whether a read now returns without touching the socket: rustls holds
    /// decrypted bytes, or saw the peer's close, or an error that the read will
    /// report. `poll(2)` on the socket cannot see any of these, so an event loop asks
    /// this before it sleeps in `poll`.
    pub fn has_plaintext(&mut self) -> bool {
        match self.0.conn.process_new_packets() {
            Ok(state) => state.plaintext_bytes_to_read() > 0 || state.peer_has_closed(),
            Err(_) => true,
        }
    }

    /// For an event loop, once `poll(2)` said the socket is readable: takes what the
    /// socket holds (one `read`, which then does not block) into the TLS layer, and
    /// says whether a read now returns data or the end without waiting. False when
    /// only part of a record came, or a record without data (a session ticket, a key
    /// update): then `poll` again.
    pub fn pull_readable(&mut self) -> io::Result<bool> {
        if self.has_plaintext() {
            return Ok(true);
        }
        match self.0.conn.read_tls(&mut self.0.sock) {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return Ok(false)
            }
            // The end, a reset, a full buffer: the next read says which.
            Err(_) => return Ok(true),
        }
        Ok(self.has_plaintext())
    }
}

impl<C, S, D> Read for TlsStream<C, S>
where
    C: DerefMut + Deref<Target = ConnectionCommon<D>>,
    S: Read + Write + AsFd,
    D: SideData + 'static,
{
    /// Waits for a record of data (or the end), then adds every further record the
    /// socket already holds, as far as `buf` goes: a socket's `read` returns all that
    /// has arrived, and so does this one. Returning one record per call instead
    /// would make a bulk reader pay a `write` and a hand-over per 16 KiB.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = self.read_one(buf)?;
        while n > 0 && n < buf.len() {
            match self.0.conn.reader().read(&mut buf[n..]) {
                Ok(got) if got > 0 => n += got,
                // Nothing decrypted is left: fetch more only if it is already here.
                _ if self.pull_arrived() => {}
                _ => break,
            }
        }
        Ok(n)
    }
}

impl<C, S, D> TlsStream<C, S>
where
    C: DerefMut + Deref<Target = ConnectionCommon<D>>,
    S: Read + Write + AsFd,
    D: SideData + 'static,
{
    /// Waits for a record of data (or the end) and returns what `buf` takes of it.
    /// rustls's own `Stream::read` would first send, waiting, whatever records wait to
    /// go out ([`TlsStream::send_now`]); a peer that does not read until this end
    /// reads would then never move. Here they go out as far as the socket takes them
    /// now, and the rest waits for the next `send_now`, `write` or `flush`.
    fn read_one(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            self.send_now(&[])?;
            match self.0.conn.reader().read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Data, the peer's `close_notify` (0), or a cut without it (an error).
                done => return done,
            }
            let got = self.0.conn.read_tls(&mut self.0.sock)?;
            if let Err(e) = self.0.conn.process_new_packets() {
                // The alert that says why, as rustls's own reader sends it.
                let _ = self.send_now(&[]);
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            if got == 0 {
                // The socket's end: the reader now says whether it was a clean one.
                return self.0.conn.reader().read(buf);
            }
        }
    }

    /// Takes into the TLS layer what the socket holds now, without waiting (one
    /// `recv` with `MSG_DONTWAIT`), and decrypts it. False when nothing came, or
    /// something went wrong: the next read meets the same state and reports it. Also
    /// false when rustls has something to send (a key update's answer), which the
    /// next read offers to the socket first.
    fn pull_arrived(&mut self) -> bool {
        if self.0.conn.wants_write() {
            return false;
        }
        let got = self.0.conn.read_tls(&mut DontWait(self.0.sock.as_fd()));
        matches!(got, Ok(n) if n > 0) && self.0.conn.process_new_packets().is_ok()
    }

    /// For an event loop that must go on reading while it sends: takes what the
    /// session's send buffer has room for of `data` (returns how much), and sends
    /// what the socket accepts now, without waiting. The rest of `data` is the
    /// caller's to offer again once `poll(2)` says the socket is writable (see
    /// [`TlsStream::sending`]). A blocking `write` instead could wait on a peer that
    /// is itself waiting for this end to read.
    pub fn send_now(&mut self, data: &[u8]) -> io::Result<usize> {
        let took = if data.is_empty() {
            0
        } else {
            self.0.conn.writer().write(data)?
        };
        while self.0.conn.wants_write() {
            match self.0.conn.write_tls(&mut DontWait(self.0.sock.as_fd())) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(took)
    }

    /// Whether records taken by [`TlsStream::send_now`] still wait for the socket.
    pub fn sending(&self) -> bool {
        self.0.conn.wants_write()
    }
}

/// A socket read or written without waiting: `WouldBlock` when it holds nothing yet,
/// or has no room.
struct DontWait<'a>(BorrowedFd<'a>);

impl Read for DontWait<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        nix::sys::socket::recv(self.0.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT)
            .map_err(io::Error::from)
    }
}

/// Never wait, never raise SIGPIPE (a closed peer is an `EPIPE` error instead).
const DONTWAIT_SEND: MsgFlags = MsgFlags::MSG_DONTWAIT.union(MsgFlags::MSG_NOSIGNAL);

impl Write for DontWait<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        nix::sys::socket::send(self.0.as_raw_fd(), buf, DONTWAIT_SEND).map_err(io::Error::from)
    }

    /// Every record rustls holds in one `sendmsg`: the default would send the first
    /// alone, a system call (and a TCP segment) per 16 KiB record.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        nix::sys::socket::sendmsg::<()>(self.0.as_raw_fd(), bufs, &[], DONTWAIT_SEND, None)
            .map_err(io::Error::from)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<C, S, D> Write for TlsStream<C, S>
where
    C: DerefMut + Deref<Target = ConnectionCommon<D>>,
    S: Read + Write,
    D: SideData + 'static,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<C, S: Read + Write + AsFd> AsFd for TlsStream<C, S> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.sock.as_fd()
    }
}

impl<C, S: Read + Write + AsRawFd> AsRawFd for TlsStream<C, S> {
    fn as_raw_fd(&self) -> RawFd {
        self.0.sock.as_raw_fd()
    }
}

impl<C, S: Read + Write + fmt::Debug> fmt::Debug for TlsStream<C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("sock", &self.0.sock)
            .finish_non_exhaustive()
    }
}

/// The socket during a handshake: every read and write waits at most until
/// `deadline` (the timeout is shrunk before each call, so a peer sending a byte a
/// second cannot stretch the handshake), and the first bytes each way are kept, so a
/// failed handshake can say whether the peer spoke TLS at all.
pub(crate) struct HandshakeIo<'a, S> {
    pub(crate) stream: &'a mut S,
    pub(crate) deadline: std::time::Instant,
    pub(crate) first_in: Vec<u8>,
    pub(crate) first_out: Vec<u8>,
}

/// How many leading bytes [`HandshakeIo`] keeps each way: a TLS record header.
const SNIFF: usize = 5;

/// Adds to `kept` the start of `bytes`, up to [`SNIFF`] bytes in all.
fn keep_first(kept: &mut Vec<u8>, bytes: &[u8]) {
    let room = SNIFF.saturating_sub(kept.len());
    kept.extend_from_slice(&bytes[..room.min(bytes.len())]);
}

impl<'a, S: AsFd> HandshakeIo<'a, S> {
    pub(crate) fn new(stream: &'a mut S, deadline: std::time::Instant) -> Self {
        HandshakeIo {
            stream,
            deadline,
            first_in: Vec::new(),
            first_out: Vec::new(),
        }
    }

    /// What is left until the deadline, or `TimedOut` once it passed.
    fn left(&self) -> io::Result<std::time::Duration> {
        let left = self
            .deadline
            .saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
        }
        Ok(left)
    }

    /// Hands the socket back as `accept` or `connect` gave it: no timeouts.
    pub(crate) fn clear_timeouts(&self) -> io::Result<()> {
        let sock = socket2::SockRef::from(&*self.stream);
        sock.set_read_timeout(None)?;
        sock.set_write_timeout(None)
    }
}

impl<S: Read + AsFd> Read for HandshakeIo<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.left()?;
        socket2::SockRef::from(&*self.stream).set_read_timeout(Some(left))?;
        let n = self.stream.read(buf)?;
        keep_first(&mut self.first_in, &buf[..n]);
        Ok(n)
    }
}

impl<S: Write + AsFd> Write for HandshakeIo<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.left()?;
        socket2::SockRef::from(&*self.stream).set_write_timeout(Some(left))?;
        let n = self.stream.write(buf)?;
        keep_first(&mut self.first_out, &buf[..n]);
        Ok(n)
    }

    /// Vectored, as rustls writes: its last write after a failed handshake (the
    /// alert, behind the ServerHello) is one call, and the default `write_vectored`
    /// would send only the first buffer.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let left = self.left()?;
        socket2::SockRef::from(&*self.stream).set_write_timeout(Some(left))?;
        let n = self.stream.write_vectored(bufs)?;
        let mut written = n;
        for buf in bufs {
            let sent = buf.len().min(written);
            keep_first(&mut self.first_out, &buf[..sent]);
            written -= sent;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// A stream that is TLS or not, decided per server at start (`--tls`): one type, so a
/// session handler written once serves both (`Connection<MaybeTls<C, TcpStream>>`).
#[derive(Debug)]
pub enum MaybeTls<C, S: Read + Write = TcpStream> {
    /// The socket itself.
    Plain(S),
    /// A TLS session over it.
    Tls(TlsStream<C, S>),
}

impl<C, S, D> Read for MaybeTls<C, S>
where
    C: DerefMut + Deref<Target = ConnectionCommon<D>>,
    S: Read + Write + AsFd,
    D: SideData + 'static,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            MaybeTls::Plain(s) => s.read(buf),
            MaybeTls::Tls(s) => s.read(buf),
        }
    }
}

impl<C, S, D> Write for MaybeTls<C, S>
where
    C: DerefMut + Deref<Target = ConnectionCommon<D>>,
    S: Read + Write,
    D: SideData + 'static,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            MaybeTls::Plain(s) => s.write(buf),
            MaybeTls::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            MaybeTls::Plain(s) => s.flush(),
            MaybeTls::Tls(s) => s.flush(),
        }
    }
}

impl<C, S: Read + Write + AsFd> AsFd for MaybeTls<C, S> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            MaybeTls::Plain(s) => s.as_fd(),
            MaybeTls::Tls(s) => s.as_fd(),
        }
    }
}

impl<C, S, D> MaybeTls<C, S>
where
    C: DerefMut + Deref<Target = ConnectionCommon<D>>,
    S: Read + Write,
    D: SideData + 'static,
{
    /// The socket under it.
    pub fn get_ref(&self) -> &S {
        match self {
            MaybeTls::Plain(s) => s,
            MaybeTls::Tls(s) => s.get_ref(),
        }
    }

    /// Ends a TLS session with `close_notify`; nothing to do for a plain stream.
    pub fn close(&mut self) -> io::Result<()> {
        match self {
            MaybeTls::Plain(_) => Ok(()),
            MaybeTls::Tls(s) => s.close(),
        }
    }

    /// Whether a read now returns without touching the socket
    /// ([`TlsStream::has_plaintext`]); always false for a plain stream, whose
    /// readiness `poll(2)` tells exactly.
    pub fn has_plaintext(&mut self) -> bool {
        match self {
            MaybeTls::Plain(_) => false,
            MaybeTls::Tls(s) => s.has_plaintext(),
        }
    }

    /// Once `poll(2)` said the socket is readable, whether a read returns without
    /// waiting ([`TlsStream::pull_readable`]); always true for a plain stream.
    pub fn pull_readable(&mut self) -> io::Result<bool> {
        match self {
            MaybeTls::Plain(_) => Ok(true),
            MaybeTls::Tls(s) => s.pull_readable(),
        }
    }
}

impl<C, S, D> MaybeTls<C, S>
where
    C: DerefMut + Deref<Target = ConnectionCommon<D>>,
    S: Read + Write + AsFd,
    D: SideData + 'static,
{
    /// [`TlsStream::send_now`] for either kind: takes what fits of `data` without
    /// waiting for the socket, and returns how much.
    pub fn send_now(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            MaybeTls::Plain(_) if data.is_empty() => Ok(0),
            MaybeTls::Plain(s) => match DontWait(s.as_fd()).write(data) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
                sent => sent,
            },
            MaybeTls::Tls(s) => s.send_now(data),
        }
    }

    /// Whether a TLS session holds records [`MaybeTls::send_now`] took that still
    /// wait for the socket; a plain socket never holds any.
    pub fn sending(&self) -> bool {
        matches!(self, MaybeTls::Tls(s) if s.sending())
    }
}

/// Whether what a stream carries is encrypted on the wire: a login sends its password
/// first thing only where it is (see `socklab_auth::client_login`).
pub trait Encrypted {
    /// True for a TLS session, false for a bare socket.
    fn encrypted(&self) -> bool;
}

impl<C, S: Read + Write> Encrypted for MaybeTls<C, S> {
    fn encrypted(&self) -> bool {
        matches!(self, MaybeTls::Tls(_))
    }
}

impl<C, S: Read + Write> Encrypted for TlsStream<C, S> {
    fn encrypted(&self) -> bool {
        true
    }
}

impl Encrypted for TcpStream {
    fn encrypted(&self) -> bool {
        false
    }
}

impl Encrypted for std::os::unix::net::UnixStream {
    fn encrypted(&self) -> bool {
        false
    }
}
