//! A server's TLS identity: its certificate chain and private key, made once and kept,
//! or read from PEM files.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use socklab_proto::{Error, Result};
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The certificate file in a state directory.
const CERT_FILE: &str = "cert.pem";
/// The private key file in a state directory (mode 0600).
const KEY_FILE: &str = "key.pem";

/// The names a self-signed certificate is issued for. Clients that trust it by
/// fingerprint do not check them; they are there for tools that print them.
const SELF_SIGNED_NAMES: &[&str] = &["localhost", "socklab"];

/// The default state directory of server `server` (`shell-server`, …) under `base`:
/// `base/.socklab/tls/<server>`. Shell and ftp pass the users file's directory as
/// `base`; echo, which has none, the working directory.
pub fn state_dir(base: &Path, server: &str) -> PathBuf {
    base.join(".socklab").join("tls").join(server)
}

/// A certificate chain with its private key, and the fingerprint of the first
/// certificate (the one the server presents).
#[derive(Debug)]
pub struct Identity {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
    fingerprint: String,
}

impl Identity {
    /// The self-signed identity kept in `dir` (`cert.pem`, `key.pem`): read if it is
    /// there, otherwise made (ECDSA P-256, which openssl, Python and browsers all
    /// accept) and written, the key with mode 0600 in a directory with mode 0700.
    /// Reusing it keeps the fingerprint clients have pinned.
    pub fn load_or_create(dir: &Path) -> Result<Identity> {
        let (cert, key) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
        if key.exists() || cert.exists() {
            check_private(&key)?;
            return Identity::from_pem_files(&cert, &key);
        }
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let names: Vec<String> = SELF_SIGNED_NAMES.iter().map(|s| s.to_string()).collect();
        let made = rcgen::generate_simple_self_signed(names)
            .map_err(|e| Error::Other(format!("making a self-signed certificate: {e}")))?;
        // The key first, with create_new: of two servers starting at once in the same
        // directory, one writes and the other fails here instead of mixing files.
        write_new(&key, made.key_pair.serialize_pem().as_bytes(), 0o600)?;
        write_new(&cert, made.cert.pem().as_bytes(), 0o644)?;
        log::info!("made a self-signed certificate in {}", dir.display());
        Identity::from_pem_files(&cert, &key)
    }

    /// The identity a server's flags ask for: `--cert` and `--key` when given, else
    /// the self-signed one kept in `state_dir` (made on first start).
    pub fn from_flags(cert_key: Option<(&Path, &Path)>, state_dir: &Path) -> Result<Identity> {
        match cert_key {
            Some((cert, key)) => Identity::from_pem_files(cert, key),
            None => Identity::load_or_create(state_dir),
        }
    }

    /// The identity in PEM files: `cert` holds the chain (the server's certificate
    /// first), `key` its private key (PKCS#8, SEC1 or PKCS#1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Identity> {
        let bad = |path: &Path, e: rustls::pki_types::pem::Error| {
            Error::Usage(format!("{}: not a usable PEM file: {e}", path.display()))
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| bad(cert, e))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| bad(cert, e))?;
        let first = chain
            .first()
            .ok_or_else(|| Error::Usage(format!("{}: no certificate in it", cert.display())))?;
        let fingerprint = super::fingerprint(first);
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, e))?;
        Ok(Identity {
            chain,
            key,
            fingerprint,
        })
    }

    /// `SHA256:…` of the server's certificate.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// Refuses a kept key that others can read, as ssh refuses such a host key.
fn check_private(key: &Path) -> Result<()> {
    let meta = fs::metadata(key).map_err(|e| Error::io(format!("reading {}", key.display()), e))?;
    if meta.mode() & 0o077 != 0 {
        return Err(Error::Usage(format!(
            "{} is readable by other users (mode {:o}): chmod 600 it, or remove the \
             directory to make a new certificate",
            key.display(),
            meta.mode() & 0o777
        )));
    }
    Ok(())
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_identity_is_kept_private_and_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = state_dir(tmp.path(), "echo-server");
        let first = Identity::load_or_create(&dir).unwrap();
        let mode = fs::metadata(dir.join(KEY_FILE)).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = Identity::load_or_create(&dir).unwrap();
        assert_eq!(first.fingerprint(), again.fingerprint());
        fs::set_permissions(
            dir.join(KEY_FILE),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
        let err = Identity::load_or_create(&dir).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}
