//! The echo client: a `>> ` prompt for people, pipe mode for scripts.
//!
//! The tutorials' client sent a line and called `recv(1024)` once. A reply longer than
//! 1024 bytes, or one that TCP delivered in two pieces, came out wrong, and the next
//! prompt printed the leftovers of the last. Here the prompt reads back exactly as many
//! bytes as it sent, and pipe mode streams stdin to the server on one thread while it
//! reads the echo on another, so `echo-client < big.bin > out.bin` works at any size:
//! neither side waits for the other to drain a full socket buffer.

use socket2::SockRef;
use socklab_net::limits::IO_BUFFER;
use socklab_net::socket::{connect, connect_error};
use socklab_prompt::{Failure, Prompt, Step, Stopped};
use socklab_proto::{Error, Result};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

/// Where the server is.
#[derive(Debug, Clone)]
pub enum Target {
    /// `--host` and `--port`.
    Tcp {
        /// A name or address.
        host: String,
        /// The port.
        port: u16,
    },
    /// `--unix PATH`.
    Unix(PathBuf),
}

/// A connected stream of either family.
#[derive(Debug)]
pub enum EchoStream {
    /// TCP over IPv4 or IPv6.
    Tcp(TcpStream),
    /// AF_UNIX stream socket.
    Unix(UnixStream),
}

impl EchoStream {
    /// Connects to `target`, giving up after `timeout` (TCP only; a Unix connect
    /// either succeeds or fails at once).
    pub fn open(target: &Target, timeout: Duration) -> Result<EchoStream> {
        match target {
            Target::Tcp { host, port } => {
                // `connect` sets TCP_NODELAY: prompt mode sends one short line and
                // waits, and Nagle must not hold it.
                let stream = connect(host, *port, timeout)?;
                Ok(EchoStream::Tcp(stream))
            }
            Target::Unix(path) => UnixStream::connect(path)
                .map(EchoStream::Unix)
                .map_err(|e| connect_error(&path.display().to_string(), e)),
        }
    }
}

/// The interactive loop: shows `>> `, sends each line, prints exactly the echo of it.
/// Ends at the end of input (Ctrl-D) or when the server closes. Each line is one
/// command of the scripting rule ([`socklab_prompt::script`]); an echo can only fail
/// with the connection, which ends the prompt with an error.
pub fn prompt<S, W>(stream: &mut S, input: &mut Prompt, mut output: W) -> Result<()>
where
    S: Read + Write,
    W: Write,
{
    socklab_prompt::script::run(input, ">> ", false, |line| {
        echo_line(stream, line, &mut output)
            .map(|()| Step::Next)
            .map_err(Failure::Fatal)
    })
    .map_err(|stop| match stop {
        Stopped::Fatal(e) => e,
        Stopped::Read(e) => Error::io("reading stdin", e),
        // Only a fatal failure is possible; said as it is should that change.
        other @ Stopped::Script { .. } => Error::Other(other.to_string()),
    })
}

/// Sends `line` and a newline, and writes back exactly as many bytes as were sent.
fn echo_line<S: Read + Write, W: Write>(stream: &mut S, line: &str, output: &mut W) -> Result<()> {
    // Empty lines never get here: the tutorial's client sent an empty string and then
    // blocked in recv forever, since zero bytes sent means zero bytes will come back.
    let mut message = Vec::with_capacity(line.len() + 1);
    message.extend_from_slice(line.as_bytes());
    message.push(b'\n');
    stream
        .write_all(&message)
        .map_err(|e| Error::io("sending to the server", e))?;
    // Read exactly what we sent: an echo is the same length, however TCP splits it.
    let mut reply = vec![0u8; message.len()];
    match socklab_proto::frame::read_full(stream, &mut reply) {
        Ok(n) if n == reply.len() => {}
        Ok(_) => {
            return Err(Error::io(
                "the server closed the connection before echoing the line",
                io::ErrorKind::UnexpectedEof.into(),
            ))
        }
        Err(e) => return Err(Error::io("reading the echo", e)),
    }
    // Flushed before the editor draws the next prompt on the same terminal.
    output
        .write_all(&reply)
        .and_then(|()| output.flush())
        .map_err(|e| Error::io("writing to stdout", e))
}

