//! # socklab-testkit
//!
//! Test support shared by the lesson crates and the benchmarks:
//!
//! - [`Fixture`]: a temp directory with a users file ([`USER`], [`password()`]) hashed
//!   cheaply for tests or at the real cost for benchmarks, and the password in a file;
//! - [`start_echo`], [`start_chat`], [`start_shell`], [`start_ftp`]: a real server
//!   binary on port 0 with a fixture's files and extra flags, as a [`Server`], which
//!   reads the address from its first stdout line (`listening on ADDR`), collects its log
//!   for failure messages, and stops it by PID when dropped, whatever happens;
//! - [`hostile`]: the hostile-input battery of the framed servers;
//! - [`pty`]: a program on a pseudo-terminal of the test's own, typed into as a person would;
//! - [`tls`]: certificates made by openssl, its fingerprints, and a TLS server's
//!   `fingerprint` line ([`Server::fingerprint`]).
//!
//! It is a dev-dependency of the lessons, and a dependency of the benchmarks only;
//! nothing here ships in a lesson's binary.

mod fixture;
pub mod hostile;
pub mod pty;
mod start;
pub mod tls;

pub use fixture::{password, write_users, Cost, Fixture, USER};
pub use start::{
    bin, example, ftp_server, run_example, server_command, shell_server, start_chat, start_echo,
    start_ftp, start_shell, EXAMPLE_LIMIT,
};

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Logs in on a raw stream, as a hand-written peer would: the login request, then its
/// reply. Tests that go on to send hostile bytes on the same stream use it instead of
/// the client library, which would own the stream.
pub fn login<S: std::io::Write + Read>(
    stream: &mut S,
    user: &str,
    password: &str,
) -> socklab_proto::Result<()> {
    socklab_proto::msg::write_header(
        stream,
        &socklab_proto::Request::Login {
            user: user.into(),
            password: password.into(),
        },
    )?;
    socklab_proto::msg::read_reply::<_, socklab_proto::msg::Empty>(stream).map(|_| ())
}

/// How long a server may take to print `listening on ADDR`.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// A running server process, stopped (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// The address from `listening on ADDR`: `127.0.0.1:PORT`, `[::]:PORT` or a path.
    pub addr: String,
    stderr: Arc<Mutex<String>>,
    stdout_rest: Arc<Mutex<String>>,
    drains: Vec<thread::JoinHandle<()>>,
}

impl Server {
    /// Spawns `bin` with `args` and waits for its `listening on` line.
    pub fn spawn(bin: &str, args: &[&str]) -> Server {
        Self::spawn_with(Command::new(bin).args(args))
    }

    /// Spawns a prepared command (for env vars, working directory, stdin).
    pub fn spawn_with(cmd: &mut Command) -> Server {
        let desc = format!("{cmd:?}");
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {desc}: {e}"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut drains = vec![drain(
            child.stderr.take().expect("stderr is piped"),
            Arc::clone(&stderr),
        )];
        let stdout = child.stdout.take().expect("stdout is piped");
        let stdout_rest = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let rest = Arc::clone(&stdout_rest);
        drains.push(thread::spawn(move || {
            first_line_then_drain(stdout, tx, rest)
        }));
        match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(line) if line.starts_with("listening on ") => Server {
                addr: line["listening on ".len()..].trim().to_owned(),
                child,
                stderr,
                stdout_rest,
                drains,
            },
            other => {
                let _ = child.kill();
                let status = child.wait().ok();
                thread::sleep(Duration::from_millis(100));
                panic!(
                    "{desc} did not print `listening on ADDR` (got {other:?}, exit {status:?});\nstderr:\n{}",
                    stderr.lock().map(|s| s.clone()).unwrap_or_default()
                );
            }
        }
    }

    /// The port of a TCP/UDP address.
    pub fn port(&self) -> u16 {
        self.addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {}", self.addr))
    }

    /// `127.0.0.1:PORT` (or `[::1]:PORT` for a server bound to an IPv6 address).
    pub fn connect_addr(&self) -> String {
        if self.addr.starts_with('[') {
            format!("[::1]:{}", self.port())
        } else {
            format!("127.0.0.1:{}", self.port())
        }
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server wrote to stderr so far: print it when an assertion fails.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Everything the server wrote to stdout after its first line.
    pub fn stdout(&self) -> String {
        self.stdout_rest
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`, `STOP`, `CONT`) with kill(1).
    pub fn signal(&self, name: &str) {
        signal(self.pid(), name);
    }

    /// Waits up to `limit` for the process to exit, then for its last output to be
    /// collected, so `stderr()` holds everything it wrote.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let status = wait_child(&mut self.child, limit)?;
        // The pipes close when the process exits; the readers then finish. A child of
        // the server that inherited them could keep them open, so wait a bounded time.
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5)
            && !self.drains.iter().all(|d| d.is_finished())
        {
            thread::sleep(Duration::from_millis(10));
        }
        Some(status)
    }

    /// Waits until `needle` appears in the server's stderr, up to `limit`.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> bool {
        wait_until(limit, || self.stderr().contains(needle))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends signal `name` to `pid` through kill(1) (socklab forbids `unsafe`, so no libc).
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill(1) runs");
    assert!(
        status.success() || name == "KILL",
        "kill -{name} {pid} failed"
    );
}

/// Waits up to `limit` for `child` to exit, looking every 20 ms.
pub fn wait_child(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    wait_child_every(child, limit, Duration::from_millis(20))
}

/// Waits up to `limit` for `child` to exit, looking every `every` (the benchmarks look
/// every millisecond, so a peer's time is not rounded up).
pub fn wait_child_every(child: &mut Child, limit: Duration, every: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if start.elapsed() > limit {
            return None;
        }
        thread::sleep(every);
    }
}

/// Runs `cmd` to its end with `input` on its stdin, and collects its status, stdout
/// and stderr. The input is written from a thread, so a child that writes a lot before
/// it has read everything cannot deadlock against the test.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {desc}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    let feeder = thread::spawn(move || stdin.write_all(&input));
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {desc}: {e}"));
    feeder
        .join()
        .expect("the stdin writer does not panic")
        .unwrap_or_else(|e| panic!("writing the stdin of {desc}: {e}"));
    out
}

/// Polls `cond` every 20 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// Panics with a clear message when a peer tool (nc, socat, python3) is missing.
/// `make test` and `.ci/run` install them through `scripts/setup.sh`.
pub fn require_tool(name: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found,
        "{name} is not installed; run scripts/setup.sh (make test does) to install the test peers"
    );
}

/// `n` random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    use rand::RngCore;
    let mut v = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut v);
    v
}

/// Resident set size of `pid` in KiB, from /proc (VmRSS), or 0 if it has gone.
pub fn rss_kib(pid: u32) -> u64 {
    proc_status_field(pid, "VmRSS:")
}

/// Peak resident set size of `pid` in KiB (VmHWM).
pub fn peak_rss_kib(pid: u32) -> u64 {
    proc_status_field(pid, "VmHWM:")
}

fn proc_status_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn drain<R: Read + Send + 'static>(r: R, into: Arc<Mutex<String>>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(r);
        let mut line = String::new();
        while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
            if let Ok(mut s) = into.lock() {
                s.push_str(&line);
            }
            line.clear();
        }
    })
}

fn first_line_then_drain(stdout: ChildStdout, tx: mpsc::Sender<String>, rest: Arc<Mutex<String>>) {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    let _ = tx.send(line.clone());
    line.clear();
    while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
        if let Ok(mut s) = rest.lock() {
            s.push_str(&line);
        }
        line.clear();
    }
}
