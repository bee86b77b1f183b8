//! Load patterns for OpenSSH, the peer of the shell and file lessons: scp, sftp,
//! `ssh host cat`, `ssh host true`, and trees with `scp -r` and `tar c | ssh host
//! tar x`. Every function runs one measured thing against a [`Sshd`] and checks its
//! result (sizes, md5, file counts): a peer that did not do the work has no figure.

use crate::sshd::Sshd;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one OpenSSH command may run before it is killed and its run fails.
pub const LIMIT: Duration = Duration::from_secs(300);

fn rate(bytes: u64, t: Instant) -> f64 {
    bytes as f64 / 1e6 / t.elapsed().as_secs_f64()
}

/// Runs `cmd` to its end within [`LIMIT`] (killed past it, by PID); `Err` with its
/// stderr when it fails.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    let what = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: {e}"))?;
    let mut err = child.stderr.take().expect("piped");
    let drain = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = socklab_testkit::wait_child_every(&mut child, LIMIT, Duration::from_millis(1));
    let err = drain.join().unwrap_or_default();
    match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(format!("{what} failed ({s}): {}", err.trim())),
        None => Err(format!(
            "{what} ran past {} s and was killed",
            LIMIT.as_secs()
        )),
    }
}

fn size_of(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn check_size(what: &str, path: &Path, size: u64) -> Result<(), String> {
    match size_of(path) {
        got if got == size => Ok(()),
        got => Err(format!("{what} wrote {got} of {size} bytes")),
    }
}

/// A direction of a transfer: put sends the local file to the server, get fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Local to remote.
    Put,
    /// Remote to local.
    Get,
}

/// `scp` of `src` to `dest` (put: `dest` is remote; get: `src` is), OpenSSH 9's SFTP
/// protocol, or the old scp protocol with `legacy` (`-O`). MB/s.
pub fn scp(
    sshd: &Sshd,
    cipher: Option<&str>,
    legacy: bool,
    dir: Dir,
    (src, dest): (&Path, &Path),
    size: u64,
) -> Result<f64, String> {
    let mut cmd = sshd.scp(cipher);
    if legacy {
        cmd.arg("-O");
    }
    match dir {
        Dir::Put => cmd.arg(src).arg(sshd.remote(dest)),
        Dir::Get => cmd.arg(sshd.remote(src)).arg(dest),
    };
    let t = Instant::now();
    run(&mut cmd)?;
    let r = rate(size, t);
    check_size("scp", dest, size)?;
    Ok(r)
}

/// `sftp -b BATCH` with one `put` or `get` of `src` to `dest`. MB/s.
pub fn sftp(
    sshd: &Sshd,
    cipher: Option<&str>,
    dir: Dir,
    (src, dest): (&Path, &Path),
    size: u64,
) -> Result<f64, String> {
    let verb = if dir == Dir::Put { "put" } else { "get" };
    let batch = sshd.dir().join(format!("batch-{verb}"));
    std::fs::write(
        &batch,
        format!("{verb} \"{}\" \"{}\"\n", src.display(), dest.display()),
    )
    .map_err(|e| format!("sftp batch: {e}"))?;
    let t = Instant::now();
    run(&mut sshd.sftp(cipher, &batch))?;
    let r = rate(size, t);
    check_size("sftp", dest, size)?;
    Ok(r)
}

