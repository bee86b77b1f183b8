//! The echo server: `accept` a client, then `read` and `write_all` every byte back
//! until it closes.
//!
//! The socket calls appear here in the order of lesson 1's table (docs/lessons/01-tcp-echo.md).
//! The listener was made before [`run`] by `socklab_net::socket::tcp_listener`: `socket()`,
//! `setsockopt()`, `bind()`, `listen(backlog)`. Then:
//!
//! 1. [`run`]: `accept()` in a loop, each client on a thread of its own;
//! 2. with `--tls`, the TLS handshake on that thread ([`crate::tls`], lesson 5);
//! 3. `echo`: `read()` what the client sent, `write_all()` it back, until `read`
//!    returns 0 (the client closed its side);
//! 4. the stream is dropped when `echo` returns: `close()`.

use crate::busy_poll;
use socket2::SockRef;
use socklab_net::accept::{accept, Listener, ServeOptions, Threads};
use socklab_net::limits::IO_BUFFER;
use socklab_net::tls::TlsAcceptor;
use socklab_proto::{Error, Result};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::{sync::Arc, time::Duration};

/// How the echo server behaves.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Uppercase ASCII letters, as the tutorial's server did (`--upper`). Every other
    /// byte, UTF-8 included, is sent back unchanged.
    pub upper: bool,
    /// Close a connection that sends nothing, or does not read, for this long.
    pub idle_timeout: Option<Duration>,
    /// Spin this long for a connection's next message before sleeping in `read`
    /// (`--busy-poll-us`, see [`crate::busy_poll`]); zero, the default, never spins.
    pub busy_poll: Duration,
    /// `--splice`: echo through a pipe with `splice(2)` ([`crate::splice`]); not with `upper`.
    pub splice: bool,
    /// The accept loop's cap, mode and stop flag.
    pub serve: ServeOptions,
    /// `--tls`: every connection is a TLS session (see [`crate::tls`]).
    pub tls: Option<TlsConfig>,
}

/// What a TLS echo server needs per connection.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// The certificate and the handshake's settings.
    pub acceptor: TlsAcceptor,
    /// How long a handshake may take (`--handshake-timeout`): a client that stalls in
    /// it is cut, as a silent client is by the idle timeout.
    pub handshake_timeout: Duration,
}

/// Serves echo on `listener` (TCP or AF_UNIX), a thread per client, until
/// `config.serve.shutdown` is raised. [`crate::event_loop::serve_with_epoll`] takes the
/// same listener and serves every client from one thread instead.
pub fn run<L>(listener: L, config: ServerConfig) -> Result<()>
where
    L: Listener,
    L::Stream: AsRawFd,
{
    let config = Arc::new(config);
    // At most --max-conns threads, one per client; a stop cuts the ones still open.
    let mut threads = Threads::new(&config.serve);
    // accept(): wait for a client's handshake to complete, get its own socket.
    while let Some((stream, peer)) = accept(&listener, &config.serve.shutdown) {
        log::info!("{peer}: connected");
        if config.serve.iterative {
            // The tutorials' way: serve this client to the end, the others wait.
            serve_client(stream, &peer, &config);
            continue;
        }
        let conf = Arc::clone(&config);
        if let Err(refused) = threads.spawn(stream, &peer, move |s, p| serve_client(s, p, &conf)) {
            // Echo has no way to say "busy": the refused client sees the connection
            // close at once, and the refusal is in the server's log.
            drop(refused);
        }
    }
    threads.stop(config.serve.grace);
    Ok(())
}

/// Serves one client, over TLS with `--tls`, and logs how it ended.
fn serve_client<S: Read + Write + AsRawFd + AsFd>(stream: S, peer: &str, config: &ServerConfig) {
    let mut count = Count::default();
    let ended = match &config.tls {
        None => echo(&mut { stream }, config, &mut count),
        // The handshake runs here, on the connection's thread: a client that stalls in
        // it holds one slot until --handshake-timeout, never the accept loop.
        Some(tls) => crate::tls::accept(&tls.acceptor, stream, tls.handshake_timeout).and_then(
            |mut session| {
                echo(&mut session, config, &mut count)?;
                // The client's close_notify ended the echo: answer with ours.
                session
                    .close()
                    .map_err(|e| Error::io("closing the TLS session", e))
            },
        ),
    };
    let (got, sent) = (count.r#in, count.out);
    match ended {
        Ok(()) => log::info!("{peer}: closed after {got} bytes in, {sent} bytes out"),
        Err(e) => log::info!("{peer}: dropped after {got} bytes in, {sent} bytes out: {e}"),
    }
}

/// Bytes one connection moved.
#[derive(Debug, Default)]
pub(crate) struct Count {
    pub(crate) r#in: u64,
    pub(crate) out: u64,
}

/// Copies `stream` back to itself until EOF.
fn echo<S: Read + Write + AsRawFd + AsFd>(
    stream: &mut S,
    config: &ServerConfig,
    count: &mut Count,
) -> Result<()> {
    // SO_RCVTIMEO and SO_SNDTIMEO bound a client that goes silent (read) and one that
    // stops reading while we send (write): either way the thread is freed.
    let socket = SockRef::from(&*stream);
    socket
        .set_read_timeout(config.idle_timeout)
        .and_then(|()| socket.set_write_timeout(config.idle_timeout))
        .map_err(|e| Error::io("setting timeouts", e))?;
    // --splice: the same loop, with the bytes moved by the kernel through a pipe
    // (socket → pipe → socket) instead of through `buf`; the timeouts above hold.
    // It never allocates `buf`: what a connection costs is the pipe, in the kernel,
    // and its thread.
    if config.splice {
        return crate::splice::echo(stream, count);
    }
    // One fixed buffer per connection, on the heap so 1,000 threads' stacks stay
    // small. Memory per connection is this buffer, whatever the client sends.
    let mut buf = vec![0u8; IO_BUFFER];
    loop {
        // read(): blocks until the client sends something; 0 means it closed. With
        // --busy-poll-us it first spins on a non-blocking recv (see `busy_poll`).
        let got = if config.busy_poll.is_zero() {
            stream.read(&mut buf)
        } else {
            busy_poll::read(stream, &mut buf, config.busy_poll)
        };
        let n = match got {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("reading", e).under_deadline()),
        };
        count.r#in += n as u64;
        if config.upper {
            // ASCII only: bytes >= 0x80 (every byte of a multi-byte UTF-8 character)
            // are left alone, so UTF-8 text survives intact.
            buf[..n].make_ascii_uppercase();
        }
        // write_all(), not write(): a single `send` may take only part of the buffer.
        stream
            .write_all(&buf[..n])
            .map_err(|e| Error::io("writing", e).under_deadline())?;
        count.out += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socklab_net::socket::{tcp_listener, ListenOptions};
    use std::net::TcpStream;

    #[test]
    fn library_serves_on_port_zero_and_stops() {
        let l = tcp_listener("127.0.0.1:0".parse().unwrap(), ListenOptions::default()).unwrap();
        let addr = l.local_addr().unwrap();
        let config = ServerConfig {
            upper: true,
            ..ServerConfig::default()
        };
        let stop = config.serve.shutdown.clone();
        let server = std::thread::spawn(move || run(l, config));
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all("héllo wörld\n".as_bytes()).unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        assert_eq!(got, "HéLLO WöRLD\n");
        stop.trigger();
        server.join().unwrap().unwrap();
    }
}
