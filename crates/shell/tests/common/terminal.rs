//! shell-client on a terminal of the test's own: testkit's [`pty::Terminal`] (a real
//! pseudo-terminal whose session leader the client is), plus what the shell tests
//! need on top: waiting for the remote shell, running a line in it, resizing.

use super::{password, Fixture, USER};
use rustix::termios::{tcsetwinsize, Winsize};
use socklab_testkit::{pty, wait_until};
use std::ops::{Deref, DerefMut};
use std::process::Command;
use std::time::Duration;

/// shell-client on a terminal of the test's own; dropping it kills the client.
pub struct Terminal(pty::Terminal);

impl Deref for Terminal {
    type Target = pty::Terminal;
    fn deref(&self) -> &pty::Terminal {
        &self.0
    }
}

impl DerefMut for Terminal {
    fn deref_mut(&mut self) -> &mut pty::Terminal {
        &mut self.0
    }
}

impl Terminal {
    /// Starts `shell-client ARGS` on a new terminal of `rows` x `cols`.
    pub fn start(fx: &Fixture, args: &[&str], size: (u16, u16)) -> Terminal {
        let port = fx.server.port().to_string();
        let mut client = Command::new(env!("CARGO_BIN_EXE_shell-client"));
        client
            .args(["--port", &port, "--user", USER])
            .args(args)
            .env("SOCKLAB_PASSWORD", password())
            // The `>> ` prompt's history file goes to the fixture's directory.
            .env("XDG_STATE_HOME", fx.files.path("state"));
        Terminal(pty::Terminal::start(&client, size))
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

    /// Runs `line` in the remote shell, waits for its unique end marker and returns
    /// the screen from the line on.
    pub fn run(&mut self, line: &str) -> String {
        let from = self.mark();
        self.type_in(&format!("{line}; echo done-{from}\r"));
        self.expect_after(from, &format!("\ndone-{from}"), Duration::from_secs(15))
    }

    /// Resizes the terminal, as a terminal window does: through the client's own
    /// descriptor of it, which the kernel answers with SIGWINCH to the client.
    pub fn resize(&self, rows: u16, cols: u16) {
        use std::os::unix::fs::OpenOptionsExt;
        let path = format!("/proc/{}/fd/0", self.pid());
        let tty = std::fs::File::options()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOCTTY.bits() as i32)
            .open(&path)
            .unwrap_or_else(|e| panic!("opening the client's terminal {path}: {e}"));
        let size = Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        tcsetwinsize(&tty, size).unwrap();
    }
}

/// Whether a process runs whose command line is exactly `cmdline` (words joined by
/// spaces).
pub fn running(cmdline: &str) -> bool {
    super::pids()
        .into_iter()
        .any(|pid| super::cmdline(pid).as_deref() == Some(cmdline))
}
