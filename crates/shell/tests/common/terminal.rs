//! A terminal of the test's own for shell-client: a real pseudo-terminal, made by
//! the test, whose session leader the client is (through `setsid -c`); the test types
//! into the master side and reads the screen there.

use super::{password, Fixture, USER};
use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcsetwinsize, Winsize};
use socklab_testkit::{require_tool, wait_until};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// shell-client on a terminal of the test's own.
pub struct Terminal {
    pub master: File,
    pub slave: OwnedFd,
    pub screen: Arc<Mutex<Vec<u8>>>,
    pub client: Child,
    /// `stty -g` before the client started.
    pub initial: String,
}

pub fn size(rows: u16, cols: u16) -> Winsize {
    Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl Terminal {
    /// Starts `shell-client ARGS` on a new terminal of `rows` x `cols`.
    pub fn start(fx: &Fixture, args: &[&str], (rows, cols): (u16, u16)) -> Terminal {
        require_tool("setsid");
        let master =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave: OwnedFd = File::options()
            .read(true)
            .write(true)
            .open(name.to_str().unwrap())
            .unwrap()
            .into();
        tcsetwinsize(&master, size(rows, cols)).unwrap();
        let initial = modes(&slave);
        let port = fx.server.port().to_string();
        let client = Command::new("setsid")
            .args(["-c", "-w", env!("CARGO_BIN_EXE_shell-client")])
            .args(["--port", &port, "--user", USER])
            .args(args)
            .env("SOCKLAB_PASSWORD", password())
            .env("TERM", "xterm-256color")
            // The `>> ` prompt's history file goes to the fixture's directory.
            .env("XDG_STATE_HOME", fx.files.path("state"))
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave.try_clone().unwrap())
            .spawn()
            .unwrap();
        let master = File::from(master);
        let screen = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EIO when the last slave descriptor closes.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Terminal {
            master,
            slave,
            screen,
            client,
            initial,
        }
    }

    /// Waits for the remote login shell's prompt: input typed before the shell
    /// reads its terminal may be discarded by its startup, as on any terminal.
    pub fn wait_for_shell(&self, fx: &Fixture) {
        let ready = wait_until(Duration::from_secs(15), || {
            let s = self.screen();
            s.contains("# ") || s.contains("$ ")
        });
        assert!(
            ready,
            "no shell prompt:\n{}\nserver log:\n{}",
            self.screen(),
            fx.server.stderr()
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    pub fn type_in(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
    }

    /// Waits up to `limit` for `needle` to appear on the screen after byte `from`.
    pub fn expect_after(&self, from: usize, needle: &str, limit: Duration) {
        let seen = wait_until(limit, || {
            let s = self.screen.lock().unwrap();
            String::from_utf8_lossy(&s[from.min(s.len())..]).contains(needle)
        });
        assert!(
            seen,
            "{needle:?} not on the screen within {limit:?}:\n{}",
            self.screen()
        );
    }

    pub fn mark(&self) -> usize {
        self.screen.lock().unwrap().len()
    }

    /// Runs `line` in the remote shell and waits for its unique end marker.
    pub fn run(&mut self, line: &str) -> String {
        let from = self.mark();
        let marker = format!("done-{}", from);
        self.type_in(&format!("{line}; echo {}-{}\r", "done", from));
        self.expect_after(from, &format!("\n{marker}"), Duration::from_secs(15));
        let s = self.screen.lock().unwrap();
        String::from_utf8_lossy(&s[from..]).into_owned()
    }

    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Some(st) = self.client.try_wait().unwrap() {
                return st;
            }
            assert!(
                Instant::now() < end,
                "client still running:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `stty -g` of the terminal now.
    pub fn modes(&self) -> String {
        modes(&self.slave)
    }
}

/// Whether a process runs whose command line is exactly `cmdline` (words joined by
/// spaces).
pub fn running(cmdline: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .map(|c| {
                String::from_utf8_lossy(&c)
                    .trim_end_matches('\0')
                    .replace('\0', " ")
                    == cmdline
            })
            .unwrap_or(false)
    })
}

/// `stty -g` of terminal `slave`.
pub fn modes(slave: &OwnedFd) -> String {
    let out = Command::new("stty")
        .arg("-g")
        .stdin(slave.try_clone().unwrap())
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.client.kill();
        let _ = self.client.wait();
    }
}