/// The md5 of `path` as `md5sum` prints it, run locally or, with `sshd`, on the
/// server through `ssh host md5sum PATH`.
fn md5sum(sshd: Option<(&Sshd, Option<&str>)>, path: &Path) -> Result<String, String> {
    let mut cmd = match sshd {
        Some((s, cipher)) => {
            let mut c = s.ssh(cipher);
            c.arg(&s.target).arg(format!("md5sum '{}'", path.display()));
            c
        }
        None => {
            let mut c = Command::new("md5sum");
            c.arg(path);
            c
        }
    };
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("md5sum: {e}"))?;
    let sum = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_owned();
    if !out.status.success() || sum.len() != 32 {
        return Err(format!(
            "md5sum of {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(sum)
}

/// What a careful user runs: `md5sum` on the sending end, `scp`, `md5sum` on the
/// receiving end (the remote one through `ssh host md5sum`), and a comparison. MB/s
/// over the three, one after another.
pub fn scp_md5(
    sshd: &Sshd,
    cipher: Option<&str>,
    dir: Dir,
    (src, dest): (&Path, &Path),
    size: u64,
) -> Result<f64, String> {
    let remote = Some((sshd, cipher));
    let (src_side, dest_side) = match dir {
        Dir::Put => (None, remote),
        Dir::Get => (remote, None),
    };
    let t = Instant::now();
    let before = md5sum(src_side, src)?;
    let mut cmd = sshd.scp(cipher);
    match dir {
        Dir::Put => cmd.arg(src).arg(sshd.remote(dest)),
        Dir::Get => cmd.arg(sshd.remote(src)).arg(dest),
    };
    run(&mut cmd)?;
    let after = md5sum(dest_side, dest)?;
    let r = rate(size, t);
    if before != after {
        return Err(format!("md5 {before} before scp, {after} after"));
    }
    Ok(r)
}

/// `ssh host true` on a fresh connection (key authentication), with key exchange
/// `kex` instead of ssh's default when given: ms.
pub fn ssh_true(sshd: &Sshd, cipher: Option<&str>, kex: Option<&str>) -> Result<f64, String> {
    let mut cmd = sshd.ssh(cipher);
    if let Some(k) = kex {
        cmd.args(["-o", &format!("KexAlgorithms={k}")]);
    }
    cmd.arg(&sshd.target).arg("true");
    let t = Instant::now();
    run(&mut cmd)?;
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

/// Streams the file `src` (`size` bytes) into `cmd`'s stdin and reads its stdout,
/// which must be the same bytes (`cat` on the far end): MB/s, from the start of the
/// command to the last byte back.
pub fn stream_through(cmd: &mut Command, src: &Path, size: u64) -> Result<f64, String> {
    let input = std::fs::File::open(src).map_err(|e| format!("{}: {e}", src.display()))?;
    let mut expect = std::io::BufReader::new(std::fs::File::open(src).map_err(|e| e.to_string())?);
    let t = Instant::now();
    let mut child = cmd
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let drain = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let (mut buf, mut want) = (vec![0u8; 256 << 10], vec![0u8; 256 << 10]);
    let mut got = 0u64;
    let mut verdict = Ok(());
    loop {
        let n = match out.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                verdict = Err(format!("reading the output: {e}"));
                break;
            }
        };
        if expect.read_exact(&mut want[..n]).is_err() || buf[..n] != want[..n] {
            verdict = Err(format!("the output differs from the input at byte {got}"));
            break;
        }
        got += n as u64;
    }
    let r = rate(size, t);
    drop(out);
    let status = socklab_testkit::wait_child_every(&mut child, LIMIT, Duration::from_millis(1));
    let err = drain.join().unwrap_or_default();
    verdict?;
    match status {
        Some(s) if s.success() && got == size => Ok(r),
        Some(s) => Err(format!(
            "{got} of {size} bytes came back, exit {s}: {}",
            err.trim()
        )),
        None => Err(format!("still running after {} s: killed", LIMIT.as_secs())),
    }
}

/// `ssh host cat` with `src` as stdin: MB/s.
pub fn ssh_cat(sshd: &Sshd, cipher: Option<&str>, src: &Path, size: u64) -> Result<f64, String> {
    let mut cmd = sshd.ssh(cipher);
    cmd.arg(&sshd.target).arg("cat");
    stream_through(&mut cmd, src, size)
}

/// Copies the tree `src` to `dest` (which must not exist), put or get, with
/// `scp -r`: seconds.
pub fn scp_r(
    sshd: &Sshd,
    cipher: Option<&str>,
    dir: Dir,
    (src, dest): (&Path, &Path),
) -> Result<f64, String> {
    let mut cmd = sshd.scp(cipher);
    cmd.arg("-r");
    match dir {
        Dir::Put => cmd.arg(src).arg(sshd.remote(dest)),
        Dir::Get => cmd.arg(sshd.remote(src)).arg(dest),
    };
    let t = Instant::now();
    run(&mut cmd)?;
    Ok(t.elapsed().as_secs_f64())
}

/// Copies the tree `src` into `dest` (made first) with `tar c | ssh host tar x`
/// (put) or `ssh host tar c | tar x` (get): seconds.
pub fn tar_ssh(
    sshd: &Sshd,
    cipher: Option<&str>,
    dir: Dir,
    (src, dest): (&Path, &Path),
) -> Result<f64, String> {
    let ssh = {
        let c = sshd.ssh(cipher);
        let mut words = vec![c.get_program().to_string_lossy().into_owned()];
        words.extend(c.get_args().map(|a| quote(&a.to_string_lossy())));
        words.push(sshd.target.clone());
        words.join(" ")
    };
    let (s, d) = (
        quote(&src.display().to_string()),
        quote(&dest.display().to_string()),
    );
    let pipeline = match dir {
        Dir::Put => format!("tar cf - -C {s} . | {ssh} \"mkdir -p {d} && tar xf - -C {d}\""),
        Dir::Get => format!("mkdir -p {d} && {ssh} \"tar cf - -C {s} .\" | tar xf - -C {d}"),
    };
    let t = Instant::now();
    run(Command::new("bash").args(["-o", "pipefail", "-c", &pipeline]))?;
    Ok(t.elapsed().as_secs_f64())
}

/// `word` in single quotes for `sh`.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// ssh's throughput (MB/s) through `ssh host 'cat > /dev/null'` with `src` as
/// stdin: a short probe of a cipher's speed on this machine.
pub fn probe(sshd: &Sshd, cipher: &str, src: &Path, size: u64) -> Result<f64, String> {
    let input = std::fs::File::open(src).map_err(|e| e.to_string())?;
    let mut cmd = sshd.ssh(Some(cipher));
    cmd.arg(&sshd.target).arg("cat > /dev/null");
    let t = Instant::now();
    let out = cmd
        .stdin(input)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "ssh -c {cipher}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(rate(size, t))
}
