//! Running one command: `/bin/sh -c CMD` in its own process group, output streamed
//! while it runs, a wall-clock limit, and no orphans.
//!
//! The tutorials called `os.popen(cmd).read()`: stdin inherited from the server,
//! stderr not captured at all, no exit code, no limit, and the whole output held in
//! memory until the command ended. Here:
//!
//! - stdin is `/dev/null`, so `cat` with no input ends at once instead of waiting for
//!   input that can never come;
//! - stdout and stderr are two pipes, read in chunks of at most [`MAX_CHUNK`] bytes
//!   and sent on as they come. The connection's thread waits on both with `poll(2)`,
//!   together with the client's socket and the command's exit, and reads whichever is
//!   ready: blocking on one pipe while the command blocks writing the other would
//!   deadlock. One `poll` in the thread that already serves the connection, rather
//!   than a thread per pipe, keeps a short command from paying for thread starts.
//! - the command is the leader of a new process group (`setpgid(0, 0)` through
//!   `CommandExt::process_group`), so everything it starts, `cmd &` included, can be
//!   killed in one `kill(-PGID)`: on timeout, when the client goes away, and when the
//!   command's shell exits while background jobs it left still run;
//! - the client's socket is watched while the command runs, so a client that
//!   disconnects gets its command killed at once, not when the command next writes.
//!
//! - the command's exit is an event, not something we check on a timer: a waiter
//!   thread blocks in `waitid(WEXITED | WNOWAIT)`, which says the shell has exited
//!   *without* reaping it, and then closes a pipe the `poll` watches. (Linux's
//!   `pidfd_open` would make the exit pollable directly, without the thread; std does
//!   not offer it yet.) While the shell is an unreaped zombie its PID, and so its group ID, cannot be
//!   reused, so killing the rest of the group at that moment can never hit a stranger.
//!
//! socklab forbids `unsafe`, so `killpg(2)` and `waitid(2)` come from the `nix` crate,
//! which wraps them safely. A production server would also cap memory and CPU with
//! cgroups or `setrlimit`, which socklab does not.

use crate::wire::{ExitStatus, StreamName};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::sys::socket::{recv, MsgFlags};
use nix::sys::wait::{waitid, Id, WaitPidFlag};
use nix::unistd::Pid;
use socklab_proto::limits::MAX_CHUNK;
use socklab_proto::{Error, Result};
use std::io::Read;
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// After killing a group, how long to wait for its pipes to close. A process that left
/// the group (`setsid`) and kept the pipes would otherwise hold the session forever.
const KILL_DRAIN: Duration = Duration::from_secs(2);

/// Owns the command's shell. If the runner leaves early (an error, the client gone, a
/// panic), dropping it kills the whole group and reaps the shell, so neither an orphan
/// nor a zombie is left.
struct Group {
    child: Child,
    pgid: u32,
    armed: bool,
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.armed {
            kill_group(self.pgid);
            let _ = self.child.wait();
        }
    }
}

/// Sends SIGKILL to every process in group `pgid` (`killpg(2)`). An empty group
/// (`ESRCH`) is the usual case once a command is done, and is not an error.
fn kill_group(pgid: u32) {
    // pgid 0 or 1 would mean "my own group" or "everyone": never.
    let Ok(raw) = i32::try_from(pgid) else { return };
    if raw <= 1 {
        return;
    }
    match killpg(Pid::from_raw(raw), Signal::SIGKILL) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => log::error!("cannot kill process group {pgid}: {e}"),
    }
}

/// What one `poll` found ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ready {
    Pipe(StreamName),
    Exited,
    Peer,
}

