//! Shared helpers for the chat tests (the server is `socklab_testkit::start_chat`):
//! members that are plain UDP sockets or real `chat-client` processes.
#![allow(dead_code)]

use socklab_testkit::Server;
use std::io::{BufRead, BufReader, Write};
use std::net::UdpSocket;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// Generous: the CI machine has two cores and runs the tests in parallel.
pub const WAIT: Duration = Duration::from_secs(10);

/// A member that is a plain UDP socket in the test, `connect`ed to the server.
#[derive(Debug)]
pub struct Member {
    pub socket: UdpSocket,
    /// Every line received so far, for failure messages and "never saw" checks.
    pub seen: Vec<String>,
}

impl Member {
    /// A socket on `local` (`127.0.0.1:0` or `[::1]:0`) connected to `server`.
    pub fn new_at(local: &str, server: &str) -> Member {
        let socket = UdpSocket::bind(local).unwrap();
        socket.connect(server).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Member {
            socket,
            seen: Vec::new(),
        }
    }

    /// A new IPv4 member of `srv`, not yet joined.
    pub fn new(srv: &Server) -> Member {
        Member::new_at("127.0.0.1:0", &format!("127.0.0.1:{}", srv.port()))
    }

    /// A new member that joins with `/nick NICK`, padded as chat-client pads it, and
    /// waits for the welcome line. It sends the join again if no welcome comes within
    /// half a second, as any UDP client must: a datagram may be lost (a busy server's
    /// receive queue overflows), and a second `/nick` with the same nick is a no-op.
    pub fn join(srv: &Server, nick: &str) -> Member {
        let mut m = Member::new(srv);
        let welcome = format!("*** welcome, {nick}");
        let start = Instant::now();
        let mut join = format!("/nick {nick}");
        while start.elapsed() < WAIT {
            m.send(&format!("{join:<128}"));
            let deadline = Instant::now() + Duration::from_millis(500);
            while Instant::now() < deadline {
                if let Some(l) = m.next_line(Duration::from_millis(100)) {
                    if l.starts_with(&welcome) {
                        return m;
                    }
                    // A server that verifies joins hands out a cookie first.
                    if let Some(token) = cookie_token(&l) {
                        join = format!("/join {token} {nick}");
                        break;
                    }
                }
            }
        }
        panic!(
            "{nick} never got a welcome; it saw {:#?}\nserver stderr:\n{}",
            m.seen,
            srv.stderr()
        );
    }

    /// This member's address as the server shows it.
    pub fn addr(&self) -> String {
        self.socket.local_addr().unwrap().to_string()
    }

    pub fn send(&self, text: &str) {
        self.send_bytes(text.as_bytes());
    }

    pub fn send_bytes(&self, bytes: &[u8]) {
        self.socket.send(bytes).unwrap();
    }

    /// The next line, or None after `limit`.
    pub fn next_line(&mut self, limit: Duration) -> Option<String> {
        let start = Instant::now();
        let mut buf = vec![0u8; 65_536];
        while start.elapsed() < limit {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let line = String::from_utf8_lossy(&buf[..n])
                    .trim_end_matches('\n')
                    .to_owned();
                self.seen.push(line.clone());
                return Some(line);
            }
        }
        None
    }

    /// Reads lines until one matches `pred`, and returns it; panics with everything
    /// seen and the server's log after [`WAIT`].
    pub fn expect(&mut self, srv: &Server, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if let Some(line) = self.next_line(Duration::from_millis(200)) {
                if pred(&line) {
                    return line;
                }
            }
        }
        panic!(
            "member {} never got the expected line; it saw {:#?}\nserver stderr:\n{}",
            self.addr(),
            self.seen,
            srv.stderr()
        );
    }

    /// Every line that arrives within `limit`.
    pub fn drain(&mut self, limit: Duration) -> Vec<String> {
        let start = Instant::now();
        let mut lines = Vec::new();
        while start.elapsed() < limit {
            if let Some(l) = self.next_line(Duration::from_millis(100)) {
                lines.push(l);
            }
        }
        lines
    }
}

/// The token in a server's `*** to join, type: /join TOKEN` line.
pub fn cookie_token(line: &str) -> Option<&str> {
    line.strip_prefix(socklab_chat::cookie::CHALLENGE)?
        .split_whitespace()
        .next()
}

/// A real `chat-client` process, stdin and stdout piped.
#[derive(Debug)]
pub struct Client {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    pub seen: Vec<String>,
}

impl Client {
    pub fn spawn(srv: &Server, args: &[&str]) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chat-client"))
            .args(["--port", &srv.port().to_string()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Client {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    pub fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Reads stdout lines until one matches `pred`.
    pub fn expect(&mut self, srv: &Server, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(line.clone());
                if pred(&line) {
                    return line;
                }
            }
        }
        panic!(
            "chat-client never printed the expected line; it printed {:#?}\nserver stderr:\n{}",
            self.seen,
            srv.stderr()
        );
    }

    /// Closes stdin (Ctrl-D) and waits for the exit; returns (success, rest of stdout,
    /// stderr).
    pub fn finish(mut self) -> (bool, Vec<String>, String) {
        drop(self.stdin.take());
        let status = socklab_testkit::wait_child(&mut self.child, WAIT);
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let mut rest = std::mem::take(&mut self.seen);
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            rest.push(line);
        }
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        (status.is_some_and(|s| s.success()), rest, stderr)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