/// Pipe mode over an already connected stream: copies `input` to the server on a
/// second thread while this one copies the echo to `output`. Returns bytes sent and
/// received; fails if the server closed before echoing everything it was sent.
pub fn pipe<S, R, W>(stream: S, input: R, output: &mut W) -> Result<(u64, u64)>
where
    S: Read + Write + AsFd,
    R: Read + Send + 'static,
    W: Write,
{
    // A second handle on the same socket (`dup(2)`), for the sending thread.
    let mut to_server = SockRef::from(&stream)
        .try_clone()
        .map_err(|e| Error::io("cloning the socket", e))?;
    let sender = std::thread::spawn(move || -> Result<u64> {
        let mut input = input;
        let sent = copy(&mut input, &mut to_server).map_err(|e| match e {
            CopyError::Read(e) => Error::io("reading stdin", e),
            CopyError::Write(e) => Error::io("sending to the server", e),
        })?;
        // Half-close: tell the server we are done sending, so it can finish echoing
        // and close its side, which ends our read loop with a clean EOF.
        let _ = to_server.shutdown(Shutdown::Write);
        Ok(sent)
    });
    let mut from_server = stream;
    let received = copy(&mut from_server, output).map_err(|e| match e {
        CopyError::Read(e) => Error::io("reading from the server", e),
        CopyError::Write(e) => Error::io("writing to stdout", e),
    });
    output
        .flush()
        .map_err(|e| Error::io("writing to stdout", e))?;
    if received.is_err() {
        // Unblock the sender if it is stuck writing to a server that stopped reading.
        let _ = SockRef::from(&from_server).shutdown(Shutdown::Both);
    }
    // A panic is a bug, the one case for `Other`.
    let sent = sender
        .join()
        .map_err(|_| Error::Other("the sending thread panicked".into()))?;
    let received = received?;
    let sent = sent?;
    if received < sent {
        return Err(Error::io(
            format!("the server closed after echoing {received} of {sent} bytes"),
            io::ErrorKind::UnexpectedEof.into(),
        ));
    }
    if received > sent {
        return Err(Error::io(
            format!("the server sent back {received} bytes for {sent}: is it an echo server?"),
            io::ErrorKind::InvalidData.into(),
        ));
    }
    Ok((sent, received))
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// `io::copy` with a bigger buffer, telling read errors from write errors.
fn copy<R: Read + ?Sized, W: Write + ?Sized>(
    r: &mut R,
    w: &mut W,
) -> std::result::Result<u64, CopyError> {
    let mut buf = vec![0u8; IO_BUFFER];
    let mut total = 0;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        w.write_all(&buf[..n]).map_err(CopyError::Write)?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A peer that reads all of `sent`, writes back `reply`, and closes.
    fn peer_replying(reply: &'static [u8], sent: usize) -> UnixStream {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        std::thread::spawn(move || {
            let mut got = vec![0u8; sent];
            theirs.read_exact(&mut got).unwrap();
            theirs.write_all(reply).unwrap();
        });
        ours
    }

    #[test]
    fn pipe_says_when_the_server_echoed_less_or_more_than_it_was_sent() {
        let short = peer_replying(b"he", 5);
        let err = pipe(short, Cursor::new(b"hello".to_vec()), &mut Vec::new()).unwrap_err();
        assert!(
            matches!(&err, Error::Io { source, .. } if source.kind() == io::ErrorKind::UnexpectedEof),
            "{err:?}"
        );
        assert!(err.to_string().contains("echoing 2 of 5 bytes"), "{err}");

        let long = peer_replying(b"hello, world", 5);
        let err = pipe(long, Cursor::new(b"hello".to_vec()), &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("12 bytes for 5"), "{err}");
    }

    #[test]
    fn prompt_says_when_the_server_closed_before_the_echo() {
        let mut short = peer_replying(b"hi", 6);
        let mut input = Prompt::lines(Cursor::new(b"hello\n".to_vec()));
        let err = prompt(&mut short, &mut input, Vec::new()).unwrap_err();
        assert!(
            matches!(&err, Error::Io { source, .. } if source.kind() == io::ErrorKind::UnexpectedEof),
            "{err:?}"
        );
    }
}
