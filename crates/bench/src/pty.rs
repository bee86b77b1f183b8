//! Keystroke echo on a pseudo-terminal: a client (`shell-client -t`, `ssh -tt`) runs
//! on a PTY the bench holds the other end of, as a user's terminal emulator would;
//! the bench types one byte and times until it comes back through the remote
//! program.
//!
//! The remote program is `stty raw -echo; echo READY; exec cat`: once `READY` shows,
//! the client has put the local terminal in raw mode (both do that before they
//! forward any output), so a byte that comes back has crossed the connection twice
//! and gone through `cat` on the far side, never echoed by the local terminal.

use crate::stats::percentile;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};
use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The remote command both clients run.
pub const REMOTE: &str = "stty raw -echo; echo READY; exec cat";

/// How long the session may take to show `READY`, and one keystroke to come back.
const READY_LIMIT: Duration = Duration::from_secs(30);
const KEY_LIMIT: Duration = Duration::from_secs(5);

/// A client running on a PTY of ours: killed (by PID) when dropped.
struct Terminal {
    master: std::fs::File,
    child: Child,
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Terminal {
    /// Runs `cmd` as a session leader with a new PTY (24 × 80) as its controlling
    /// terminal and its stdin, stdout and stderr (through `setsid -c`, so no unsafe
    /// `pre_exec` is needed).
    fn spawn(cmd: &Command) -> Result<Terminal, String> {
        let io = |e: std::io::Error| format!("pty: {e}");
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).map_err(|e| io(e.into()))?;
        grantpt(&master).map_err(|e| io(e.into()))?;
        unlockpt(&master).map_err(|e| io(e.into()))?;
        let name = ptsname(&master, Vec::new()).map_err(|e| io(e.into()))?;
        let slave: OwnedFd = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY,
            Mode::empty(),
        )
        .map_err(|e| io(e.into()))?;
        let size = rustix::termios::Winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&slave, size).map_err(|e| io(e.into()))?;
        let dup = |fd: &OwnedFd| fd.try_clone().map(Stdio::from).map_err(io);
        let child = Command::new("setsid")
            .arg("-c")
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .envs(
                cmd.get_envs()
                    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
            )
            .env("TERM", "xterm-256color")
            .stdin(dup(&slave)?)
            .stdout(dup(&slave)?)
            .stderr(dup(&slave)?)
            .spawn()
            .map_err(|e| format!("setsid -c {:?}: {e}", cmd.get_program()))?;
        drop(slave);
        Ok(Terminal {
            master: std::fs::File::from(master),
            child,
        })
    }

    /// Reads what the PTY has until `done` says the bytes so far are enough, or
    /// `limit` passes (an `Err` with what came).
    fn read_until(
        &mut self,
        limit: Duration,
        done: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<u8>, String> {
        let start = Instant::now();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !done(&got) {
            let left = limit.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(format!(
                    "waited {} s; the terminal showed {:?}",
                    limit.as_secs(),
                    String::from_utf8_lossy(&got)
                ));
            }
            let timeout = Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            let mut fds = [PollFd::new(&self.master, PollFlags::IN)];
            poll(&mut fds, Some(&timeout)).map_err(|e| format!("poll: {e}"))?;
            if fds[0].revents().is_empty() {
                continue;
            }
            match self.master.read(&mut buf) {
                Ok(0) | Err(_) => {
                    return Err(format!(
                        "the client left; the terminal showed {:?}",
                        String::from_utf8_lossy(&got)
                    ))
                }
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        Ok(got)
    }
}

/// Runs `cmd` (a client whose remote side runs [`REMOTE`]) on a PTY, types `count`
/// single bytes, each after the one before came back, and returns each one's round
/// trip in µs.
pub fn keystrokes(cmd: &Command, count: usize) -> Result<Vec<f64>, String> {
    keystrokes_within(cmd, count, KEY_LIMIT)
}

/// [`keystrokes`], each allowed `key_limit` to come back.
fn keystrokes_within(cmd: &Command, count: usize, key_limit: Duration) -> Result<Vec<f64>, String> {
    let mut term = Terminal::spawn(cmd)?;
    term.read_until(READY_LIMIT, |b| b.windows(5).any(|w| w == b"READY"))
        .map_err(|e| format!("the session did not start: {e}"))?;
    let mut times = Vec::with_capacity(count);
    for i in 0..count {
        let key = b'a' + (i % 26) as u8;
        let t = Instant::now();
        term.master
            .write_all(&[key])
            .map_err(|e| format!("typing: {e}"))?;
        term.read_until(key_limit, |b| b.last() == Some(&key))
            .map_err(|e| format!("keystroke #{i}: {e}"))?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Ok(times)
}

/// The median of `times`.
pub fn p50(times: &[f64]) -> f64 {
    percentile(times, 50.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(remote: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", remote]);
        c
    }

    #[test]
    fn each_keystroke_comes_back_through_the_program_on_the_terminal() {
        let times = keystrokes(&local(REMOTE), 20).expect("keystrokes through a local cat");
        assert_eq!(times.len(), 20);
        assert!(times.iter().all(|&t| t > 0.0 && t < 5e6), "{times:?}");
    }

    #[test]
    fn a_keystroke_the_program_does_not_echo_is_not_counted() {
        // The terminal itself does not echo (raw, -echo): a byte only comes back when
        // the program on the far side writes it, and this one never does.
        let silent = "stty raw -echo; echo READY; exec sleep 30";
        let err = keystrokes_within(&local(silent), 1, Duration::from_millis(500))
            .expect_err("no program echoed the byte");
        assert!(err.contains("keystroke #0"), "{err}");
    }

    #[test]
    fn a_client_that_never_starts_its_session_is_an_error_not_a_hang() {
        let err = keystrokes_within(&local("exit 3"), 1, Duration::from_millis(500))
            .expect_err("the client left before READY");
        assert!(err.contains("did not start"), "{err}");
    }
}
