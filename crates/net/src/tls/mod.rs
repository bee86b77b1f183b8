//! TLS for socklab's TCP servers and clients: rustls (TLS 1.3 only, the `ring`
//! provider), self-signed certificates made with rcgen, and trust like ssh's.
//!
//! What a server does (see [`server`]):
//!
//! 1. once, at start: [`Identity::load_or_create`] (a self-signed ECDSA P-256
//!    certificate kept in a state directory, so its fingerprint is stable) or
//!    [`Identity::from_pem_files`] (`--cert FILE --key FILE`), then
//!    [`TlsAcceptor::new`] and [`announce`] (stdout line 2: `fingerprint SHA256:…`);
//! 2. on each connection's own thread: [`TlsAcceptor::accept`] with the connection's
//!    deadline (the login deadline for shell and ftp): a plain client is refused, the
//!    handshake must be over by the deadline, and the result is a [`TlsStream`] that
//!    goes into `Connection::new` like any `TcpStream`.
//!
//! A framed server (shell, ftp) gets both steps from
//! `accept::serve_framed_tls(listener, &opts, deadlines, Some(FramedTls { acceptor,
//! handshake_timeout }), session)`: its session takes a
//! `Connection<MaybeTls<ServerConnection, TcpStream>>`, one type with or without TLS.
//!
//! What a client does (see [`client`]): `socket::connect`, then [`client::connect`]
//! with a [`ClientOptions`] (the service, and one [`Trust`]: a pinned fingerprint, a
//! CA file, or the known-hosts file of [`known_hosts`]).
//!
//! Both ends honour `SSLKEYLOGFILE`: the session keys are appended to that file (NSS
//! key-log format), so Wireshark can decrypt a capture. Whoever reads the file reads
//! the traffic: set it only to debug.

mod args;
mod cert;
pub mod client;
pub mod known_hosts;
pub mod server;
mod stream;

pub use args::ServerTlsArgs;
pub use cert::{state_dir, Identity};
pub use client::{ClientOptions, ConnectError, Trust};
pub use server::{OnPlain, TlsAcceptor};
pub use stream::{Encrypted, MaybeTls, TlsStream};

use base64::Engine;
use std::sync::Arc;

/// The first byte of every TLS handshake record (a ClientHello's first byte). A
/// socklab frame starts with the high byte of a length, 0 for any header under 16 MiB.
pub const HANDSHAKE_RECORD: u8 = 0x16;

/// A socklab service, as named in ALPN. A client offering another service's name is
/// refused in the handshake; a client offering none (openssl, Python) is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `socklab-echo/1`.
    Echo,
    /// `socklab-shell/1`.
    Shell,
    /// `socklab-ftp/1`.
    Ftp,
}

impl Service {
    /// The ALPN protocol name.
    pub fn alpn(self) -> &'static [u8] {
        match self {
            Service::Echo => b"socklab-echo/1",
            Service::Shell => b"socklab-shell/1",
            Service::Ftp => b"socklab-ftp/1",
        }
    }
}

/// The fingerprint of a certificate as `ssh-keygen -l` writes a key's:
/// `SHA256:` and the base64 (standard alphabet, no padding) of the SHA-256 of its DER.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest.as_ref())
    )
}

/// True when `s` is a well-formed fingerprint: `SHA256:` and 43 base64 characters
/// that decode to 32 bytes.
pub fn is_fingerprint(s: &str) -> bool {
    s.strip_prefix("SHA256:").is_some_and(|b64| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(b64)
            .is_ok_and(|bytes| bytes.len() == 32)
    })
}

/// Whether a server that carries passwords (shell, ftp) speaks TLS: when asked
/// (`--tls`, `--cert`), and by default on any address but loopback unless refused
/// (`--no-tls`).
pub fn wanted(asked: bool, refused: bool, addr: std::net::IpAddr) -> bool {
    asked || (!addr.is_loopback() && !refused)
}

/// Prints a TLS server's second stdout line, `fingerprint SHA256:…`, flushed so a
/// script reading the pipe sees it at once, and logs it.
pub fn announce(fingerprint: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "fingerprint {fingerprint}");
    let _ = out.flush();
    log::info!("TLS on; certificate fingerprint {fingerprint}");
}

/// The crypto every socklab TLS end uses: rustls's `ring` provider.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Only TLS 1.3: fewer round trips, no renegotiation, no static-RSA key exchange.
static VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_sha256_base64_without_padding() {
        // SHA-256 of the empty string, as ssh-keygen would print it.
        assert_eq!(
            fingerprint(b""),
            "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
        );
        assert!(is_fingerprint(&fingerprint(b"x")));
        assert!(!is_fingerprint("SHA256:abc"));
        assert!(!is_fingerprint(
            "MD5:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
        ));
    }
}
