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
//! socklab forbids `unsafe`, so the group is killed with the `kill(1)` command
//! (`kill -KILL -- -PGID`) rather than `libc::killpg`. A production server would call
//! `killpg(2)` directly (the `nix` crate wraps it safely), and would also cap memory
//! and CPU with cgroups or `setrlimit`, which socklab does not.

use crate::wire::{ExitStatus, StreamName};
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

/// How often the runner checks whether the command's shell has exited while its
/// output pipes are still open.
const EXIT_POLL: Duration = Duration::from_millis(50);

/// Once both pipes are closed the command is nearly always about to exit; poll from
/// this interval, doubling up to [`EXIT_POLL`], so a short command's reply is not
/// held back and a long one that closed its output does not spin a core.
const EXIT_POLL_AFTER_EOF: Duration = Duration::from_millis(1);

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

/// Sends SIGKILL to every process in group `pgid` with `kill -KILL -- -PGID`.
pub fn kill_group(pgid: u32) {
    // pgid 0 or 1 would mean "my own group" or "everyone": never.
    if pgid <= 1 {
        return;
    }
    let result = Command::new("kill")
        .arg("-KILL")
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if let Err(e) = result {
        log::error!("cannot run kill(1) to stop process group {pgid}: {e}");
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

    let started = Instant::now();
    let deadline = started + timeout;
    let mut open_pipes = 2;
    let mut status: Option<std::process::ExitStatus> = None;
    let mut killed_at: Option<Instant> = None;
    let mut eof_poll = EXIT_POLL_AFTER_EOF;
    loop {
        if status.is_none() {
            status = leader_exit(child, pgid)?;
        }
        let drained = open_pipes == 0 || killed_at.is_some_and(|t| t.elapsed() > KILL_DRAIN);
        if status.is_some() && drained {
            break;
        }
        if killed_at.is_none() && Instant::now() >= deadline {
            log::info!("command in group {pgid} ran past {timeout:?}; killing its group");
            kill_group(pgid);
            killed_at = Some(Instant::now());
        }
        let mut wait = if open_pipes == 0 {
            eof_poll = (eof_poll * 2).min(EXIT_POLL);
            eof_poll / 2
        } else {
            EXIT_POLL
        };
        if killed_at.is_none() {
            wait = wait.min(deadline.saturating_duration_since(Instant::now()));
        }
        match rx.recv_timeout(wait) {
            Ok(Event::Output(stream, data)) => emit(stream, &data)?,
            Ok(Event::Eof) => open_pipes -= 1,
            Ok(Event::PeerGone) => {
                // Dropping `group` on the way out kills and reaps.
                log::info!("client went away while group {pgid} ran; killing it");
                return Err(Error::UnexpectedEof("a command: the client disconnected"));
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                // Readers done and the watcher gone: nothing can wake us, so sleep
                // instead of spinning until the shell exits.
                open_pipes = 0;
                std::thread::sleep(wait);
            }
        }
    }
    let status = match status {
        Some(s) => s,
        None => child
            .wait()
            .map_err(|e| Error::io("waiting for the command", e))?,
    };
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

/// Checks whether the command's shell has exited. When it has, the rest of its group
/// (background jobs it left running) is killed *before* the shell is reaped: while
/// the shell is a zombie its PID, and so the group ID, cannot be reused by an
/// unrelated process, so the kill cannot hit a stranger.
fn leader_exit(child: &mut Child, pgid: u32) -> Result<Option<std::process::ExitStatus>> {
    match is_zombie(pgid) {
        Some(false) => return Ok(None),
        Some(true) => kill_group(pgid),
        // No /proc (not Linux): reap first, then kill the leftovers. The tiny window
        // in between is the price of portability.
        None => {}
    }
    let status = child
        .try_wait()
        .map_err(|e| Error::io("checking the command's status", e))?;
    if status.is_some() && is_zombie(pgid).is_none() {
        kill_group(pgid);
    }
    Ok(status)
}

/// `Some(true)` when /proc says `pid` has exited and waits to be reaped, `Some(false)`
/// when it is running, `None` when /proc cannot tell.
fn is_zombie(pid: u32) -> Option<bool> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "PID (COMM) STATE …": COMM may hold spaces and parentheses, so look after the last ')'.
    let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
    Some(matches!(state, 'Z' | 'X'))
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
