//! Shared support for the ftp tests: a users file, the real server binary on port 0,
//! the real client binary, and a raw protocol connection for the cases a well-behaved
//! client never produces (cut uploads, flipped bytes, hostile names).

#![allow(dead_code)]

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use socklab_proto::msg::{read_reply, write_header, Empty};
use socklab_proto::Request;
use socklab_testkit::Server;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub const USER: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";

/// A temp directory with `root/` (served), `users`, `password` and `local/` (the
/// client's working directory).
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("root")).unwrap();
        std::fs::create_dir(dir.path().join("local")).unwrap();
        // A real argon2id hash, with the cheapest parameters, so the many logins of
        // the test suite take microseconds instead of the production cost. The server
        // reads the parameters from the hash, as it would for any users file.
        let params = Params::new(8, 1, 1, None).unwrap();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::from_b64("c29ja2xhYnRlc3RzYWx0").unwrap();
        let hash = argon.hash_password(PASSWORD.as_bytes(), &salt).unwrap();
        std::fs::write(dir.path().join("users"), format!("{USER}:{hash}\n")).unwrap();
        std::fs::write(dir.path().join("password"), format!("{PASSWORD}\n")).unwrap();
        Fixture { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn local(&self) -> PathBuf {
        self.dir.path().join("local")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Starts ftp-server on port 0 serving `root/`, with short timeouts.
    pub fn server(&self, extra: &[&str]) -> Server {
        let root = self.root();
        let users = self.path("users");
        let mut args = vec![
            "--port",
            "0",
            "--root",
            root.to_str().unwrap(),
            "--users",
            users.to_str().unwrap(),
            "--login-delay-ms",
            "10",
        ];
        if !extra.contains(&"--stall-timeout") {
            args.extend(["--stall-timeout", "10"]);
        }
        args.extend_from_slice(extra);
        Server::spawn(env!("CARGO_BIN_EXE_ftp-server"), &args)
    }

    /// Runs ftp-client logged in as alice, in `local/`.
    pub fn client(&self, server: &Server, args: &[&str]) -> Output {
        self.client_with_stdin(server, args, None)
    }

    /// Runs ftp-client logged in as alice, in `local/`, feeding `stdin` (the `ftp>`
    /// prompt's commands when `args` has none).
    pub fn client_with_stdin(&self, server: &Server, args: &[&str], stdin: Option<&str>) -> Output {
        let pw = self.path("password");
        let port = server.port().to_string();
        let mut all = vec![
            "--port",
            &port,
            "--user",
            USER,
            "--password-file",
            pw.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        self.run_client(&all, stdin)
    }

    /// Runs ftp-client with exactly `args`, in `local/`, feeding `stdin`.
    pub fn run_client(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ftp-client"))
            .args(args)
            .current_dir(self.local())
            .env_remove("SOCKLAB_PASSWORD")
            // Times print in the local zone: make it the same on every machine. "UTC0"
            // is a POSIX rule, so no time zone database is needed to read it.
            .env("TZ", "UTC0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
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
            password: PASSWORD.into(),
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
