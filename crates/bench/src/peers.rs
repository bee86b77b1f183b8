//! Starting the peers socklab is compared with (socat, iperf3, ncat, nc), on loopback.

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A peer process, killed when dropped.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl Peer {
    /// Its process id (its CPU time, and that of the children it reaped, is metered).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Peer {
    /// Kills the peer's whole process group: socat forks a child per connection, and a
    /// child stuck on its own pipe would outlive its parent otherwise.
    fn drop(&mut self) {
        let group = Pid::from_raw(self.child.id() as i32);
        if killpg(group, Signal::SIGKILL).is_err() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago (socat and iperf3 cannot report port 0).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Starts `program args…` (where `{port}` in an argument is replaced by a free port)
/// and waits until the port accepts connections. Tries a few ports.
pub fn start(program: &str, args: &[&str]) -> Result<Peer, String> {
    for _ in 0..5 {
        let port = free_port();
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{port}", &port.to_string()))
            .collect();
        let mut child = Command::new(program)
            .args(&args)
            // Its own process group, so that `drop` can kill what it forks too.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e} (make bench installs it)"))?;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Peer { child, port });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    Err(format!("{program} did not start listening"))
}

/// The socat settings the echo cases try, each its own row: its default transfer size
/// (8 KiB), half of it, and 64 KiB. The report compares socklab with whichever was
/// fastest without failing, and names it.
///
/// socat's `PIPE` is one pipe that socat both writes and reads, from one process.
/// With `-b` above the pipe's atomic size (4 KiB), a write can find less room than it
/// needs after `select` said the pipe was writable, and then blocks forever: nobody
/// else will drain the pipe. At 64 KiB that happens in every bulk run, at the 8 KiB
/// default now and then; the bench's client reads while it writes throughout, and a
/// stalled run's note shows the socat child waiting in `anon_pipe_write`.
pub const SOCAT_SETTINGS: [(&str, &[&str]); 3] = [
    ("socat fork PIPE (default, -b 8192)", &[]),
    ("socat fork PIPE -b 4096", &["-b", "4096"]),
    ("socat fork PIPE -b 65536", &["-b", "65536"]),
];

/// Starts `socat` as an echo server: a forked `PIPE` per connection, with `options`
/// (e.g. `-b 4096`) before its addresses.
pub fn socat_echo(options: &[&str]) -> Result<Peer, String> {
    let args: Vec<&str> = options
        .iter()
        .copied()
        .chain(["TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork", "PIPE"])
        .collect();
    start("socat", &args)
}

/// The processes whose parent is `pid`, by PID, from `/proc`.
pub fn children_of(pid: u32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in dir.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // The parent's pid is the second field after the command name.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            found.push(child);
        }
    }
    found
}

/// Where the children of process `pid` are waiting in the kernel (`/proc/PID/wchan`),
/// e.g. "12345 in anon_pipe_write": when a peer stalls, this tells whether it waits
/// for the client (a socket) or for itself (socat's `PIPE`, which only it drains).
pub fn children_waiting_in(pid: u32) -> String {
    children_of(pid)
        .into_iter()
        .map(|child| {
            let wchan = std::fs::read_to_string(format!("/proc/{child}/wchan")).unwrap_or_default();
            format!("{child} in {}", wchan.trim())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Kills every child of the peer `pid` (socat's per-connection forks): after a
/// deadlocked run, the one stuck serving it.
pub fn kill_children(pid: u32) {
    for child in children_of(pid) {
        let _ = nix::sys::signal::kill(Pid::from_raw(child), Signal::SIGKILL);
    }
}

/// iperf3's loopback rate for `bytes`, in MB/s: the ceiling for a TCP byte stream.
/// iperf3 at its defaults; a run its server resets (it takes `start`'s connect probe
/// for a client now and then) is tried again, up to three times in all.
pub fn iperf3_rate(bytes: u64) -> Result<f64, String> {
    let mut last = String::new();
    for _ in 0..3 {
        match iperf3_once(bytes) {
            Ok(rate) => return Ok(rate),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn iperf3_once(bytes: u64) -> Result<f64, String> {
    // The server survives `start`'s connect probe and serves the real test after it.
    let server = start("iperf3", &["-s", "-B", "127.0.0.1", "-p", "{port}"])?;
    let out = Command::new("iperf3")
        .args([
            "-c",
            "127.0.0.1",
            "-p",
            &server.port.to_string(),
            "-n",
            &bytes.to_string(),
            "-J",
        ])
        .output()
        .map_err(|e| format!("iperf3 client: {e}"))?;
    drop(server);
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("iperf3 output: {e}"))?;
    json["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .map(|bps| bps / 8.0 / 1e6)
        .ok_or_else(|| {
            format!(
                "iperf3 gave no rate: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
}
