//! Running one command: `/bin/sh -c CMD` in its own process group, output streamed
//! while it runs, a wall-clock limit, and no orphans.
//!
//! The tutorials called `os.popen(cmd).read()`: stdin inherited from the server,
//! stderr not captured at all, no exit code, no limit, and the whole output held in
//! memory until the command ended. Here:
//!
//! - stdin is `/dev/null`, so `cat` with no input ends at once instead of waiting for
//!   input that can never come;
//! - stdout and stderr are two pipes, each read by its own thread into chunks of at
//!   most [`MAX_CHUNK`] bytes that go over one channel to the connection's thread,
//!   which sends them on as they come (two threads, because reading one pipe while the
//!   command blocks writing the other would deadlock);
//! - the command is the leader of a new process group (`setpgid(0, 0)` through
//!   `CommandExt::process_group`), so everything it starts, `cmd &` included, can be
//!   killed in one `kill(-PGID)`: on timeout, when the client goes away, and when the
//!   command's shell exits while background jobs it left still run;
//! - the client's socket is watched while the command runs, so a client that
//!   disconnects gets its command killed within [`WATCH_POLL`], not when the command
//!   next writes.
//!
//! - the command's exit is an event, not something we poll for: a waiter thread blocks
//!   in `waitid(WEXITED | WNOWAIT)`, which says the shell has exited *without* reaping
//!   it. While the shell is an unreaped zombie its PID, and so its group ID, cannot be
//!   reused, so killing the rest of the group at that moment can never hit a stranger.
//!
//! socklab forbids `unsafe`, so `killpg(2)` and `waitid(2)` come from the `nix` crate,
//! which wraps them safely. A production server would also cap memory and CPU with
//! cgroups or `setrlimit`, which socklab does not.

use crate::wire::{ExitStatus, StreamName};
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag};
use nix::unistd::Pid;
use socklab_proto::{Error, Result, MAX_CHUNK};
use std::io::Read;
use std::net::TcpStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the disconnect watcher wakes to see whether the command is over, and so
/// the longest a dead client's command keeps running.
pub const WATCH_POLL: Duration = Duration::from_millis(50);

/// After killing a group, how long to wait for its pipes to close. A process that left
/// the group (`setsid`) and kept the pipes would otherwise hold the session forever.
const KILL_DRAIN: Duration = Duration::from_secs(2);

/// Chunks buffered between the pipe readers and the connection thread. A small bound
/// means a client that reads slowly slows the command down (the pipe fills and the
/// command blocks in `write`) instead of the server buffering without limit.
const CHANNEL_DEPTH: usize = 4;

/// What the pipe readers and the watcher tell the connection thread.
enum Event {
    Output(StreamName, Vec<u8>),
    Eof,
    /// The shell exited (not yet reaped).
    Exited,
    PeerGone,
}

/// Stops the disconnect watcher. Dropping it waits (at most [`WATCH_POLL`]) for the
/// watcher thread to end, so nobody else is reading the socket or changing its
/// timeout when the connection reads its next request.
#[derive(Debug)]
pub struct Watch {
    done: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

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
pub fn kill_group(pgid: u32) {
    // pgid 0 or 1 would mean "my own group" or "everyone": never.
    let Ok(raw) = i32::try_from(pgid) else { return };
    if raw <= 1 {
        return;
    }
    match killpg(Pid::from_raw(raw), Signal::SIGKILL) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => log::error!("cannot kill process group {pgid}: {e}"),
    }
}

