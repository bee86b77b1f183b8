//! Load patterns for the file transfer, and its peers: md5sum, nc, and the
//! md5sum + socat + md5sum pipeline a tutorial user would write.

use crate::peers::free_port;
use socklab_ftp::client::{ClientConfig, Session};
use socklab_net::tls::Trust;
use socklab_testkit::{password, Cost, Fixture, USER};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A scratch directory on tmpfs when there is one, so the figures measure the
/// protocol and the hashing, not the disk (every side writes to the same kind of
/// place). The server still fsyncs; on tmpfs that costs nothing.
pub fn scratch() -> Result<tempfile::TempDir, String> {
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    };
    dir.map_err(|e| format!("scratch dir: {e}"))
}

/// A scratch directory on the machine's disk (under /var/tmp, which survives reboots
/// and so is not tmpfs on a usual Linux), for the rows that measure what a user's
/// disk allows.
pub fn scratch_on_disk() -> Result<tempfile::TempDir, String> {
    tempfile::tempdir_in("/var/tmp").map_err(|e| format!("scratch dir in /var/tmp: {e}"))
}

/// Deletes `path` if it exists, just before a run writes it again.
///
/// On the VM these figures were first measured on, memory the guest frees goes back
/// to the host (virtio-balloon free page reporting), and touching it again costs a
/// fault in the host: `dd` of 1 GiB into new tmpfs files ran at 280–650 MB/s, and at
/// 2.1–2.6 GB/s into a file just deleted. ftp writes a new `.part` beside the old copy
/// (the old one must stay whole until the new one is verified), so without this it
/// paid for 1 GiB of fresh memory every run, and peers that truncate in place did not.
/// Deleting every subject's destination right before it writes lets each reuse the
/// memory just freed (the guest reports free memory to the host after about 2 s).
pub fn fresh(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// Writes `size` bytes of varied data to `path` (a repeated random MiB, each copy
/// tagged, so nothing downstream can deduplicate or compress it away).
pub fn make_file(path: &Path, size: u64) -> Result<(), String> {
    let block = socklab_testkit::random_bytes(1 << 20);
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| e.to_string())?);
    let mut left = size;
    let mut i = 0u64;
    while left > 0 {
        let mut b = block.clone();
        b[..8].copy_from_slice(&i.to_be_bytes());
        let n = left.min(b.len() as u64) as usize;
        f.write_all(&b[..n]).map_err(|e| e.to_string())?;
        left -= n as u64;
        i += 1;
    }
    f.flush().map_err(|e| e.to_string())
}

/// Starts the release ftp-server on testkit's files in `dir` (a users file at the real
/// argon2 cost, as a user's would be: the figures include logging in), with `extra`
/// flags. Returns the server and the files: the served `root()`, the `password_file()`.
pub fn start_server(dir: &Path, extra: &[&str]) -> (socklab_testkit::Server, Fixture) {
    let fx = Fixture::in_dir(dir, Cost::Real);
    (
        crate::start_quiet(socklab_testkit::ftp_server(&fx, extra)),
        fx,
    )
}

/// A client config logged in as testkit's user.
pub fn config(port: u16) -> ClientConfig {
    ClientConfig {
        host: "127.0.0.1".into(),
        port,
        login: Some((USER.into(), password().into())),
        connect_timeout: Duration::from_secs(5),
        stall_timeout: Duration::from_secs(60),
        progress: false,
    }
}

fn rate(bytes: u64, t: Instant) -> f64 {
    bytes as f64 / 1e6 / t.elapsed().as_secs_f64()
}

/// Connects and logs in, over TLS pinned to `tls` (a fingerprint) when given.
fn session(cfg: &ClientConfig, tls: Option<&str>) -> Result<Session, String> {
    match tls {
        None => Session::connect(cfg),
        Some(fp) => Session::connect_tls(cfg, &Trust::Fingerprint(fp.to_owned())),
    }
    .map_err(|e| format!("connect: {e}"))
}

/// `put` of `path` as `name` (overwriting), MB/s including login and the md5 checks.
pub fn put(cfg: &ClientConfig, path: &Path, name: &str, size: u64) -> Result<f64, String> {
    put_over(cfg, None, path, name, size)
}

/// [`put`], over TLS pinned to fingerprint `tls` when given.
pub fn put_over(
    cfg: &ClientConfig,
    tls: Option<&str>,
    path: &Path,
    name: &str,
    size: u64,
) -> Result<f64, String> {
    let t = Instant::now();
    let mut s = session(cfg, tls)?;
    let (done, _) = s
        .put(path, name, false, true)
        .map_err(|e| format!("put: {e}"))?;
    if done.size != size {
        return Err(format!("server stored {} of {size} bytes", done.size));
    }
    Ok(rate(size, t))
}

/// `get` of `name` into `dest` (overwriting), MB/s including login and the md5 checks.
pub fn get(cfg: &ClientConfig, name: &str, dest: &Path, size: u64) -> Result<f64, String> {
    get_over(cfg, None, name, dest, size)
}

/// [`get`], over TLS pinned to fingerprint `tls` when given.
pub fn get_over(
    cfg: &ClientConfig,
    tls: Option<&str>,
    name: &str,
    dest: &Path,
    size: u64,
) -> Result<f64, String> {
    let t = Instant::now();
    let mut s = session(cfg, tls)?;
    let (got, _, _) = s
        .get(name, dest, false, true)
        .map_err(|e| format!("get: {e}"))?;
    if got != size {
        return Err(format!("got {got} of {size} bytes"));
    }
    Ok(rate(size, t))
}

