//! One framed connection: a stream, its framing and its deadlines.
//!
//! A [`Connection`] owns a connected stream (TCP or AF_UNIX, and anything else that is
//! `Read + Write + AsFd`), reads and writes whole messages on it (`socklab_proto::msg`),
//! and sets the socket's timeouts itself before each wait, so no handler sets one by
//! hand. Every wait falls under one of three deadlines:
//!
//! - **idle**: between requests, a session may be silent this long
//!   ([`Connection::read_request`]; once a request's first byte has come, the rest of
//!   it must come within the stall deadline);
//! - **stall**: inside an exchange (a reply, a body, a trailer), the peer must move a
//!   byte at least this often ([`Connection::read_header`], [`Connection::body`], and
//!   every write);
//! - **total**: the whole of a login must be over by an instant, however the bytes
//!   trickle in ([`Connection::read_request_by`]). `SO_RCVTIMEO` alone bounds each
//!   `read` call, so a peer sending a byte every few seconds would never trip it: the
//!   timeout is shrunk before every read to whatever is left.
//!
//! A timeout surfaces as `Error::Timeout`; it is made here, where the deadline is
//! known (`Error::under_deadline`).

use crate::limits::{IDLE_TIMEOUT, STALL_TIMEOUT};
use serde::de::DeserializeOwned;
use serde::Serialize;
use socket2::SockRef;
use socklab_proto::msg;
use socklab_proto::{Error, ErrorCode, Result};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// A deadline that never passes: for a client that waits as long as the server
/// takes (a command's output), when the server bounds that time itself.
pub const NO_DEADLINE: Duration = Duration::MAX;

/// How long a [`Connection`] waits for its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Between requests (`--idle-timeout`).
    pub idle: Duration,
    /// With no byte moved inside an exchange, and for every write (`--stall-timeout`).
    pub stall: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            idle: IDLE_TIMEOUT,
            stall: STALL_TIMEOUT,
        }
    }
}

/// A stream, its framing and its deadlines. See the [module docs](self).
#[derive(Debug)]
pub struct Connection<S> {
    stream: S,
    deadlines: Deadlines,
    /// What `SO_RCVTIMEO` is set to now, so an unchanged timeout costs no syscall.
    read_timeout: Option<Duration>,
}

impl<S: Read + Write + AsFd> Connection<S> {
    /// Takes `stream` over. Its writes fail once the peer has taken nothing for
    /// `deadlines.stall`: a peer that stops reading cannot hold this thread.
    pub fn new(stream: S, deadlines: Deadlines) -> Result<Self> {
        SockRef::from(&stream)
            .set_write_timeout(socket_timeout(deadlines.stall))
            .map_err(|e| Error::io("setting the send timeout", e))?;
        Ok(Connection {
            stream,
            deadlines,
            read_timeout: None,
        })
    }

    /// Changes the idle deadline (a session that logs in may wait longer than one
    /// that did not).
    pub fn set_idle(&mut self, idle: Duration) {
        self.deadlines.idle = idle;
    }

    /// Sets `SO_RCVTIMEO` to `t`, unless it is already that.
    fn wait_at_most(&mut self, t: Duration) -> Result<()> {
        if self.read_timeout != Some(t) {
            SockRef::from(&self.stream)
                .set_read_timeout(socket_timeout(t))
                .map_err(|e| Error::io("setting the receive timeout", e))?;
            self.read_timeout = Some(t);
        }
        Ok(())
    }

