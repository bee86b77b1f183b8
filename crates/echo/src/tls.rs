//! Lesson 5, echo over TLS (`--tls`): the same echo, inside a TLS 1.3 session.
//!
//! ```text
//! terminal 1$ make echo-server ARGS=--tls     # listening on 127.0.0.1:7007
//!                                             # fingerprint SHA256:…
//! terminal 2$ make echo-client ARGS=--tls     # asks whether to trust that fingerprint
//! ```
//!
//! or with real peers: `openssl s_client -connect 127.0.0.1:7007`, or
//! `socat - OPENSSL:127.0.0.1:7007,verify=0`.
//!
//! The calls, in the order of docs/lessons/05-tls.md:
//!
//! 1. server, once: [`identity`] reads or makes the certificate, then
//!    `TlsAcceptor::new` and `tls::announce`;
//! 2. server, per connection: [`accept`] runs the handshake on the connection's own
//!    thread, under `--handshake-timeout`, before the echo loop of [`crate::server`];
//! 3. client: `socket::connect`, then [`connect`] (the handshake and the trust
//!    decision), then the prompt, or [`pipe_in_step`] for pipe mode.
//!
//! The rustls calls themselves are in `socklab_net::tls`.

use socklab_net::limits::{HANDSHAKE_TIMEOUT, IO_BUFFER};
use socklab_net::socket::connect as tcp_connect;
use socklab_net::tls::client::{self, ClientStream};
use socklab_net::tls::server::ServerStream;
use socklab_net::tls::{self, ClientOptions, Identity, OnPlain, Service, TlsAcceptor, Trust};
use socklab_proto::{Error, Result};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The state directory echo-server keeps its certificate in unless `--state-dir`.
pub fn default_state_dir() -> PathBuf {
    tls::state_dir(Path::new("."), "echo-server")
}

/// The echo server's TLS acceptor: ALPN `socklab-echo/1`; a client without TLS is
/// told so in one line (nc users see it) and closed.
pub fn acceptor(identity: &Identity) -> Result<TlsAcceptor> {
    TlsAcceptor::new(identity, Service::Echo, OnPlain::Line)
}

/// Runs the server's handshake on an accepted stream, over by `timeout` from now.
pub fn accept<S: Read + Write + AsFd>(
    acceptor: &TlsAcceptor,
    stream: S,
    timeout: Duration,
) -> Result<ServerStream<S>> {
    acceptor.accept(stream, Instant::now() + timeout)
}

/// The client's TLS session with an echo server at `host`:`port`: a TCP connection,
/// then the handshake, trusting the server as `trust` says.
pub fn connect(
    host: &str,
    port: u16,
    connect_timeout: Duration,
    trust: Trust,
) -> Result<ClientStream> {
    let stream: TcpStream = tcp_connect(host, port, connect_timeout)?;
    let opts = ClientOptions {
        service: Service::Echo,
        trust,
        handshake_timeout: HANDSHAKE_TIMEOUT,
    };
    Ok(client::connect(stream, host, port, &opts)?)
}

/// Pipe mode over TLS, in step: a chunk of `input` out, then exactly its echo back,
/// until `input` ends; then `close_notify`, and the server's close. Returns the bytes
/// echoed.
///
/// Plain pipe mode sends and reads on two threads sharing the socket; a TLS session's
/// state cannot be shared that way without a lock, and the echo of a chunk is known
/// to be as long as the chunk, so one thread suffices: at most one chunk is ever in
/// flight, which fits in the socket buffers, so neither side can block the other.
pub fn pipe_in_step<R: Read, W: Write>(
    stream: &mut ClientStream,
    mut input: R,
    output: &mut W,
) -> Result<u64> {
    let mut chunk = vec![0u8; IO_BUFFER];
    let mut echo = vec![0u8; IO_BUFFER];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("reading stdin", e)),
        };
        stream
            .write_all(&chunk[..n])
            .and_then(|()| stream.flush())
            .map_err(|e| Error::io("sending to the server", e))?;
        let got = socklab_proto::frame::read_full(stream, &mut echo[..n])
            .map_err(|e| Error::io("reading the echo", e))?;
        if got < n {
            return Err(Error::io(
                format!(
                    "the server closed after echoing {} of {} bytes",
                    total + got as u64,
                    total + n as u64
                ),
                io::ErrorKind::UnexpectedEof.into(),
            ));
        }
        output
            .write_all(&echo[..n])
            .map_err(|e| Error::io("writing to stdout", e))?;
        total += n as u64;
    }
    output
        .flush()
        .map_err(|e| Error::io("writing to stdout", e))?;
    stream
        .close()
        .map_err(|e| Error::io("closing the TLS session", e))?;
    // The server answers our close_notify with its own; anything before it is extra.
    match stream.read(&mut echo) {
        Ok(0) => Ok(total),
        Ok(_) => Err(Error::io(
            format!("the server sent back more than the {total} bytes it was sent: is it an echo server?"),
            io::ErrorKind::InvalidData.into(),
        )),
        // A server that closes without close_notify has still echoed everything.
        Err(_) => Ok(total),
    }
}
