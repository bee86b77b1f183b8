//! TLS test support: certificates made by `openssl` (a real peer's tools, not
//! socklab's own code), fingerprints as `openssl x509` computes them, and the second
//! line a TLS server prints.

use crate::{require_tool, wait_until, Server, STARTUP_TIMEOUT};
use base64::Engine;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA and a server certificate it signed, as PEM files in one directory.
#[derive(Debug, Clone)]
pub struct CaFiles {
    /// The CA's certificate (what a client passes as `--ca`).
    pub ca: PathBuf,
    /// The server's certificate (`--cert`).
    pub cert: PathBuf,
    /// The server's private key (`--key`).
    pub key: PathBuf,
}

/// Makes, with `openssl req` and `openssl x509`, a CA and an ECDSA P-256 server
/// certificate for the subject alternative names `san` (`DNS:localhost`,
/// `IP:127.0.0.1`), in `dir`.
pub fn openssl_ca(dir: &Path, san: &str) -> CaFiles {
    require_tool("openssl");
    let f = |name: &str| dir.join(name);
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    run(Command::new("openssl")
        .args(["req", "-x509", "-days", "2", "-subj", "/CN=socklab test CA"])
        .args(ec)
        .arg("-keyout")
        .arg(f("ca.key"))
        .arg("-out")
        .arg(f("ca.pem")));
    run(Command::new("openssl")
        .args(["req", "-new", "-subj", "/CN=socklab test server"])
        .args(ec)
        .arg("-keyout")
        .arg(f("key.pem"))
        .arg("-out")
        .arg(f("server.csr")));
    std::fs::write(f("ext.cnf"), format!("subjectAltName={san}\n")).unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-in"])
        .arg(f("server.csr"))
        .arg("-CA")
        .arg(f("ca.pem"))
        .arg("-CAkey")
        .arg(f("ca.key"))
        .arg("-CAcreateserial")
        .arg("-extfile")
        .arg(f("ext.cnf"))
        .arg("-out")
        .arg(f("cert.pem")));
    CaFiles {
        ca: f("ca.pem"),
        cert: f("cert.pem"),
        key: f("key.pem"),
    }
}

/// The fingerprint of PEM certificate `cert` as `openssl x509 -fingerprint -sha256`
/// computes it, written as socklab and ssh-keygen write it (`SHA256:`, base64, no
/// padding).
pub fn openssl_fingerprint(cert: &Path) -> String {
    require_tool("openssl");
    let out = run(Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(cert));
    // "sha256 Fingerprint=AB:CD:…"
    let hex = out
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .trim()
        .replace(':', "");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!(bytes.len(), 32, "openssl printed {out:?}");
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
    )
}

/// Runs `cmd`, panics with its stderr if it fails, returns its stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Server {
    /// The fingerprint from a TLS server's second stdout line,
    /// `fingerprint SHA256:…`; panics with the server's log if it never comes.
    pub fn fingerprint(&self) -> String {
        let found = wait_until(STARTUP_TIMEOUT, || {
            self.stdout().lines().any(|l| l.starts_with("fingerprint "))
        });
        assert!(
            found,
            "no `fingerprint` line on stdout ({:?}); stderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self.stdout()
            .lines()
            .find_map(|l| l.strip_prefix("fingerprint "))
            .unwrap()
            .trim()
            .to_owned()
    }
}