/// Runs `cmd` with `/bin/sh -c` in `cwd` and passes each chunk of output to `emit` as
/// it arrives. Returns how the command ended once it has, and its pipes are closed.
///
/// `peer`, when given, is a clone of the client's socket: if the client closes it (or
/// it fails) while the command runs, the group is killed and the result is an
/// [`Error::UnexpectedEof`]. An error from `emit` (the client stopped reading) also
/// kills the group. Either way no process of the command is left behind. Drop the
/// returned [`Watch`] after sending the final reply.
pub fn run_command<F>(
    cmd: &str,
    cwd: &Path,
    timeout: Duration,
    peer: Option<&TcpStream>,
    mut emit: F,
) -> Result<(ExitStatus, Watch)>
where
    F: FnMut(StreamName, &[u8]) -> Result<()>,
{
    if cmd.contains('\0') {
        return Err(Error::BadRequest(
            "a command cannot contain a NUL byte".into(),
        ));
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
        .map_err(|e| Error::Other(format!("cannot start /bin/sh in {}: {e}", cwd.display())))?;
    let pgid = child.id();
    let mut group = Group {
        child,
        pgid,
        armed: true,
    };
    let child = &mut group.child;

    let (tx, rx) = sync_channel::<Event>(CHANNEL_DEPTH);
    spawn_waiter(pgid, tx.clone());
    if let Some(out) = child.stdout.take() {
        spawn_reader(out, StreamName::Stdout, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        spawn_reader(err, StreamName::Stderr, tx.clone());
    }
    let watch = match peer {
        Some(sock) => start_watch(sock, tx)?,
        None => Watch {
            done: Arc::new(AtomicBool::new(true)),
            handle: None,
        },
    };

    let deadline = Instant::now() + timeout;
    let mut open_pipes = 2;
    let mut exited = false;
    let mut killed_at: Option<Instant> = None;
    loop {
        let drained = open_pipes == 0 || killed_at.is_some_and(|t| t.elapsed() > KILL_DRAIN);
        if exited && drained {
            break;
        }
        if killed_at.is_none() && Instant::now() >= deadline {
            log::info!("command in group {pgid} ran past {timeout:?}; killing its group");
            kill_group(pgid);
            killed_at = Some(Instant::now());
        }
        // Sleep until something happens: output, EOF, the exit, the client leaving, or
        // the deadline. No polling: a short command's reply goes out the moment it ends.
        let wait = match killed_at {
            None => deadline.saturating_duration_since(Instant::now()),
            Some(t) => KILL_DRAIN.saturating_sub(t.elapsed()),
        };
        match rx.recv_timeout(wait) {
            Ok(Event::Output(stream, data)) => emit(stream, &data)?,
            Ok(Event::Eof) => open_pipes -= 1,
            Ok(Event::Exited) => {
                exited = true;
                // The shell is done; background jobs it left in its group are not
                // wanted. It is still unreaped, so the group ID is still its own.
                kill_group(pgid);
            }
            Ok(Event::PeerGone) => {
                // Dropping `group` on the way out kills and reaps.
                log::info!("client went away while group {pgid} ran; killing it");
                return Err(Error::UnexpectedEof("a command: the client disconnected"));
            }
            Err(RecvTimeoutError::Timeout) => {}
            // Every sender is gone: the readers and the waiter are done.
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::io("waiting for the command", e))?;
    group.armed = false;
    let timed_out = killed_at.is_some() && status.signal().is_some();
    Ok((
        ExitStatus {
            exit: status.code(),
            signal: status.signal(),
            timed_out,
            cwd: None,
        },
        watch,
    ))
}

/// Blocks in `waitid(WEXITED | WNOWAIT)` until the shell `pid` exits, then says so.
/// WNOWAIT leaves it unreaped: the runner reaps it after killing the rest of its group.
fn spawn_waiter(pid: u32, tx: SyncSender<Event>) {
    std::thread::spawn(move || {
        let Ok(raw) = i32::try_from(pid) else { return };
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
        // Retry only when a signal interrupted the wait. Anything else means the shell
        // exited, or the runner already reaped it on an early exit (ECHILD).
        while let Err(nix::errno::Errno::EINTR) = waitid(Id::Pid(Pid::from_raw(raw)), flags) {}
        let _ = tx.send(Event::Exited);
    });
}

fn spawn_reader<R: Read + Send + 'static>(mut pipe: R, stream: StreamName, tx: SyncSender<Event>) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; MAX_CHUNK];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.send(Event::Output(stream, buf[..n].to_vec())).is_err() {
                        // The runner gave up (client gone); nobody wants the rest.
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = tx.send(Event::Eof);
    });
}

/// Watches the client's socket while a command runs. `peek` sees EOF when the client
/// closed (or half-closed) its side, without taking any bytes a client may already
/// have sent for its next request; if such bytes arrive the client is evidently still
/// there, and the watcher stops.
fn start_watch(sock: &TcpStream, tx: SyncSender<Event>) -> Result<Watch> {
    let sock = sock
        .try_clone()
        .map_err(|e| Error::io("cloning the client socket", e))?;
    // SO_RCVTIMEO belongs to the socket, not the handle: the connection thread sets
    // its own timeout again before it next reads.
    sock.set_read_timeout(Some(WATCH_POLL))
        .map_err(|e| Error::io("setting the watcher's timeout", e))?;
    let done = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&done);
    let handle = std::thread::spawn(move || {
        let mut byte = [0u8; 1];
        while !flag.load(Ordering::SeqCst) {
            match sock.peek(&mut byte) {
                Ok(0) => {
                    let _ = tx.send(Event::PeerGone);
                    return;
                }
                Ok(_) => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => {
                    let _ = tx.send(Event::PeerGone);
                    return;
                }
            }
        }
    });
    Ok(Watch {
        done,
        handle: Some(handle),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cmd: &str, timeout: Duration) -> (ExitStatus, Vec<u8>, Vec<u8>) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (status, _watch) = run_command(cmd, Path::new("/"), timeout, None, |s, d| {
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
        assert!(matches!(r, Err(Error::BadRequest(_))));
    }
}
