//! Starting a command under its keeper: pipes or a new pseudo-terminal, the keeper
//! handle that ends it, and the thread that turns the keeper's exit into an event.

use crate::exec::{Job, JobIo};
use crate::keeper::keeper_argv;
use crate::limits::KEEPER_GRACE;
use crate::orphans;
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
use rustix::pty::OpenptFlags;
use socklab_proto::{Error, Result};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server's own binary, which runs again as each command's keeper.
const SELF_EXE: &str = "/proc/self/exe";

/// The running keeper. Dropping it before the command is over ends the command and
/// everything it started, and reaps the keeper: no orphan, no zombie.
#[derive(Debug)]
pub(crate) struct Keeper {
    pub child: Child,
    pub reaped: bool,
}

impl Keeper {
    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Whether the keeper, exited but not yet reaped, died of SIGKILL: the one way it
    /// ends without killing its tree first.
    pub fn killed(&self) -> bool {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | WaitPidFlag::WNOHANG;
        matches!(
            waitid(Id::Pid(self.pid()), flags),
            Ok(WaitStatus::Signaled(_, Signal::SIGKILL, _))
        )
    }

    /// SIGTERM (and SIGCONT, in case the command stopped it), then SIGKILL if the
    /// keeper has not finished its work within [`KEEPER_GRACE`].
    pub fn stop(&mut self) {
        let pid = self.pid();
        let _ = kill(pid, Signal::SIGTERM);
        let _ = kill(pid, Signal::SIGCONT);
        let until = Instant::now() + KEEPER_GRACE;
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                self.reaped = true;
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        log::error!("keeper {pid} did not stop within {KEEPER_GRACE:?}; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
        orphans::sweep();
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        if !self.reaped {
            self.stop();
            let _ = self.child.wait();
        }
        orphans::unregister(self.child.id());
    }
}

/// Starts `job` under a keeper: pipes, or a new PTY whose master is returned.
pub(crate) fn spawn(job: &Job<'_>) -> Result<(Keeper, Option<File>)> {
    // The running binary itself, even if its file was replaced or deleted since (an
    // upgrade): /proc/self/exe opens the inode this process runs, not a path.
    let mut cmd = Command::new(SELF_EXE);
    cmd.args(keeper_argv(
        matches!(job.io, JobIo::Pty { .. }),
        &job.argv0,
        &job.program,
        &job.args,
    ))
    .env_clear()
    .envs(job.env.iter().map(|(k, v)| (k, v)))
    .current_dir(job.cwd);
    let master = match job.io {
        JobIo::Pipes { stdin } => {
            cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            None
        }
        JobIo::Pty { rows, cols } => {
            let (master, slave) = open_pty(rows, cols)?;
            let dup = |fd: &OwnedFd| {
                fd.try_clone()
                    .map_err(|e| Error::io("duplicating the terminal", e))
            };
            cmd.stdin(dup(&slave)?).stdout(dup(&slave)?).stderr(slave);
            Some(File::from(master))
        }
    };
    let child = orphans::register(|| {
        let child = cmd.spawn().map_err(|e| {
            Error::io(
                format!("cannot start a command in {}", job.cwd.display()),
                e,
            )
        })?;
        let pid = child.id();
        Ok((child, pid))
    })?;
    // `cmd` holds the PTY's slave side; dropping it leaves the keeper's copies the
    // only ones, so the master reads EIO once they are all closed.
    drop(cmd);
    Ok((
        Keeper {
            child,
            reaped: false,
        },
        master,
    ))
}

/// A new pseudo-terminal of `rows` x `cols`: `posix_openpt`, `grantpt`, `unlockpt`,
/// `ptsname`, `open`, `TIOCSWINSZ`. Returns (master, slave).
fn open_pty(rows: u16, cols: u16) -> Result<(OwnedFd, OwnedFd)> {
    let io = |what: &'static str| move |e: rustix::io::Errno| Error::io(what, e.into());
    let master =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .map_err(io("posix_openpt"))?;
    rustix::pty::grantpt(&master).map_err(io("grantpt"))?;
    rustix::pty::unlockpt(&master).map_err(io("unlockpt"))?;
    let name = rustix::pty::ptsname(&master, Vec::new()).map_err(io("ptsname"))?;
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(io("opening the terminal"))?;
    let master = File::from(master);
    resize(&master, rows, cols)?;
    Ok((master.into(), slave))
}

/// `TIOCSWINSZ`: the kernel sends SIGWINCH to the terminal's foreground group.
pub(crate) fn resize(master: &File, rows: u16, cols: u16) -> Result<()> {
    let size = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(master, size).map_err(|e| Error::io("resizing", e.into()))
}

pub(crate) fn set_nonblocking(fd: impl AsFd) -> Result<()> {
    let flags = fcntl_getfl(&fd).map_err(|e| Error::io("fcntl", e.into()))?;
    fcntl_setfl(&fd, flags | OFlags::NONBLOCK).map_err(|e| Error::io("fcntl", e.into()))
}

/// Starts a thread that blocks in `waitid(WEXITED | WNOWAIT)` until process `pid`
/// exits, then closes the write end of a pipe. Returns the read end: it becomes
/// readable (end of file) when the process has exited, still unreaped.
pub(crate) fn spawn_waiter(pid: u32) -> Result<OwnedFd> {
    // A socket pair rather than pipe(2): std makes it close-on-exec, so no keeper
    // started meanwhile by another session inherits it (and holds it open).
    let (exited, notify) =
        UnixStream::pair().map_err(|e| Error::io("creating the exit notifier", e))?;
    std::thread::Builder::new()
        .name("waiter".into())
        .spawn(move || {
            let Ok(raw) = i32::try_from(pid) else { return };
            let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
            while let Err(Errno::EINTR) = waitid(Id::Pid(Pid::from_raw(raw)), flags) {}
            drop(notify);
        })
        .map_err(|e| Error::io("starting the waiter thread", e))?;
    Ok(exited.into())
}
