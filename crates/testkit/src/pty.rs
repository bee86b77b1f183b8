//! A program on a pseudo-terminal of the test's own, typed into and read as a person
//! would: it is the session leader of a new terminal (through `setsid -c`), so it sees
//! a real terminal on stdin, stdout and stderr, and the test writes keys to the
//! master side and reads everything the program draws there.

use crate::{require_tool, wait_until};
use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcsetwinsize, Winsize};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A program running on a terminal the test holds the other end of. Dropping it kills
/// the program (by its PID).
#[derive(Debug)]
pub struct Terminal {
    master: File,
    screen: Arc<Mutex<Vec<u8>>>,
    child: Child,
    /// The slave side's name, to read its modes later.
    name: PathBuf,
    /// `stty -g` of the terminal before the program started.
    initial: String,
}

impl Terminal {
    /// Runs `cmd` (its program, arguments and environment; `TERM` is set to
    /// `xterm-256color` unless `cmd` sets it) on a new terminal of `rows` x `cols`.
    pub fn start(cmd: &Command, (rows, cols): (u16, u16)) -> Terminal {
        require_tool("setsid");
        let master =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).expect("openpt");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = PathBuf::from(
            ptsname(&master, Vec::new())
                .expect("ptsname")
                .to_str()
                .expect("a UTF-8 terminal name"),
        );
        let slave: OwnedFd = open_slave(&name).into();
        let initial = stty_modes(&slave);
        tcsetwinsize(
            &master,
            Winsize {
                ws_row: rows,
                ws_col: cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            },
        )
        .expect("TIOCSWINSZ");
        let mut run = Command::new("setsid");
        run.args(["-c", "-w"])
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .env("TERM", "xterm-256color");
        for (key, value) in cmd.get_envs() {
            match value {
                Some(v) => run.env(key, v),
                None => run.env_remove(key),
            };
        }
        if let Some(dir) = cmd.get_current_dir() {
            run.current_dir(dir);
        }
        let child = run
            .stdin(slave.try_clone().expect("dup"))
            .stdout(slave.try_clone().expect("dup"))
            .stderr(slave)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {:?} on a terminal: {e}", cmd.get_program()));
        let master = File::from(master);
        let screen = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().expect("dup");
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EIO once the program, the last holder of the slave side, exits.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Terminal {
            master,
            screen,
            child,
            name,
            initial,
        }
    }

    /// `stty -g` of the terminal before the program started.
    pub fn initial_modes(&self) -> &str {
        &self.initial
    }

    /// `stty -g` of the terminal now: equal to [`Terminal::initial_modes`] once a
    /// program that put it in raw mode has put it back.
    pub fn modes(&self) -> String {
        stty_modes(&open_slave(&self.name))
    }

    /// The program's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Types `keys` (`\r` is Enter, `\x1b[A` the Up arrow, `\x03` Ctrl-C, `\x04` Ctrl-D).
    pub fn type_in(&mut self, keys: &str) {
        self.master
            .write_all(keys.as_bytes())
            .and_then(|()| self.master.flush())
            .expect("typing into the terminal");
    }

    /// Types `text` one character at a time, as a person does, waiting (up to 5 s
    /// each) for the program to draw each before the next: keys that arrive together
    /// in one read are a paste to some editors, which handle them differently.
    pub fn type_each(&mut self, text: &str) {
        let mut buf = [0u8; 4];
        for c in text.chars() {
            let before = self.mark();
            self.type_in(c.encode_utf8(&mut buf));
            wait_until(Duration::from_secs(5), || self.mark() > before);
        }
    }

    /// Everything the program wrote to the terminal so far, escape sequences included.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// How much has been written so far: pass it to [`Terminal::expect_after`] to look
    /// only at what comes next.
    pub fn mark(&self) -> usize {
        self.screen.lock().unwrap().len()
    }

    /// Waits up to `limit` for `needle` after byte `from` of the screen, and returns
    /// the screen from `from` on; panics with the whole screen if it never comes.
    pub fn expect_after(&self, from: usize, needle: &str, limit: Duration) -> String {
        let after = || {
            let s = self.screen.lock().unwrap();
            String::from_utf8_lossy(&s[from.min(s.len())..]).into_owned()
        };
        let seen = wait_until(limit, || after().contains(needle));
        assert!(
            seen,
            "{needle:?} not on the screen within {limit:?}; the screen:\n{:?}",
            self.screen()
        );
        after()
    }

    /// Waits up to `limit` for `needles` to appear one after the other after byte
    /// `from`, and returns the offset just past the last: the next
    /// [`Terminal::expect_after`] looks only at what came after them. Keys typed
    /// before a line editor shows its prompt again may reach the terminal while it is
    /// not in raw mode, and be lost or changed; wait for the prompt, as a person does.
    pub fn expect_in_order(&self, from: usize, needles: &[&str], limit: Duration) -> usize {
        let find = || {
            let s = self.screen.lock().unwrap();
            let mut at = from.min(s.len());
            for needle in needles {
                // `str::find` is linear; the screen is UTF-8 but for a character cut
                // at its very end, which only shifts an offset past every needle.
                let rest = String::from_utf8_lossy(&s[at..]);
                at += rest.find(needle)? + needle.len();
            }
            Some(at)
        };
        let mut found = None;
        wait_until(limit, || {
            found = find();
            found.is_some()
        });
        found.unwrap_or_else(|| {
            panic!(
                "{needles:?} not on the screen in that order within {limit:?}; the screen:\n{:?}",
                self.screen()
            )
        })
    }

    /// Waits up to `limit` for the program to exit; panics with the screen if it does
    /// not.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("waitpid") {
                return status;
            }
            assert!(
                Instant::now() < end,
                "still running after {limit:?}; the screen:\n{:?}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM while the program holds the terminal raw (the caller has it
    /// reading a line), and asserts that the program then ended by that signal with
    /// the terminal's modes put back as they were before it started.
    pub fn assert_sigterm_puts_modes_back(&mut self, limit: Duration) {
        use std::os::unix::process::ExitStatusExt;
        assert_ne!(
            self.modes(),
            self.initial_modes(),
            "the program should hold the terminal raw; the screen:\n{:?}",
            self.screen()
        );
        crate::signal(self.pid(), "TERM");
        let status = self.wait_exit(limit);
        assert_eq!(
            status.signal(),
            Some(15),
            "{status:?}; the screen:\n{:?}",
            self.screen()
        );
        assert_eq!(
            self.modes(),
            self.initial_modes(),
            "SIGTERM left the terminal raw; the screen:\n{:?}",
            self.screen()
        );
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens a terminal's slave side without making it the test's controlling terminal.
fn open_slave(name: &std::path::Path) -> File {
    use std::os::unix::fs::OpenOptionsExt;
    File::options()
        .read(true)
        .write(true)
        .custom_flags(rustix::fs::OFlags::NOCTTY.bits() as i32)
        .open(name)
        .unwrap_or_else(|e| panic!("opening the terminal {}: {e}", name.display()))
}

/// `stty -g` of the terminal `tty`.
fn stty_modes(tty: &impl std::os::fd::AsFd) -> String {
    let out = Command::new("stty")
        .arg("-g")
        .stdin(tty.as_fd().try_clone_to_owned().expect("dup"))
        .output()
        .expect("running stty -g");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