    /// Waits up to the idle deadline for the first byte of the client's next request
    /// (a [`Request`](socklab_proto::Request), or a lesson's own request type), then
    /// gives the rest of it the stall deadline in total: a peer that dribbles a header
    /// a byte at a time cannot hold the connection past that. `Ok(None)` is a clean
    /// close. A session idle too long is told `timeout`, a malformed or oversized
    /// header `bad_request` (after a bad length the stream is out of step); either way
    /// an error follows, and the caller closes.
    pub fn read_request<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        self.wait_at_most(self.deadlines.idle)?;
        let mut first = [0u8; 1];
        // Read through the stream (not a peek at the socket): a TLS stream may hold a
        // whole pipelined request already decrypted.
        let got = loop {
            match self.stream.read(&mut first) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        match got.map_err(|e| Error::io("waiting for a request", e).under_deadline()) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(Error::Timeout(_)) => {
                let secs = self.deadlines.idle.as_secs();
                let _ =
                    self.send_failure(ErrorCode::Timeout, &format!("idle for {secs} s; closing"));
                return Err(Error::Timeout(format!("idle for {secs} s")));
            }
            Err(e) => return Err(e),
        }
        let deadline = Instant::now() + self.deadlines.stall;
        let read = msg::read_header(&mut (&first[..]).chain(ByDeadline {
            conn: &mut *self,
            deadline,
        }));
        self.read_timeout = None;
        match read.map_err(Error::under_deadline) {
            // The first byte came, so a close now is in the middle of a frame.
            Ok(None) => Err(Error::UnexpectedEof("a frame length")),
            Ok(request) => Ok(request),
            Err(e) if e.is_disconnect() => Err(e),
            Err(e) => {
                let _ = self.send_error(&e);
                Err(e)
            }
        }
    }

    /// Reads the next request, all of it by `deadline` (a login's total deadline).
    /// `Ok(None)` is a clean close; past the deadline, `Error::Timeout` (the caller
    /// decides what to tell the peer).
    pub fn read_request_by<T: DeserializeOwned>(&mut self, deadline: Instant) -> Result<Option<T>> {
        let read = msg::read_header(&mut ByDeadline {
            conn: &mut *self,
            deadline,
        });
        // The next wait sets its own timeout again.
        self.read_timeout = None;
        read.map_err(Error::under_deadline)
    }

    /// Reads a header the peer owes now (a reply, a trailer, an output chunk), waiting
    /// at most the stall deadline for each byte. `Ok(None)` is a clean close.
    pub fn read_header<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        self.wait_at_most(self.deadlines.stall)?;
        msg::read_header(&mut self.stream).map_err(Error::under_deadline)
    }

    /// Reads the reply to a request: `{"ok":true,…}` as `T`, `{"ok":false,…}` as
    /// `Error::Remote`.
    pub fn read_reply<T: DeserializeOwned>(&mut self) -> Result<T> {
        self.wait_at_most(self.deadlines.stall)?;
        msg::read_reply(&mut self.stream).map_err(Error::under_deadline)
    }

    /// Sends one header: a request, a trailer, an output chunk's header.
    pub fn send<T: Serialize + ?Sized>(&mut self, header: &T) -> Result<()> {
        msg::write_header(&mut self.stream, header).map_err(Error::under_deadline)
    }

    /// Sends a successful reply: `value`'s fields plus `"ok": true`.
    pub fn send_ok<T: Serialize>(&mut self, value: &T) -> Result<()> {
        msg::write_ok(&mut self.stream, value).map_err(Error::under_deadline)
    }

    /// Sends `{"ok":false,"code":…,"error":…}`.
    pub fn send_failure(&mut self, code: ErrorCode, message: &str) -> Result<()> {
        msg::write_failure(&mut self.stream, code, message).map_err(Error::under_deadline)
    }

    /// Sends the failed reply that describes `err`.
    pub fn send_error(&mut self, err: &Error) -> Result<()> {
        msg::write_error(&mut self.stream, err).map_err(Error::under_deadline)
    }

    /// The stream, to move a body through: its reads wait at most the stall deadline
    /// for each byte, as its writes always do. Map what fails with
    /// `Error::under_deadline`.
    pub fn body(&mut self) -> Result<&mut S> {
        self.wait_at_most(self.deadlines.stall)?;
        Ok(&mut self.stream)
    }

    /// The stream, to look at (its address, its descriptor for `poll`).
    pub fn get_ref(&self) -> &S {
        &self.stream
    }
}

