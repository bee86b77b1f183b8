//! Shared support for the ftp tests: the real server binary on port 0 with testkit's
//! users file, the real client binary, and a raw protocol connection for the cases a
//! well-behaved client never produces (cut uploads, flipped bytes, hostile names).

#![allow(dead_code)]

use socklab_proto::msg::{read_reply, write_header, Empty};
use socklab_proto::Request;
pub use socklab_testkit::{password, USER};
use socklab_testkit::{run_with_stdin, Server};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// testkit's users file and password file, `root/` (served) and `local/` (the
/// client's working directory).
pub struct Fixture {
    pub files: socklab_testkit::Fixture,
}

impl Fixture {
    pub fn new() -> Fixture {
        let files = socklab_testkit::Fixture::new();
        std::fs::create_dir(files.path("local")).unwrap();
        Fixture { files }
    }

    pub fn root(&self) -> PathBuf {
        self.files.root()
    }

    pub fn local(&self) -> PathBuf {
        self.files.path("local")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.files.path(rel)
    }

    /// Starts ftp-server on port 0 serving `root/`, with short timeouts.
    pub fn server(&self, extra: &[&str]) -> Server {
        let mut args = vec!["--login-delay-ms", "10"];
        if !extra.contains(&"--stall-timeout") {
            args.extend(["--stall-timeout", "10"]);
        }
        args.extend_from_slice(extra);
        socklab_testkit::start_ftp(&self.files, &args)
    }

    /// Runs ftp-client logged in as alice, in `local/`.
    pub fn client(&self, server: &Server, args: &[&str]) -> Output {
        self.client_with_stdin(server, args, None)
    }

    /// Runs ftp-client logged in as alice, in `local/`, feeding `stdin` (the `ftp>`
    /// prompt's commands when `args` has none).
    pub fn client_with_stdin(&self, server: &Server, args: &[&str], stdin: Option<&str>) -> Output {
        run_with_stdin(
            &mut self.client_command(server.port(), args),
            stdin.unwrap_or("").as_bytes(),
        )
    }

    /// ftp-client logged in as alice to `port`, in `local/`, not yet started: for a
    /// test that kills it, or gives it an argument that is not UTF-8.
    pub fn client_command(&self, port: u16, args: &[&str]) -> Command {
        let mut cmd = self.bare_client(&["--port", &port.to_string(), "--user", USER]);
        cmd.arg("--password-file")
            .arg(self.files.password_file())
            .args(args);
        cmd
    }

    /// Runs ftp-client with exactly `args`, in `local/`, feeding `stdin`.
    pub fn run_client(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run_with_stdin(&mut self.bare_client(args), stdin.unwrap_or("").as_bytes())
    }

    /// ftp-client with exactly `args`, in `local/`, not yet started.
    pub fn bare_client_for_test(&self, args: &[&str]) -> Command {
        self.bare_client(args)
    }

    fn bare_client(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ftp-client"));
        cmd.args(args)
            .current_dir(self.local())
            .env_remove("SOCKLAB_PASSWORD")
            // Each test has its own known-hosts file, never the user's.
            .env("SOCKLAB_KNOWN_HOSTS", self.path("known_hosts"))
            .env_remove("SSLKEYLOGFILE")
            // Times print in the local zone: make it the same on every machine. "UTC0"
            // is a POSIX rule, so no time zone database is needed to read it.
            .env("TZ", "UTC0");
        cmd
    }

    /// Nothing but complete files in the root: no partial or temp file outside the
    /// partial directory.
    pub fn root_names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != ".socklab-partial")
            .collect();
        v.sort();
        v
    }

    /// Files in the partial directory.
    pub fn partials(&self) -> Vec<String> {
        match std::fs::read_dir(self.root().join(".socklab-partial")) {
            Ok(rd) => rd
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// What a failed command printed, for assertion messages.
pub fn describe(out: &Output, server: &Server) -> String {
    format!(
        "exit {:?}\nclient stdout:\n{}\nclient stderr:\n{}\nserver stderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.stderr()
    )
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
pub fn assert_ok(out: &Output, server: &Server) {
    assert!(
        out.status.success(),
        "client failed:\n{}",
        describe(out, server)
    );
}

/// The client succeeded and its stdout contains `text`.
#[track_caller]
pub fn assert_ok_saying(out: &Output, server: &Server, text: &str) {
    assert_ok(out, server);
    assert!(
        stdout(out).contains(text),
        "expected {text:?} on stdout:\n{}",
        describe(out, server)
    );
}

#[track_caller]
pub fn assert_fails_with(out: &Output, server: &Server, code: &str) {
    assert!(
        !out.status.success(),
        "client should have failed:\n{}",
        describe(out, server)
    );
    assert!(
        stderr(out).contains(&format!("({code})")),
        "expected ({code}) in the error:\n{}",
        describe(out, server)
    );
}

/// A raw connection, logged in, with generous timeouts.
pub fn raw(server: &Server) -> TcpStream {
    let mut s = raw_anonymous(server);
    write_header(
        &mut s,
        &Request::Login {
            user: USER.into(),
            password: password().into(),
        },
    )
    .unwrap();
    let _: Empty = read_reply(&mut s).unwrap();
    s
}

/// A raw connection that does not log in.
pub fn raw_anonymous(server: &Server) -> TcpStream {
    let s = TcpStream::connect(server.connect_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

pub fn md5_of(data: &[u8]) -> String {
    socklab_proto::checksum::md5_hex(data)
}

pub fn write(path: &Path, data: &[u8]) {
    std::fs::write(path, data).unwrap();
}

/// A fake server's side of a client's login: answers the credential-free probe a plain
/// client sends first (`client_login`) with `auth_required`, then accepts any login.
/// Returns the login request.
pub fn fake_login(s: &mut TcpStream) -> serde_json::Value {
    use socklab_proto::msg::{read_header, write_failure, write_ok};
    let mut first: serde_json::Value = read_header(s).unwrap().unwrap();
    if first["op"] == "list" {
        write_failure(s, socklab_proto::ErrorCode::AuthRequired, "log in first").unwrap();
        first = read_header(s).unwrap().unwrap();
    }
    assert_eq!(first["op"], "login", "{first}");
    write_ok(s, &Empty {}).unwrap();
    first
}