/// `cp SRC DEST` then `sync DEST` (fsync of the copy): MB/s, the least a durable copy
/// of the file costs on that filesystem.
pub fn cp_sync(src: &Path, dest: &Path, size: u64) -> Result<f64, String> {
    let t = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"cp -- "$1" "$2" && sync -- "$2""#)
        .args([
            "cp_sync",
            &src.display().to_string(),
            &dest.display().to_string(),
        ])
        .status()
        .map_err(|e| format!("cp + sync: {e}"))?;
    let got = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    if !status.success() || got != size {
        return Err(format!("cp + sync copied {got} of {size} bytes"));
    }
    Ok(rate(size, t))
}

/// `cp SRC DEST` alone, into the page cache: MB/s. Beside [`cp_sync`], what the
/// fsync costs on that filesystem.
pub fn cp_only(src: &Path, dest: &Path, size: u64) -> Result<f64, String> {
    let t = Instant::now();
    let status = Command::new("cp")
        .arg("--")
        .arg(src)
        .arg(dest)
        .status()
        .map_err(|e| format!("cp: {e}"))?;
    let got = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    if !status.success() || got != size {
        return Err(format!("cp copied {got} of {size} bytes"));
    }
    Ok(rate(size, t))
}

/// `md5sum FILE`: MB/s, the hashing limit of one core.
pub fn md5sum(path: &Path, size: u64) -> Result<f64, String> {
    let t = Instant::now();
    let out = Command::new("md5sum")
        .arg(path)
        .output()
        .map_err(|e| format!("md5sum: {e}"))?;
    if !out.status.success() {
        return Err("md5sum failed".into());
    }
    Ok(rate(size, t))
}

/// A receiving peer, started and listening on a free port.
struct Listening {
    child: std::process::Child,
    port: String,
}

impl Drop for Listening {
    /// A receiver still running when its transfer is given up is killed, never left
    /// behind. (One already reaped is left alone: `kill` does nothing then.)
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `receiver` (a shell command; `{port}` in it is replaced by a free port) and
/// waits until it listens.
fn listen(receiver: &str) -> Result<Listening, String> {
    let port = free_port().to_string();
    let child = Command::new("sh")
        .arg("-c")
        .arg(receiver.replace("{port}", &port))
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    // From here on, a receiver that is given up on is killed when this is dropped.
    let rx = Listening { child, port };
    // Wait until the receiver listens: a connect probe would be taken as the transfer,
    // so look for the socket in the kernel's table instead.
    let probe = format!("ss -Hltn 'sport = :{}' | grep -q LISTEN", rx.port);
    let listening = (0..250).any(|_| {
        let up = Command::new("sh")
            .arg("-c")
            .arg(&probe)
            .status()
            .is_ok_and(|s| s.success());
        if !up {
            std::thread::sleep(Duration::from_millis(20));
        }
        up
    });
    if !listening {
        return Err(format!("receiver `{receiver}` did not listen"));
    }
    Ok(rx)
}

/// Runs `sender` (`{port}` replaced by the receiver's) and waits for the receiver to
/// finish writing `dest`, which must then hold `size` bytes.
fn deliver(mut rx: Listening, sender: &str, dest: &Path, size: u64) -> Result<(), String> {
    let status = Command::new("sh")
        .arg("-c")
        .arg(sender.replace("{port}", &rx.port))
        .stderr(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    // A receiver that has not finished by the limit is killed when `rx` is dropped.
    socklab_testkit::wait_child_every(
        &mut rx.child,
        Duration::from_secs(300),
        Duration::from_millis(1),
    );
    let got = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    if !status.success() || got != size {
        return Err(format!("transfer moved {got} of {size} bytes"));
    }
    Ok(())
}

/// Plain `nc`, no verification at all: MB/s, from the moment the receiver listens.
pub fn nc(path: &Path, dest: &Path, size: u64) -> Result<f64, String> {
    // `exec`, so that the child killed on a failure is nc itself, not a shell above it.
    let rx = listen(&format!(
        "exec nc -l 127.0.0.1 {{port}} > '{}'",
        dest.display()
    ))?;
    let t = Instant::now();
    deliver(
        rx,
        &format!("exec nc -N 127.0.0.1 {{port}} < '{}'", path.display()),
        dest,
        size,
    )?;
    Ok(rate(size, t))
}

/// The tutorial user's pipeline: `md5sum` the file, send it with socat, `md5sum` what
/// arrived, compare. Three passes, one after another: MB/s over the whole. The
/// receiving socat is started before the clock starts, as a user would have it
/// waiting on the other machine; `dest` is deleted (see `fresh`) between the first
/// md5sum and the transfer, with the clock stopped.
pub fn pipeline(path: &Path, dest: &Path, size: u64) -> Result<f64, String> {
    let sum = |p: &Path| -> Result<String, String> {
        let out = Command::new("md5sum")
            .arg(p)
            .output()
            .map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_owned())
    };
    // socat opens `dest` only once the sender has connected.
    let rx = listen(&format!(
        "exec socat -u TCP-LISTEN:{{port}},bind=127.0.0.1,reuseaddr 'OPEN:{},creat,trunc'",
        dest.display()
    ))?;
    let t = Instant::now();
    let before = sum(path)?;
    let hashing = t.elapsed();
    fresh(dest);
    let t = Instant::now();
    deliver(
        rx,
        &format!(
            "exec socat -u 'OPEN:{}' TCP:127.0.0.1:{{port}}",
            path.display()
        ),
        dest,
        size,
    )?;
    let after = sum(dest)?;
    if before != after {
        return Err(format!("pipeline md5 {before} != {after}"));
    }
    Ok(size as f64 / 1e6 / (hashing + t.elapsed()).as_secs_f64())
}

/// Where a copy of `name` goes in `dir`.
pub fn dest(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