/// Runs `cmd` with `/bin/sh -c` in `cwd`, calling `emit` with each chunk of output as
/// it arrives. Returns how the command ended once it has, and its pipes are closed.
///
/// `peer`, when given, is the client's socket: if the client closes it (or it fails)
/// while the command runs, the group is killed and the result is an
/// [`Error::UnexpectedEof`]. Bytes the client sends meanwhile (its next request) are
/// left in the socket. An error from `emit` (the client stopped reading) also kills
/// the group. Either way no process of the command is left behind.
pub(crate) fn run_command<F>(
    cmd: &str,
    cwd: &Path,
    timeout: Duration,
    peer: Option<&TcpStream>,
    mut emit: F,
) -> Result<ExitStatus>
where
    F: FnMut(StreamName, &[u8]) -> Result<()>,
{
    if cmd.contains('\0') {
        return Err(Error::bad_request("a command cannot contain a NUL byte"));
    }
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // setpgid(0, 0) in the child: a new group whose ID is the child's PID.
        .process_group(0)
        .spawn()
        .map_err(|e| Error::io(format!("cannot start /bin/sh in {}", cwd.display()), e))?;
    let pgid = child.id();
    let mut group = Group {
        child,
        pgid,
        armed: true,
    };
    let child = &mut group.child;
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let mut exit_signal = Some(spawn_waiter(pgid)?);
    let mut watching = peer.is_some();

    let mut buf = vec![0u8; MAX_CHUNK];
    let deadline = Instant::now() + timeout;
    let mut killed_at: Option<Instant> = None;
    loop {
        let pipes_open = stdout.is_some() || stderr.is_some();
        let drained = !pipes_open || killed_at.is_some_and(|t| t.elapsed() > KILL_DRAIN);
        if exit_signal.is_none() && drained {
            break;
        }
        if killed_at.is_none() && Instant::now() >= deadline {
            log::info!("command in group {pgid} ran past {timeout:?}; killing its group");
            kill_group(pgid);
            killed_at = Some(Instant::now());
        }
        // Sleep until something happens: output, EOF, the exit, the client leaving, or
        // the deadline. No timer: a short command's reply goes out the moment it ends.
        let wait = match killed_at {
            None => deadline.saturating_duration_since(Instant::now()),
            Some(t) => KILL_DRAIN.saturating_sub(t.elapsed()),
        };
        let mut ready = [None; 4];
        {
            let mut fds = Vec::with_capacity(4);
            let mut what = Vec::with_capacity(4);
            if let Some(p) = &stdout {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
                what.push(Ready::Pipe(StreamName::Stdout));
            }
            if let Some(p) = &stderr {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
                what.push(Ready::Pipe(StreamName::Stderr));
            }
            if let Some(fd) = &exit_signal {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                what.push(Ready::Exited);
            }
            if let (true, Some(sock)) = (watching, peer) {
                fds.push(PollFd::new(sock.as_fd(), PollFlags::POLLIN));
                what.push(Ready::Peer);
            }
            // Rounded up, so a wait of 0.4 ms does not become a busy loop of 0 ms polls.
            let millis = wait.as_micros().div_ceil(1000);
            let timeout = PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(Error::io("poll", e.into())),
            }
            for ((fd, w), slot) in fds.iter().zip(&what).zip(&mut ready) {
                if fd.any().unwrap_or(true) {
                    *slot = Some(*w);
                }
            }
        }
        for event in ready.into_iter().flatten() {
            match event {
                Ready::Pipe(which) => {
                    let pipe: &mut dyn Read = match which {
                        StreamName::Stdout => match stdout.as_mut() {
                            Some(p) => p,
                            None => continue,
                        },
                        StreamName::Stderr => match stderr.as_mut() {
                            Some(p) => p,
                            None => continue,
                        },
                    };
                    // `poll` said readable (or closed): this read does not block.
                    let closed = match pipe.read(&mut buf) {
                        Ok(0) => true,
                        Ok(n) => {
                            emit(which, &buf[..n])?;
                            false
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => false,
                        Err(_) => true,
                    };
                    if closed {
                        match which {
                            StreamName::Stdout => stdout = None,
                            StreamName::Stderr => stderr = None,
                        }
                    }
                }
                Ready::Exited => {
                    exit_signal = None;
                    // The shell is done; background jobs it left in its group are not
                    // wanted. It is still unreaped, so the group ID is still its own.
                    kill_group(pgid);
                }
                Ready::Peer => match peer.map(peek_peer) {
                    Some(PeerState::Gone) => {
                        // Dropping `group` on the way out kills and reaps.
                        log::info!("client went away while group {pgid} ran; killing it");
                        return Err(Error::UnexpectedEof("a command: the client disconnected"));
                    }
                    // The client sent its next request: it is evidently still there,
                    // and the bytes are for the next read. Stop watching.
                    Some(PeerState::Talking) => watching = false,
                    Some(PeerState::Quiet) | None => {}
                },
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::io("waiting for the command", e))?;
    group.armed = false;
    let timed_out = killed_at.is_some() && status.signal().is_some();
    Ok(ExitStatus {
        exit: status.code(),
        signal: status.signal(),
        timed_out,
        cwd: None,
    })
}

/// What a look at the client's socket found.
enum PeerState {
    /// EOF or an error: the client closed its side or the connection broke.
    Gone,
    /// Bytes are waiting: the client's next request.
    Talking,
    /// Nothing after all.
    Quiet,
}

/// `recv(MSG_PEEK | MSG_DONTWAIT)` of one byte: sees EOF without taking any bytes the
/// client already sent, and never blocks.
fn peek_peer(sock: &TcpStream) -> PeerState {
    let mut byte = [0u8; 1];
    match recv(
        sock.as_raw_fd(),
        &mut byte,
        MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT,
    ) {
        Ok(0) => PeerState::Gone,
        Ok(_) => PeerState::Talking,
        Err(Errno::EAGAIN | Errno::EINTR) => PeerState::Quiet,
        Err(_) => PeerState::Gone,
    }
}

/// Starts a thread that blocks in `waitid(WEXITED | WNOWAIT)` until the shell `pid`
/// exits, then closes the write end of a pipe. Returns the read end: it becomes
/// readable (end of file) when the shell has exited. WNOWAIT leaves the shell
/// unreaped: the runner reaps it after killing the rest of its group.
fn spawn_waiter(pid: u32) -> Result<OwnedFd> {
    let (exited, notify) =
        nix::unistd::pipe().map_err(|e| Error::io("creating the exit pipe", e.into()))?;
    std::thread::Builder::new()
        .name("waiter".into())
        .spawn(move || {
            let Ok(raw) = i32::try_from(pid) else { return };
            let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
            // Retry only when a signal interrupted the wait. Anything else means the
            // shell exited, or the runner already reaped it on an early exit (ECHILD).
            while let Err(Errno::EINTR) = waitid(Id::Pid(Pid::from_raw(raw)), flags) {}
            drop(notify);
        })
        .map_err(|e| Error::io("starting the waiter thread", e))?;
    Ok(exited)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cmd: &str, timeout: Duration) -> (ExitStatus, Vec<u8>, Vec<u8>) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = run_command(cmd, Path::new("/"), timeout, None, |s, d| {
            match s {
                StreamName::Stdout => out.extend_from_slice(d),
                StreamName::Stderr => err.extend_from_slice(d),
            }
            Ok(())
        })
        .unwrap();
        (status, out, err)
    }

    #[test]
    fn separates_streams_and_reports_exit_code() {
        let (st, out, err) = run("echo out; echo err >&2; exit 3", Duration::from_secs(20));
        assert_eq!(
            (out.as_slice(), err.as_slice()),
            (&b"out\n"[..], &b"err\n"[..])
        );
        assert_eq!(
            st,
            ExitStatus {
                exit: Some(3),
                ..Default::default()
            }
        );
    }

    #[test]
    fn reports_the_signal_that_ended_the_command() {
        let (st, _, _) = run("kill -TERM $$", Duration::from_secs(20));
        assert_eq!((st.exit, st.signal, st.timed_out), (None, Some(15), false));
    }

    #[test]
    fn background_job_left_behind_does_not_hold_the_reply() {
        // The shell exits at once; its background sleep keeps the pipes open until
        // the runner kills the rest of the group.
        let (st, out, _) = run("sleep 1000 & echo started", Duration::from_secs(30));
        assert_eq!(out, b"started\n");
        assert_eq!((st.exit, st.timed_out), (Some(0), false));
    }

    #[test]
    fn command_that_closes_its_output_early_is_still_waited_for() {
        let (st, out, _) = run(
            "echo before; exec >&- 2>&-; sleep 0.3; exit 4",
            Duration::from_secs(20),
        );
        assert_eq!(out, b"before\n");
        assert_eq!((st.exit, st.timed_out), (Some(4), false));
    }

    #[test]
    fn refuses_a_nul_byte() {
        let r = run_command(
            "echo a\0b",
            Path::new("/"),
            Duration::from_secs(5),
            None,
            |_, _| Ok(()),
        );
        assert!(matches!(
            r,
            Err(Error::Refused {
                code: socklab_proto::ErrorCode::BadRequest,
                ..
            })
        ));
    }
}
