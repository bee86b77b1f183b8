//! The TLS flags every server that carries passwords shares (shell, ftp): flatten
//! [`ServerTlsArgs`] into a binary's arguments, then call
//! [`ServerTlsArgs::identity_for`] once the address to bind is known.

use super::{state_dir, wanted, Identity};
use socklab_proto::Result;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// `--tls`, `--no-tls`, `--cert`, `--key`, `--state-dir`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerTlsArgs {
    /// Serve over TLS 1.3 (the default beyond loopback): a self-signed certificate kept
    /// in --state-dir, its fingerprint printed on the second stdout line.
    #[arg(long, conflicts_with = "no_tls")]
    pub tls: bool,
    /// Serve plain TCP even beyond loopback: passwords and data cross the network in
    /// clear, readable by anyone on the path.
    #[arg(long)]
    pub no_tls: bool,
    /// The certificate chain to present (PEM) instead of the self-signed one; implies
    /// --tls.
    #[arg(long, value_name = "FILE", requires = "key", conflicts_with = "no_tls")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Where the self-signed certificate is kept (default: .socklab/tls/SERVER/ beside
    /// the users file).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl ServerTlsArgs {
    /// The identity `server` serves with on `addr`, or `None` for plain TCP (see
    /// [`wanted`]). The self-signed one is kept in `--state-dir`, by default
    /// `.socklab/tls/SERVER/` in `base` (the users file's directory, else `.`).
    pub fn identity_for(
        &self,
        addr: IpAddr,
        base: Option<&Path>,
        server: &str,
    ) -> Result<Option<Identity>> {
        if !wanted(self.tls || self.cert.is_some(), self.no_tls, addr) {
            return Ok(None);
        }
        let state = self.state_dir.clone().unwrap_or_else(|| {
            let base = base.filter(|b| !b.as_os_str().is_empty());
            state_dir(base.unwrap_or(Path::new(".")), server)
        });
        let cert_key = self.cert.as_deref().zip(self.key.as_deref());
        Identity::from_flags(cert_key, &state).map(Some)
    }
}
