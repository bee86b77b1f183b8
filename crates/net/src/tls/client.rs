//! The client side: [`connect`] runs the handshake on a connected socket and decides
//! whether to trust the server, by one [`Trust`].
//!
//! Pinning and trust on first use check the certificate's fingerprint in a rustls
//! `ServerCertVerifier` (`IdentityCheck`); the handshake's signature is still
//! verified by the provider's own functions, so the server must hold the key of the
//! certificate it shows. Only the question "is this the right certificate?" differs
//! from a CA check.

use super::known_hosts::{self, KnownHosts, Lookup};
use super::stream::HandshakeIo;
use super::{fingerprint, is_fingerprint, provider, Service, TlsStream, VERSIONS};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use socklab_proto::{Error, Result};
use std::fmt;
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a client decides the server is the one it meant, in the order the flags win.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// `--fingerprint SHA256:…`: exactly this certificate.
    Fingerprint(String),
    /// `--ca FILE`: a certificate chain to one of these CAs, valid for the host name.
    Ca(PathBuf),
    /// The known-hosts file: the fingerprint trusted the first time. An unknown server
    /// is asked about on a terminal, refused off one unless `accept_new`.
    KnownHosts {
        /// The file ([`known_hosts::default_path`]).
        file: PathBuf,
        /// `--accept-new`: trust an unknown server and add its line, as ssh's
        /// `StrictHostKeyChecking=accept-new`.
        accept_new: bool,
    },
}

impl Trust {
    /// The trust the client flags ask for: `--fingerprint`, else `--ca`, else the
    /// known-hosts file with `--accept-new`.
    pub fn from_flags(
        fingerprint: Option<&str>,
        ca: Option<&Path>,
        accept_new: bool,
    ) -> Result<Trust> {
        if let Some(fp) = fingerprint {
            if !is_fingerprint(fp) {
                return Err(Error::Usage(format!(
                    "--fingerprint {fp:?}: expected SHA256: and 43 base64 characters, as the server's \
                     `fingerprint` line prints it"
                )));
            }
            return Ok(Trust::Fingerprint(fp.to_owned()));
        }
        if let Some(ca) = ca {
            return Ok(Trust::Ca(ca.to_owned()));
        }
        Ok(Trust::KnownHosts {
            file: known_hosts::default_path()?,
            accept_new,
        })
    }
}

/// What [`connect`] needs besides the socket.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The service asked for in ALPN: a server of another service refuses.
    pub service: Service,
    /// How the server is trusted.
    pub trust: Trust,
    /// How long the whole handshake may take.
    pub handshake_timeout: Duration,
}

/// Why [`connect`] failed. Shell-client exits 255 on [`ConnectError::Changed`], as
/// ssh does; every variant converts into `socklab_proto::Error` with `?`.
#[derive(Debug)]
pub enum ConnectError {
    /// The server's certificate is not the one pinned or remembered: refused, with
    /// the loud message to print.
    Changed(String),
    /// The server could not be trusted: unknown and not accepted, or not valid for
    /// the CA and host name.
    Untrusted(String),
    /// Anything else: the socket, a plain server, a refused handshake, a timeout.
    Failed(Error),
}

