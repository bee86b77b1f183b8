//! The server side: a [`TlsAcceptor`] made once at start, and
//! [`TlsAcceptor::accept`] on each connection's own thread.

use super::stream::HandshakeIo;
use super::{provider, Identity, Service, TlsStream, HANDSHAKE_RECORD, VERSIONS};
use crate::limits::CLOSE_LINGER;
use rustls::{ServerConfig, ServerConnection};
use socklab_proto::{Error, ErrorCode, Result};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Instant;

/// What a TLS server tells a client that connected without TLS, before it closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnPlain {
    /// A framed `{"ok":false,"code":"tls_required","error":…}`: what a plain socklab
    /// client (shell, ftp) reads as a refusal (a frame starts with `0x00`).
    Framed,
    /// One line of text, for people with nc (echo).
    Line,
    /// Nothing: the connection just closes.
    Close,
}

/// What the refusal says to people.
const TLS_REQUIRED_MESSAGE: &str = "this server requires TLS: connect with --tls";

/// A server's TLS configuration: its identity, its service's ALPN name, and what it
/// tells plain clients. Made once at start; shared by every connection's thread.
#[derive(Debug, Clone)]
pub struct TlsAcceptor {
    config: Arc<ServerConfig>,
    fingerprint: String,
    on_plain: OnPlain,
}

/// The server stream of a TLS session over a TCP socket.
pub type ServerStream<S = TcpStream> = TlsStream<ServerConnection, S>;

impl TlsAcceptor {
    /// TLS 1.3 with `identity`, accepting clients that offer `service`'s ALPN name or
    /// none. `SSLKEYLOGFILE` is honoured (see the [module docs](super)).
    pub fn new(identity: &Identity, service: Service, on_plain: OnPlain) -> Result<Self> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| Error::Other(format!("TLS 1.3 with ring: {e}")))?
            .with_no_client_auth()
            .with_single_cert(identity.chain.clone(), identity.key.clone_key())
            .map_err(|e| Error::Usage(format!("the TLS certificate and key: {e}")))?;
        // With a protocol configured, rustls refuses (alert no_application_protocol)
        // a client that offers only others, and accepts one that offers none.
        config.alpn_protocols = vec![service.alpn().to_vec()];
        config.key_log = Arc::new(rustls::KeyLogFile::new());
        Ok(TlsAcceptor {
            config: Arc::new(config),
            fingerprint: identity.fingerprint().to_owned(),
            on_plain,
        })
    }

    /// The fingerprint clients see.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Runs the server's side of the handshake on a freshly accepted `stream`, all of
    /// it (the first byte included) by `deadline`, and returns the session, with the
    /// socket's timeouts cleared.
    ///
    /// The first byte tells a TLS client (`0x16`, a handshake record) from a plain one;
    /// a plain client is answered as `OnPlain` says, then refused with an error for
    /// the log. A handshake not over by `deadline` is `Error::Timeout`; one that fails
    /// (a client offering another service's ALPN name, a client that does not trust
    /// the certificate) is `Error::Io` with rustls's reason.
    pub fn accept<S: Read + Write + AsFd>(
        &self,
        mut stream: S,
        deadline: Instant,
    ) -> Result<ServerStream<S>> {
        let mut conn = ServerConnection::new(Arc::clone(&self.config))
            .map_err(|e| Error::Other(format!("starting a TLS session: {e}")))?;
        let mut io = HandshakeIo::new(&mut stream, deadline);
        // The first byte, read rather than peeked (so any stream works), then handed
        // to rustls as the start of the ClientHello.
        let mut first = [0u8; 1];
        let n = loop {
            match io.read(&mut first) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        }
        .map_err(|e| handshake_error(e, "waiting for the TLS ClientHello"))?;
        if n == 0 {
            return Err(Error::UnexpectedEof("the TLS handshake"));
        }
        if first[0] != HANDSHAKE_RECORD {
            self.refuse_plain(&mut io);
            linger(&mut io);
            return Err(Error::refused(
                ErrorCode::TlsRequired,
                format!(
                    "a client without TLS (first byte {:#04x}): told {}",
                    first[0],
                    ErrorCode::TlsRequired
                ),
            ));
        }
        conn.read_tls(&mut &first[..])
            .map_err(|e| Error::io("reading the TLS ClientHello", e))?;
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut io) {
                // rustls has queued its alert (no_application_protocol, …) and sent it.
                linger(&mut io);
                return Err(handshake_error(e, "in the TLS handshake"));
            }
        }
        io.clear_timeouts()
            .map_err(|e| Error::io("clearing the socket timeouts", e))?;
        Ok(TlsStream::new(conn, stream))
    }

    /// Tells a plain client that TLS is required, as `on_plain` says, within the
    /// handshake's deadline (a client that does not read cannot hold the thread).
    fn refuse_plain<S: Read + Write + AsFd>(&self, io: &mut HandshakeIo<'_, S>) {
        let _ = match self.on_plain {
            OnPlain::Framed => {
                socklab_proto::msg::write_failure(io, ErrorCode::TlsRequired, TLS_REQUIRED_MESSAGE)
                    .map_err(|e| e.to_string())
            }
            OnPlain::Line => io
                .write_all(
                    format!(
                        "error: {TLS_REQUIRED_MESSAGE} ({})\n",
                        ErrorCode::TlsRequired
                    )
                    .as_bytes(),
                )
                .map_err(|e| e.to_string()),
            OnPlain::Close => Ok(()),
        };
    }
}

/// Closes our side and reads what the client still sends, for at most
/// [`CLOSE_LINGER`] (and never past the handshake's deadline): closing a socket with
/// unread bytes sends a reset, which can destroy the refusal we just sent before the
/// client reads it.
fn linger<S: Read + Write + AsFd>(io: &mut HandshakeIo<'_, S>) {
    let _ = socket2::SockRef::from(&*io.stream).shutdown(std::net::Shutdown::Write);
    io.deadline = io.deadline.min(Instant::now() + CLOSE_LINGER);
    let mut sink = [0u8; 4096];
    // Bounded by the deadline: each read waits at most what is left of it.
    while matches!(io.read(&mut sink), Ok(n) if n > 0) {}
}

/// A handshake's I/O error: a deadline that passed is `Timeout`, anything else
/// (rustls's reasons come as `InvalidData`) keeps its text.
fn handshake_error(e: io::Error, doing: &str) -> Error {
    Error::io(doing, e).under_deadline()
}
