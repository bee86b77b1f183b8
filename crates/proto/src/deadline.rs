//! A total deadline on a stream, not just an idle timer.
//!
//! `set_read_timeout` bounds each `read` call. A peer that sends one byte every few
//! seconds never trips it, and could hold a connection (and a thread) forever before
//! logging in. [`DeadlineStream`] shrinks the socket's timeout before every read to
//! whatever is left of the deadline, so the whole exchange must finish in time.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// A stream whose read timeout can be changed: TCP and AF_UNIX sockets.
pub trait SetReadTimeout {
    /// `SO_RCVTIMEO`.
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()>;
}

impl SetReadTimeout for std::net::TcpStream {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        std::net::TcpStream::set_read_timeout(self, t)
    }
}

impl SetReadTimeout for std::os::unix::net::UnixStream {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, t)
    }
}

/// Wraps a stream so reads fail with `TimedOut` once `deadline` has passed.
#[derive(Debug)]
pub struct DeadlineStream<'a, S> {
    inner: &'a mut S,
    deadline: Instant,
}

impl<'a, S: SetReadTimeout> DeadlineStream<'a, S> {
    /// Reads through `inner` must all be done by `deadline`.
    pub fn new(inner: &'a mut S, deadline: Instant) -> Self {
        DeadlineStream { inner, deadline }
    }
}

impl<S: Read + SetReadTimeout> Read for DeadlineStream<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
        }
        self.inner.set_read_timeout(Some(left))?;
        self.inner.read(buf)
    }
}

impl<S: Write> Write for DeadlineStream<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn a_byte_at_a_time_does_not_extend_the_deadline() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        let writer = std::thread::spawn(move || {
            for _ in 0..8 {
                if c.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let start = Instant::now();
        let mut d = DeadlineStream::new(&mut s, start + Duration::from_millis(350));
        let mut buf = [0u8; 100];
        let err = d.read_exact(&mut buf).unwrap_err();
        let took = start.elapsed();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ),
            "{err:?}"
        );
        assert!(took < Duration::from_millis(700), "took {took:?}");
        drop(s);
        writer.join().unwrap();
    }
}
