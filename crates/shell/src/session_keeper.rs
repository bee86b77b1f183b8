//! The session keeper: one small process per logged-in session that runs its
//! commands (those on pipes; a terminal session gets a keeper of its own,
//! [`crate::keeper`]) and makes sure nothing a command started outlives it.
//!
//! It is this binary again, `shell-server --socklab-session-keeper PPID`, started at
//! the session's first command with a socket to the server as its stdin
//! ([`crate::link`] has the messages). Once, at its start:
//!
//! 1. `prctl(PR_SET_CHILD_SUBREAPER)`: whatever a command starts that loses its parent
//!    (`setsid -f`, a double fork, `nohup … &`) is re-parented to the keeper, not to
//!    init;
//! 2. `prctl(PR_SET_PDEATHSIG, SIGTERM)`: if the server dies, even by SIGKILL, the
//!    kernel tells the keeper;
//! 3. `setsid()`: a new session with no controlling terminal; every command inherits
//!    it, so none can reach the server's terminal (`open("/dev/tty")` fails, `ENXIO`).
//!
//! Then, for each command: receive it with its pipe ends, start it, wait for it to
//! exit (or for the server's "kill"), kill and reap everything still below the keeper,
//! round after round, and only then reply how it ended. When the server closes the
//! socket (the session ended, however) or SIGTERM arrives, the keeper kills its tree
//! and exits.

use crate::keeper::{become_keeper, close_on_exec_from, kill_all, reap, Ended, EXIT_CANNOT_START};
use crate::limits::MAX_JOB_MESSAGE;
use crate::link::{decode_job, recv_with_fds, send_reply, JobSpec, Reply};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use rustix::event::{poll, PollFd, PollFlags};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGTERM};
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The first argument that turns `shell-server` into a session keeper.
pub(crate) const SESSION_KEEPER_FLAG: &str = "--socklab-session-keeper";

/// Signals as bytes on a socket, so that one `poll` waits for them and for the
/// server: SIGCHLD, SIGTERM and SIGHUP wake it, and the last two also raise the flag
/// that says "end".
fn signal_socket() -> std::io::Result<(UnixStream, Arc<AtomicBool>)> {
    let (wake, wake_tx) = UnixStream::pair()?;
    for sig in [SIGCHLD, SIGTERM, SIGHUP] {
        signal_hook::low_level::pipe::register(sig, wake_tx.try_clone()?)?;
    }
    let end = Arc::new(AtomicBool::new(false));
    for sig in [SIGTERM, SIGHUP] {
        signal_hook::flag::register(sig, Arc::clone(&end))?;
    }
    Ok((wake, end))
}

/// Runs a session keeper whose server is `ppid`; returns when the session is over.
pub(crate) fn keep_session(ppid: i32) -> ExitCode {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        eprintln!("shell-server session keeper: {what}: {e}");
        ExitCode::from(EXIT_CANNOT_START)
    };
    if let Err(code) = become_keeper(ppid, "session keeper") {
        return code;
    }
    close_on_exec_from(3);
    let (mut wake, end) = match signal_socket() {
        Ok(got) => got,
        Err(e) => return fail("installing signal handlers", &e),
    };
    let _ = wake.set_nonblocking(true);
    let server = std::io::stdin();
    let server = server.as_fd();
    let mut running: Option<Pid> = None;
    let mut buf = vec![0u8; MAX_JOB_MESSAGE];
    loop {
        let mut fds = [
            PollFd::new(&server, PollFlags::IN),
            PollFd::new(&wake, PollFlags::IN),
        ];
        match poll(&mut fds, None) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return fail("poll", &e),
        }
        let from_server = !fds[0].revents().is_empty();
        let woken = !fds[1].revents().is_empty();
        if woken {
            let mut sink = [0u8; 64];
            while matches!(wake.read(&mut sink), Ok(n) if n > 0) {}
            if end.load(Ordering::Relaxed) {
                break;
            }
            if let Some(child) = running {
                if let Some(ended) = reap(child, None) {
                    // The command is over: so is everything it started.
                    let ended = kill_all(child, Some(ended));
                    send_reply(server, &reply_for(ended));
                    running = None;
                }
            } else {
                reap(Pid::from_raw(0), None);
            }
        }
        if from_server {
            let (n, passed) = match recv_with_fds(server, &mut buf) {
                Ok(Some(got)) => got,
                // The session is over.
                Ok(None) | Err(_) => break,
            };
            match buf[..n].first() {
                Some(b'K') => {
                    if let Some(child) = running.take() {
                        let ended = kill_all(child, None);
                        send_reply(
                            server,
                            &reply_for(ended.or(Some(Ended::Signal(Signal::SIGKILL)))),
                        );
                    }
                }
                Some(b'J') if running.is_none() => {
                    let started = decode_job(&buf[..n])
                        .ok_or_else(|| "malformed job message".to_string())
                        .and_then(|spec| start(spec, passed));
                    match started {
                        Ok(pid) => running = Some(pid),
                        Err(why) => send_reply(server, &Reply::Failed(why)),
                    }
                }
                _ => send_reply(server, &Reply::Failed("unexpected message".into())),
            }
        }
    }
    kill_all(running.unwrap_or(Pid::from_raw(0)), None);
    ExitCode::SUCCESS
}

fn reply_for(ended: Option<Ended>) -> Reply {
    match ended {
        Some(Ended::Code(code)) => Reply::Exited(code),
        Some(Ended::Signal(sig)) => Reply::Signaled(sig as i32),
        None => Reply::Signaled(Signal::SIGKILL as i32),
    }
}

/// Starts one command with the descriptors that came with it; the keeper's copies are
/// closed once it runs, so the server sees end of file when the command's are.
fn start(spec: JobSpec, passed: Vec<OwnedFd>) -> Result<Pid, String> {
    let want = if spec.stdin { 3 } else { 2 };
    if passed.len() != want {
        return Err(format!("expected {want} descriptors, got {}", passed.len()));
    }
    let mut fds = passed.into_iter();
    let stdin = if spec.stdin {
        Stdio::from(fds.next().expect("counted"))
    } else {
        Stdio::null()
    };
    let (stdout, stderr) = (fds.next().expect("counted"), fds.next().expect("counted"));
    // A process group of its own, as a shell gives each job: the keeper, which stays,
    // is not in it.
    let child = Command::new(&spec.program)
        .arg0(&spec.argv0)
        .process_group(0)
        .args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd)
        .stdin(stdin)
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .spawn()
        .map_err(|e| e.to_string())?;
    Ok(Pid::from_raw(child.id() as i32))
}