impl ConnectError {
    /// True for a changed (or not pinned) certificate.
    pub fn is_changed(&self) -> bool {
        matches!(self, ConnectError::Changed(_))
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Changed(m) | ConnectError::Untrusted(m) => f.write_str(m),
            ConnectError::Failed(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ConnectError {}

impl From<Error> for ConnectError {
    fn from(e: Error) -> Self {
        ConnectError::Failed(e)
    }
}

impl From<ConnectError> for Error {
    /// A refusal to trust is a `Usage` error: it is settled on this side (a flag, a
    /// known-hosts line), and never sent to the server.
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Changed(m) | ConnectError::Untrusted(m) => Error::Usage(m),
            ConnectError::Failed(e) => e,
        }
    }
}

/// The client stream of a TLS session over a TCP socket.
pub type ClientStream<S = TcpStream> = TlsStream<ClientConnection, S>;

/// Runs the client's side of the handshake on `stream`, connected to `host`:`port`,
/// and returns the session once the server is trusted. Nothing of the caller's is
/// sent before that: a refused server has seen a handshake and a close.
pub fn connect<S: Read + Write + AsFd>(
    mut stream: S,
    host: &str,
    port: u16,
    opts: &ClientOptions,
) -> std::result::Result<ClientStream<S>, ConnectError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(VERSIONS)
        .map_err(|e| Error::Other(format!("TLS 1.3 with ring: {e}")))?;
    let server = known_hosts::key(host, port);
    let mut check = None;
    let mut config = match &opts.trust {
        Trust::Ca(file) => builder
            .with_root_certificates(roots(file)?)
            .with_no_client_auth(),
        trust => {
            let policy = match trust {
                Trust::Fingerprint(fp) => Policy::Pin(fp.clone()),
                Trust::KnownHosts { file, accept_new } => Policy::Known {
                    hosts: KnownHosts::load(file)?,
                    accept_new: *accept_new,
                    ask: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
                },
                Trust::Ca(_) => unreachable!("handled above"),
            };
            let verifier = Arc::new(IdentityCheck {
                policy,
                server: server.clone(),
                provider: Arc::clone(&provider),
                verdict: Mutex::default(),
            });
            check = Some(Arc::clone(&verifier));
            builder
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![opts.service.alpn().to_vec()];
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(bare.to_owned())
        .map_err(|e| Error::Usage(format!("{host} is not a host name or address: {e}")))?;
    let mut conn = ClientConnection::new(Arc::new(config), name)
        .map_err(|e| Error::Other(format!("starting a TLS session: {e}")))?;

    let mut io = HandshakeIo::new(&mut stream, Instant::now() + opts.handshake_timeout);
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut io) {
            if let Some(refusal) = check.as_ref().and_then(|c| c.take_refusal()) {
                return Err(refusal);
            }
            return Err(explain(e, &io, &opts.trust, host, opts.service));
        }
    }
    io.clear_timeouts()
        .map_err(|e| Error::io("clearing the socket timeouts", e))?;
    if let Some(check) = check {
        check.settle_unknown()?;
    }
    Ok(TlsStream::new(conn, stream))
}

/// The CA certificates in PEM file `file`.
fn roots(file: &Path) -> Result<RootCertStore> {
    let bad = |e: rustls::pki_types::pem::Error| {
        Error::Usage(format!(
            "--ca {}: not a usable PEM file: {e}",
            file.display()
        ))
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(file).map_err(bad)? {
        roots
            .add(cert.map_err(bad)?)
            .map_err(|e| Error::Usage(format!("--ca {}: {e}", file.display())))?;
    }
    if roots.is_empty() {
        return Err(Error::Usage(format!(
            "--ca {}: no certificate in it",
            file.display()
        )));
    }
    Ok(roots)
}

/// Says why a handshake failed, in the terms a user can act on.
fn explain<S>(
    e: io::Error,
    io: &HandshakeIo<'_, S>,
    trust: &Trust,
    host: &str,
    service: Service,
) -> ConnectError {
    // A TLS server's first byte starts a record: alert (0x15) or handshake (0x16). A
    // plain socklab server answers a frame (0x00…); a plain echo server sends our own
    // ClientHello back.
    let got = &io.first_in;
    let echoed = got.len() == io.first_out.len() && !got.is_empty() && *got == io.first_out;
    if echoed || got.first().is_some_and(|b| !(0x14..=0x17).contains(b)) {
        return ConnectError::Failed(Error::Usage(
            "the server does not speak TLS: try without --tls".into(),
        ));
    }
    let tls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls_error {
        Some(rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol)) => {
            ConnectError::Failed(Error::Usage(format!(
                "the server refused the handshake: it does not serve {} (is this the right port?)",
                String::from_utf8_lossy(service.alpn())
            )))
        }
        Some(rustls::Error::InvalidCertificate(why)) => {
            let how = match trust {
                Trust::Ca(file) => format!(" by --ca {}", file.display()),
                _ => String::new(),
            };
            ConnectError::Untrusted(format!(
                "the server's certificate is not trusted{how} for {host}: {why:?}"
            ))
        }
        _ if got.is_empty() && e.kind() == io::ErrorKind::UnexpectedEof => ConnectError::Failed(Error::io(
            "the server closed the connection during the TLS handshake (at its connection limit?)",
            e,
        )),
        _ => ConnectError::Failed(Error::io("TLS handshake", e).under_deadline()),
    }
}

/// How [`IdentityCheck`] decides.
#[derive(Debug)]
enum Policy {
    Pin(String),
    Known {
        hosts: KnownHosts,
        accept_new: bool,
        ask: bool,
    },
}

/// What the check decided, kept for [`connect`] to act on after the handshake.
#[derive(Debug)]
enum Verdict {
    /// Refused in the handshake; the error to report.
    Refused(ConnectError),
    /// Not in the known-hosts file, and allowed through the handshake to be accepted
    /// (`--accept-new`) or asked about (a terminal) before anything is sent.
    Unknown(String),
}

