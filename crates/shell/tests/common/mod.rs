//! Helpers shared by the shell server's tests: a users file and a work directory in a
//! temp dir, the real server binary on port 0, and raw protocol access.
#![allow(dead_code)] // Each test file uses its own subset.

use socklab_auth::Users;
use socklab_proto::msg::read_object;
use socklab_shell::wire::{read_incoming, ExitStatus, Incoming, StreamName};
use socklab_shell::Client;
use socklab_testkit::Server;
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub const USER: &str = "alice";

/// How long a test waits for any one reply before it fails (instead of hanging).
pub const REPLY_LIMIT: Duration = Duration::from_secs(30);

/// A running shell-server with its users file and work directory.
pub struct Fixture {
    pub server: Server,
    pub password: String,
    pub users: PathBuf,
    pub work: PathBuf,
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// Starts shell-server with a fast failure delay (50 ms) plus `extra` flags, and a
    /// users file whose hash uses argon2id's minimum cost, so that the many logins of
    /// the shell tests do not each spend half a second of unoptimised argon2.
    pub fn start(extra: &[&str]) -> Fixture {
        let mut args = vec!["--login-delay-ms", "50"];
        args.extend_from_slice(extra);
        Self::spawn(&args, false)
    }

    /// Starts shell-server with exactly `extra` flags besides users, port and workdir,
    /// and a users file written by `Users::set_password` at the real argon2 cost.
    pub fn start_exact(extra: &[&str]) -> Fixture {
        Self::spawn(extra, true)
    }

    fn spawn(extra: &[&str], real_cost: bool) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let users = dir.path().join("users");
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        let work = work.canonicalize().unwrap();
        let password = format!("pw-{}", hex(&socklab_testkit::random_bytes(9)));
        if real_cost {
            Users::set_password(&users, USER, &password).unwrap();
        } else {
            std::fs::write(&users, format!("{USER}:{}\n", cheap_hash(&password))).unwrap();
        }
        let mut args = vec![
            "--users".to_owned(),
            users.display().to_string(),
            "--port".to_owned(),
            "0".to_owned(),
            "--workdir".to_owned(),
            work.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = Server::spawn(env!("CARGO_BIN_EXE_shell-server"), &args);
        Fixture {
            server,
            password,
            users,
            work,
            _dir: dir,
        }
    }

    /// A raw connection with a bounded read timeout.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.server.connect_addr()).unwrap();
        s.set_read_timeout(Some(REPLY_LIMIT)).unwrap();
        s
    }

    /// A logged-in library client.
    pub fn client(&self) -> Client {
        Client::login(self.connect(), USER, &self.password).unwrap_or_else(|e| {
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
            .env("SOCKLAB_PASSWORD", &self.password)
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

/// PIDs of every process whose process group is `pgid`, from /proc.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "PID (COMM) STATE PPID PGRP …"
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r.split_whitespace().collect())
            .unwrap_or_default();
        if fields.get(2).and_then(|p| p.parse::<u32>().ok()) == Some(pgid) {
            found.push(pid);
        }
    }
    found
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An argon2id hash at the minimum cost (8 KiB, 1 pass): for tests only. Real users
/// files get the crate's defaults from `socklab-passwd`.
fn cheap_hash(password: &str) -> String {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let params = argon2::Params::new(argon2::Params::MIN_M_COST, 1, 1, None).unwrap();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string()
}