/// The socket option's value for a deadline: `None` (no timeout) for [`NO_DEADLINE`],
/// and at least a microsecond otherwise, since zero would mean "no timeout" to the
/// kernel.
fn socket_timeout(t: Duration) -> Option<Duration> {
    (t != NO_DEADLINE).then(|| t.max(Duration::from_micros(1)))
}

/// Reads through a [`Connection`]'s stream, shrinking the socket's timeout before
/// every read to what is left until `deadline`.
struct ByDeadline<'a, S> {
    conn: &'a mut Connection<S>,
    deadline: Instant,
}

impl<S: Read + Write + AsFd> Read for ByDeadline<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
        }
        SockRef::from(&self.conn.stream).set_read_timeout(Some(left))?;
        self.conn.stream.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, s)
    }

    #[test]
    fn a_byte_at_a_time_does_not_extend_a_total_deadline() {
        let (mut c, s) = pair();
        let writer = std::thread::spawn(move || {
            // A frame announcing 100 bytes, then a byte every 100 ms.
            let _ = c.write_all(&100u32.to_be_bytes());
            for _ in 0..8 {
                if c.write_all(b" ").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let mut conn = Connection::new(s, Deadlines::default()).unwrap();
        let start = Instant::now();
        let err = conn
            .read_request_by::<msg::Empty>(start + Duration::from_millis(350))
            .unwrap_err();
        let took = start.elapsed();
        assert!(matches!(err, Error::Timeout(_)), "{err:?}");
        assert!(took < Duration::from_millis(700), "took {took:?}");
        drop(conn);
        writer.join().unwrap();
    }

    #[test]
    fn an_idle_session_is_told_timeout_then_closed() {
        let (mut c, s) = pair();
        let mut conn = Connection::new(
            s,
            Deadlines {
                idle: Duration::from_millis(200),
                stall: Duration::from_secs(5),
            },
        )
        .unwrap();
        let err = conn.read_request::<msg::Empty>().unwrap_err();
        assert!(
            matches!(err, Error::Timeout(ref m) if m == "idle for 0 s"),
            "{err:?}"
        );
        let reply = msg::read_reply::<_, msg::Empty>(&mut c).unwrap_err();
        assert!(
            matches!(
                reply,
                Error::Remote {
                    code: ErrorCode::Timeout,
                    ..
                }
            ),
            "{reply:?}"
        );
    }

    #[test]
    fn a_request_dribbled_a_byte_at_a_time_is_cut_at_the_stall_deadline() {
        let (mut c, s) = pair();
        let writer = std::thread::spawn(move || {
            // A frame announcing 100 bytes, sent a byte every 100 ms: each byte is well
            // inside the idle deadline, but the whole header is not.
            let _ = c.write_all(&100u32.to_be_bytes());
            for _ in 0..20 {
                if c.write_all(b" ").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let deadlines = Deadlines {
            idle: Duration::from_secs(60),
            stall: Duration::from_millis(400),
        };
        let mut conn = Connection::new(s, deadlines).unwrap();
        let start = Instant::now();
        let err = conn.read_request::<msg::Empty>().unwrap_err();
        let took = start.elapsed();
        assert!(matches!(err, Error::Timeout(_)), "{err:?}");
        assert!(
            took < Duration::from_secs(2),
            "a dribbled header held the connection {took:?}"
        );
        drop(conn);
        writer.join().unwrap();
    }

    #[test]
    fn a_malformed_request_is_answered_bad_request() {
        let (mut c, s) = pair();
        let mut conn = Connection::new(s, Deadlines::default()).unwrap();
        socklab_proto::frame::write_frame(&mut c, b"[1]", 100).unwrap();
        assert!(matches!(
            conn.read_request::<socklab_proto::Request>(),
            Err(Error::BadHeader(_))
        ));
        let reply = msg::read_reply::<_, msg::Empty>(&mut c).unwrap_err();
        assert!(
            matches!(
                reply,
                Error::Remote {
                    code: ErrorCode::BadRequest,
                    ..
                }
            ),
            "{reply:?}"
        );
    }
}
