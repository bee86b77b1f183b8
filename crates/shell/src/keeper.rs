//! The terminal keeper: one small process per terminal (`pty`) session that gives it a
//! session of its own with the PTY as its controlling terminal, and makes sure
//! nothing it started outlives it. (Commands on pipes run under their session's
//! keeper instead, [`crate::session_keeper`], started once per login session: a
//! controlling terminal is per session, so a terminal gets a session, and a keeper,
//! of its own.) It also holds the helpers both keepers use.
//!
//! The server does not run the shell itself. It runs itself again as
//! `shell-server --keeper PPID PTY ARGV0 PROGRAM ARGS…` (see [`keeper_argv`]), and that
//! process, in this order:
//!
//! 1. `prctl(PR_SET_CHILD_SUBREAPER)`: every process below it that loses its parent
//!    (`setsid -f`, a double fork, `nohup … &`) is re-parented to the keeper instead of
//!    to init, so none can leave the tree;
//! 2. `prctl(PR_SET_PDEATHSIG, SIGTERM)`: if the server dies, even by SIGKILL, the
//!    kernel tells the keeper;
//! 3. `setsid()`: a new session with no controlling terminal, so the command cannot
//!    reach the server's terminal (`open("/dev/tty")` fails with `ENXIO`). On a PTY it
//!    then opens its terminal, which becomes the session's controlling terminal;
//! 4. starts the command in its own process group, the terminal's foreground group
//!    on a PTY; the keeper handles (and ignores) the terminal's signals, Ctrl-C
//!    included, so only the command acts on them;
//! 5. waits for the command to exit, or for SIGTERM (the server ending the session)
//!    or SIGHUP (the terminal closed);
//! 6. kills every process below it with SIGKILL, round after round, reaping each,
//!    until it has no child left;
//! 7. ends the way the command ended: its exit code, or the same signal.
//!
//! `setsid` and the `prctl`s are done by the keeper on itself, after `exec`, so no
//! `pre_exec` hook (which would need `unsafe`) is involved.

use crate::limits::MAX_KILL_ROUNDS;
use crate::session_keeper::{keep_session, SESSION_KEEPER_FLAG};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::prctl;
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getpid, getppid, setsid, Pid};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU};
use signal_hook::iterator::Signals;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

/// The first argument that turns `shell-server` into a keeper.
pub(crate) const KEEPER_FLAG: &str = "--socklab-keeper";

/// Exit code of a keeper that could not start its command, as `sh` uses for "not
/// executable".
pub(crate) const EXIT_CANNOT_START: u8 = 126;

/// The arguments that make `shell-server` a keeper for `program` (run as `argv0`).
pub(crate) fn keeper_argv(
    pty: bool,
    argv0: &OsStr,
    program: &OsStr,
    args: &[OsString],
) -> Vec<OsString> {
    let mut v = vec![
        OsString::from(KEEPER_FLAG),
        OsString::from(getpid().to_string()),
        OsString::from(if pty { "pty" } else { "pipes" }),
        argv0.to_owned(),
        program.to_owned(),
    ];
    v.extend_from_slice(args);
    v
}

/// If this process was started as a keeper, runs it and returns its exit code; `None`
/// for a normal `shell-server` start. The binary calls this before parsing its flags.
pub fn main_if_keeper() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    let first = args.next()?;
    if first == SESSION_KEEPER_FLAG {
        let ppid = args.next().and_then(|p| p.to_str()?.parse::<i32>().ok());
        return Some(keep_session(ppid.unwrap_or(0)));
    }
    if first != KEEPER_FLAG {
        return None;
    }
    let rest: Vec<OsString> = args.collect();
    let [ppid, mode, argv0, program, cmd_args @ ..] = rest.as_slice() else {
        eprintln!("shell-server: {KEEPER_FLAG} needs PPID MODE ARGV0 PROGRAM [ARGS]");
        return Some(ExitCode::from(EXIT_CANNOT_START));
    };
    let ppid = ppid
        .to_str()
        .and_then(|p| p.parse::<i32>().ok())
        .unwrap_or(0);
    Some(keep(ppid, mode == "pty", argv0, program, cmd_args))
}

/// How the command ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ended {
    Code(i32),
    Signal(Signal),
}

/// Steps 1 to 3 of both keepers, done by the keeper on itself: become the subreaper of
/// everything below it, learn of the server's death, and lead a new session with no
/// controlling terminal. `who` names the keeper in the message of a failure.
pub(crate) fn become_keeper(ppid: i32, who: &str) -> Result<(), ExitCode> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        eprintln!("shell-server {who}: {what}: {e}");
        ExitCode::from(EXIT_CANNOT_START)
    };
    prctl::set_child_subreaper(true).map_err(|e| fail("PR_SET_CHILD_SUBREAPER", &e))?;
    prctl::set_pdeathsig(Signal::SIGTERM).map_err(|e| fail("PR_SET_PDEATHSIG", &e))?;
    // The server may have died before the line above: then no signal will come.
    if getppid().as_raw() != ppid {
        return Err(ExitCode::from(EXIT_CANNOT_START));
    }
    setsid().map_err(|e| fail("setsid", &e))?;
    Ok(())
}

