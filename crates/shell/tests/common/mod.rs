//! Helpers shared by the shell server's tests: the real server binary on port 0 with
//! testkit's users file and work directory, and raw protocol access.
#![allow(dead_code)] // Each test file uses its own subset.

pub mod account;
pub mod terminal;

use socklab_proto::msg::{read_object, write_header};
use socklab_shell::request::ShellRequest;
use socklab_shell::wire::{read_incoming, ExitStatus, Incoming, StreamName};
use socklab_shell::Client;
pub use socklab_testkit::{password, USER};
use socklab_testkit::{Cost, Server};
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// How long a test waits for any one reply before it fails (instead of hanging).
pub const REPLY_LIMIT: Duration = Duration::from_secs(30);

/// A running shell-server with its users file and work directory.
pub struct Fixture {
    /// Declared before `files`: the server is stopped before its directory goes.
    pub server: Server,
    /// The server's `--workdir`.
    pub work: PathBuf,
    /// The users file, the password file and `work`.
    pub files: socklab_testkit::Fixture,
}

impl Fixture {
    /// Starts shell-server with a fast failure delay (50 ms) plus `extra` flags, and a
    /// users file hashed at the least argon2id cost ([`Cost::Cheap`]), so that the many
    /// logins of the shell tests stay cheap.
    pub fn start(extra: &[&str]) -> Fixture {
        let mut args = vec!["--login-delay-ms", "50"];
        args.extend_from_slice(extra);
        Self::spawn(&args, Cost::Cheap)
    }

    /// Starts shell-server with exactly `extra` flags besides users, port and workdir,
    /// and a users file hashed at the real argon2 cost, as socklab-passwd writes it.
    pub fn start_exact(extra: &[&str]) -> Fixture {
        Self::spawn(extra, Cost::Real)
    }

    fn spawn(extra: &[&str], cost: Cost) -> Fixture {
        let files = socklab_testkit::Fixture::with_cost(cost);
        // The tests run as root, which shell-server refuses without this flag.
        let mut args = vec!["--allow-root"];
        args.extend_from_slice(extra);
        Fixture {
            server: socklab_testkit::start_shell(&files, &args),
            work: files.work(),
            files,
        }
    }

    /// A raw connection with a bounded read timeout.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.server.connect_addr()).unwrap();
        s.set_read_timeout(Some(REPLY_LIMIT)).unwrap();
        s
    }

    /// A raw connection, logged in.
    pub fn logged_in(&self) -> TcpStream {
        let mut s = self.connect();
        socklab_testkit::login(&mut s, USER, password())
            .unwrap_or_else(|e| self.fail(format!("login failed: {e}")));
        s
    }

    /// A logged-in library client.
    pub fn client(&self) -> Client {
        Client::login(self.connect(), USER, password()).unwrap_or_else(|e| {
            panic!(
                "login failed: {e}\nserver stderr:\n{}",
                self.server.stderr()
            )
        })
    }

    /// Runs shell-client one-shot with `args` after `--`.
    pub fn run_client(&self, args: &[&str]) -> Output {
        let port = self.server.port().to_string();
        Command::new(env!("CARGO_BIN_EXE_shell-client"))
            .args(["--port", &port, "--user", USER, "--"])
            .args(args)
            .env("SOCKLAB_PASSWORD", password())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Panics with the server's log.
    pub fn fail(&self, what: impl std::fmt::Display) -> ! {
        panic!("{what}\nserver stderr:\n{}", self.server.stderr())
    }
}

/// Runs `cmd` through the library client and collects both streams.
pub fn exec(client: &mut Client, cmd: &str) -> (ExitStatus, Vec<u8>, Vec<u8>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = client.exec(cmd, &mut out, &mut err).unwrap();
    (status, out, err)
}

/// Sends an `Exec` request for `cmd` (no extra environment) on a raw connection.
pub fn send_exec(s: &mut TcpStream, cmd: &str, stdin: bool) {
    let req = ShellRequest::Exec {
        cmd: cmd.to_string(),
        stdin,
        env: Default::default(),
    };
    write_header(s, &req).unwrap();
}

/// Sends a raw frame: the big-endian length, then `payload`.
pub fn send_frame(s: &mut TcpStream, payload: &[u8]) {
    let mut buf = (payload.len() as u32).to_be_bytes().to_vec();
    buf.extend_from_slice(payload);
    s.write_all(&buf).unwrap();
}

/// Reads one reply object (`None` when the server closed the connection).
pub fn read_reply(s: &mut TcpStream) -> Option<serde_json::Map<String, serde_json::Value>> {
    read_object(s).ok().flatten()
}

/// Reads stdout chunks until a whole line has arrived, and returns it.
pub fn read_line_of_output(s: &mut TcpStream) -> String {
    let mut line = Vec::new();
    for _ in 0..1000 {
        match read_incoming(s).unwrap() {
            Incoming::Chunk(StreamName::Stdout, data) => line.extend_from_slice(&data),
            Incoming::Chunk(StreamName::Stderr, _) => {}
            Incoming::Done(st) => panic!("command ended before a line: {st:?}"),
        }
        if line.ends_with(b"\n") {
            break;
        }
    }
    String::from_utf8(line).unwrap()
}

/// The PID of every process there is, from /proc.
pub fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect()
}

/// A process's command line, its words joined by spaces (`None` once it is gone).
pub fn cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        String::from_utf8_lossy(&raw)
            .trim_end_matches('\0')
            .replace('\0', " "),
    )
}

/// PIDs of every process whose process group is `pgid`, from /proc.
pub fn group_members(pgid: u32) -> Vec<u32> {
    pids()
        .into_iter()
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // "PID (COMM) STATE PPID PGRP …"
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, r)| r.split_whitespace().collect())
                .unwrap_or_default();
            fields.get(2).and_then(|p| p.parse::<u32>().ok()) == Some(pgid)
        })
        .collect()
}