/// A `ServerCertVerifier` that trusts a certificate by its fingerprint: pinned, or
/// remembered in the known-hosts file.
#[derive(Debug)]
struct IdentityCheck {
    policy: Policy,
    /// The known-hosts name of the server.
    server: String,
    provider: Arc<CryptoProvider>,
    verdict: Mutex<Option<Verdict>>,
}

impl IdentityCheck {
    fn verdict(&self) -> std::sync::MutexGuard<'_, Option<Verdict>> {
        self.verdict.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_refusal(&self) -> Option<ConnectError> {
        match self.verdict().take() {
            Some(Verdict::Refused(e)) => Some(e),
            _ => None,
        }
    }

    /// Decides on `presented`: `Ok` lets the handshake go on.
    fn decide(&self, presented: &str) -> std::result::Result<(), ConnectError> {
        let server = &self.server;
        match &self.policy {
            Policy::Pin(pinned) if pinned == presented => Ok(()),
            Policy::Pin(pinned) => Err(ConnectError::Changed(format!(
                "the server {server} presented certificate {presented}, not the pinned \
                 {pinned}: refusing to connect"
            ))),
            Policy::Known { hosts, accept_new, ask } => match hosts.lookup(server, presented) {
                Lookup::Match(_) => Ok(()),
                Lookup::Changed(entry) => Err(ConnectError::Changed(changed_warning(
                    server,
                    presented,
                    hosts.path(),
                    entry,
                ))),
                Lookup::Unknown if *accept_new || *ask => {
                    *self.verdict() = Some(Verdict::Unknown(presented.to_owned()));
                    Ok(())
                }
                Lookup::Unknown => Err(ConnectError::Untrusted(format!(
                    "the server {server} is not in {file} (its certificate is {presented}), and \
                     there is no terminal to ask on: refusing. To trust it, pass --fingerprint \
                     {presented}, or --accept-new, or add this line to {file}:\n{server} {presented}",
                    file = hosts.path().display()
                ))),
            },
        }
    }

    /// After a handshake with an unknown server: `--accept-new` adds its line; on a
    /// terminal the user is asked first. Known and pinned servers pass.
    fn settle_unknown(&self) -> std::result::Result<(), ConnectError> {
        let Some(Verdict::Unknown(presented)) = self.verdict().take() else {
            return Ok(());
        };
        let Policy::Known {
            hosts, accept_new, ..
        } = &self.policy
        else {
            return Ok(());
        };
        let server = &self.server;
        let file = hosts.path().display().to_string();
        if !accept_new && !ask_yes_no(server, &presented, &file)? {
            return Err(ConnectError::Untrusted(format!(
                "the server {server} was not trusted: nothing sent"
            )));
        }
        // A fresh read: another client may have added lines since this one started.
        let mut fresh = KnownHosts::load(hosts.path())?;
        fresh.add(server, &presented)?;
        eprintln!("added {server} {presented} to {file}");
        Ok(())
    }
}

/// The warning for a changed certificate, loud as ssh's, naming the line to remove.
fn changed_warning(
    server: &str,
    presented: &str,
    file: &Path,
    entry: &known_hosts::Entry,
) -> String {
    let file = file.display();
    format!(
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
         @    WARNING: THE SERVER'S CERTIFICATE HAS CHANGED!       @\n\
         @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
         Someone may be intercepting this connection (a man-in-the-middle), or the\n\
         server's certificate was replaced.\n\
         The server {server} presented {presented};\n\
         {file}:{line} says {expected}.\n\
         If the change is expected, remove line {line} of {file} and connect again.\n\
         Refusing to connect: nothing was sent.",
        line = entry.line,
        expected = entry.fingerprint,
    )
}

/// Asks on the terminal (stderr, then a line of stdin) whether to trust a server, as
/// ssh does; only `yes` trusts it.
fn ask_yes_no(server: &str, presented: &str, file: &str) -> Result<bool> {
    eprint!(
        "The authenticity of server {server} can't be established.\n\
         Its certificate fingerprint is {presented}.\n\
         Trust it and remember it in {file} (yes/no)? "
    );
    let _ = io::stderr().flush();
    let mut answer = String::new();
    io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::io("reading the answer", e))?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

impl ServerCertVerifier for IdentityCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.decide(&fingerprint(end_entity)) {
            Ok(()) => Ok(ServerCertVerified::assertion()),
            Err(refusal) => {
                let reason = refusal.to_string();
                *self.verdict() = Some(Verdict::Refused(refusal));
                Err(rustls::Error::General(reason))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