fn keep(ppid: i32, pty: bool, argv0: &OsStr, program: &OsStr, args: &[OsString]) -> ExitCode {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        eprintln!("shell-server keeper: {what}: {e}");
        ExitCode::from(EXIT_CANNOT_START)
    };
    if let Err(code) = become_keeper(ppid, "keeper") {
        return code;
    }
    // A session leader that opens a terminal without O_NOCTTY acquires it as its
    // controlling terminal. Held open until the keeper exits.
    let tty = if pty {
        match rustix::termios::ttyname(std::io::stdin(), Vec::new()) {
            Ok(name) => match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(OsStr::from_bytes(name.as_bytes()))
            {
                Ok(f) => Some(f),
                Err(e) => return fail("opening the terminal", &e),
            },
            Err(e) => return fail("ttyname", &e),
        }
    } else {
        None
    };
    // Descriptors the server inherited from whoever started it (a jobserver pipe, a
    // log file) must not reach the command, as sshd's closefrom(3) ensures.
    close_on_exec_from(3);
    // Handlers (not SIG_IGN) for the terminal's signals: the keeper does not stop or
    // die on Ctrl-C or Ctrl-Z, while the command, whose handlers `exec` resets to the
    // defaults, does.
    let mut signals = match Signals::new([
        SIGCHLD, SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU,
    ]) {
        Ok(s) => s,
        Err(e) => return fail("installing signal handlers", &e),
    };
    // The command stays in the keeper's process group, which is the terminal's
    // foreground group: an interactive shell finds itself in the foreground and moves
    // to a group of its own for job control; a plain command gets Ctrl-C directly.
    // (Starting it in a new group and then handing it the terminal would race with a
    // shell that checks the foreground group first and stops itself with SIGTTIN.)
    let child = match Command::new(program).arg0(argv0).args(args).spawn() {
        Ok(c) => c,
        Err(e) => return fail(&format!("cannot run {}", program.to_string_lossy()), &e),
    };
    let child = Pid::from_raw(child.id() as i32);
    let mut ended = reap(child, None);
    if ended.is_none() {
        for sig in signals.forever() {
            match sig {
                SIGCHLD => ended = reap(child, ended),
                SIGTERM | SIGHUP => break,
                _ => {}
            }
            if ended.is_some() {
                break;
            }
        }
    }
    ended = kill_all(child, ended);
    drop(tty);
    match ended {
        Some(Ended::Code(code)) => ExitCode::from(code as u8),
        Some(Ended::Signal(sig)) => die_like(sig),
        None => die_like(Signal::SIGKILL),
    }
}

/// Marks every open descriptor from `lowest` up close-on-exec: the keeper keeps them,
/// its command does not get them. (`fcntl` on a number: closing descriptors we do not
/// own would need `unsafe`, and is not needed.)
pub(crate) fn close_on_exec_from(lowest: i32) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd >= lowest)
        .collect();
    for fd in fds {
        let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    }
}

/// Reaps every child that has exited, without blocking; returns how `child` ended if
/// it was among them.
pub(crate) fn reap(child: Pid, mut ended: Option<Ended>) -> Option<Ended> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return ended,
            Ok(status) => ended = record(child, status, ended),
            Err(Errno::EINTR) => {}
            Err(_) => return ended,
        }
    }
}

fn record(child: Pid, status: WaitStatus, ended: Option<Ended>) -> Option<Ended> {
    match status {
        WaitStatus::Exited(pid, code) if pid == child => Some(Ended::Code(code)),
        WaitStatus::Signaled(pid, sig, _) if pid == child => Some(Ended::Signal(sig)),
        _ => ended,
    }
}

/// Kills every child of the keeper with SIGKILL and reaps it, round after round: the
/// children of a killed process are re-parented to the keeper (its subreaper), and
/// are killed in the next round. Returns when the keeper has no child left. A command
/// that left nothing behind costs one `waitpid`, no scan of `/proc`.
pub(crate) fn kill_all(child: Pid, mut ended: Option<Ended>) -> Option<Ended> {
    let me = getpid().as_raw();
    for _ in 0..MAX_KILL_ROUNDS {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            // Nothing below the keeper any more.
            Err(Errno::ECHILD) => return ended,
            Ok(WaitStatus::StillAlive) => {
                for pid in children_of(me) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
                match waitpid(None, None) {
                    Ok(status) => ended = record(child, status, ended),
                    Err(Errno::ECHILD) => return ended,
                    Err(_) => {}
                }
            }
            Ok(status) => ended = record(child, status, ended),
            Err(_) => {}
        }
    }
    eprintln!("shell-server keeper: processes still forking after {MAX_KILL_ROUNDS} rounds");
    ended
}

/// The PIDs whose parent is `ppid`, from `/proc/PID/stat` (field 4, after the command
/// name in parentheses, which may itself contain spaces and parentheses).
pub(crate) fn children_of(ppid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let after = &s[s.rfind(')')? + 1..];
                    after.split_whitespace().nth(1)?.parse::<i32>().ok()
                })
                == Some(ppid)
        })
        .collect()
}

/// Ends the keeper by `sig`, as the command ended, so the server sees the same
/// signal. No core file: the keeper did not crash.
fn die_like(sig: Signal) -> ExitCode {
    let _ = setrlimit(Resource::RLIMIT_CORE, 0, 0);
    let _ = signal_hook::low_level::emulate_default_handler(sig as i32);
    // A signal whose default is to be ignored, or to stop, does not end us.
    ExitCode::from((128 + sig as i32) as u8)
}
