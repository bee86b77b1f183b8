//! Directory trees for the tree-copy rows: many small files, made once, copied with
//! `ftp-client put -r` and `get -r` (the release binary, as a user runs it) and
//! checked after each copy by counting files and bytes.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Files per directory of a tree.
const PER_DIR: usize = 100;

/// Makes `files` files of `size` bytes each under `root`, `PER_DIR` to a directory
/// (`d000/f000` …), each with its own bytes (so nothing can be deduplicated).
pub fn make(root: &Path, files: usize, size: usize) -> Result<(), String> {
    let block = socklab_testkit::random_bytes(size.max(8));
    for i in 0..files {
        let dir = root.join(format!("d{:03}", i / PER_DIR));
        if i % PER_DIR == 0 {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let mut data = block[..size].to_vec();
        let tag = (i as u64).to_be_bytes();
        let n = tag.len().min(size);
        data[..n].copy_from_slice(&tag[..n]);
        let path = dir.join(format!("f{:03}", i % PER_DIR));
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(&data))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// The number of regular files under `root` and their total size.
pub fn count(root: &Path) -> (usize, u64) {
    let (mut files, mut bytes) = (0, 0);
    let mut stack = vec![root.to_path_buf()];
    // Bounded by the tree: every directory is visited once (symlinks are not followed).
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => {
                    files += 1;
                    bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
                }
                _ => {}
            }
        }
    }
    (files, bytes)
}

/// Checks that `dest` holds `files` files of `bytes` bytes in all.
pub fn check(what: &str, dest: &Path, files: usize, bytes: u64) -> Result<(), String> {
    match count(dest) {
        (f, b) if f == files && b == bytes => Ok(()),
        (f, b) => Err(format!(
            "{what} left {f} files, {b} bytes in {}; expected {files}, {bytes}",
            dest.display()
        )),
    }
}

/// Deletes the tree `path` if it is there, before a run writes it again.
pub fn fresh(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
}

/// How `ftp-client` reaches the server: port, password file, and the fingerprint to
/// pin when it speaks TLS.
#[derive(Debug, Clone)]
pub struct FtpClient {
    /// The server's port.
    pub port: u16,
    /// testkit's password file.
    pub password_file: std::path::PathBuf,
    /// `Some(fingerprint)` for TLS.
    pub tls: Option<String>,
}

impl FtpClient {
    fn command(&self) -> Command {
        let mut c = Command::new(socklab_testkit::bin("ftp-client"));
        c.args([
            "--port",
            &self.port.to_string(),
            "--user",
            socklab_testkit::USER,
        ])
        .arg("--password-file")
        .arg(&self.password_file)
        .arg("--no-progress")
        .env("RUST_LOG", "warn");
        if let Some(fp) = &self.tls {
            c.args(["--fingerprint", fp]);
        }
        c
    }

    /// `ftp-client put -r LOCAL --as REMOTE`: seconds.
    pub fn put_r(&self, local: &Path, remote: &str) -> Result<f64, String> {
        let mut c = self.command();
        c.args(["put", "-r"]).arg(local).args(["--as", remote]);
        let t = Instant::now();
        crate::openssh::run(&mut c)?;
        Ok(t.elapsed().as_secs_f64())
    }

    /// `ftp-client get -r REMOTE -o LOCAL`: seconds.
    pub fn get_r(&self, remote: &str, local: &Path) -> Result<f64, String> {
        let mut c = self.command();
        c.args(["get", "-r", remote, "-o"]).arg(local);
        let t = Instant::now();
        crate::openssh::run(&mut c)?;
        Ok(t.elapsed().as_secs_f64())
    }
}
