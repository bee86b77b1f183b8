//! What ends a running command and tells how it ended: on pipes, the session's
//! keeper (its reply comes once everything the command started is dead); on a
//! terminal, the terminal's own keeper, whose exit a waiter thread turns into end of
//! file on a socket.

use crate::exec::Job;
use crate::limits::KEEPER_GRACE;
use crate::link::{KeeperGone, Reply, SessionKeeper};
use crate::orphans;
use crate::spawn::Keeper;
use crate::wire::ExitStatus;
use nix::sys::signal::Signal;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use socklab_proto::{Error, Result};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::time::Instant;

/// What ends the command and tells how it ended.
pub(crate) enum Ender<'s> {
    /// A terminal session under a keeper of its own, and the end of file its waiter
    /// thread gives when the keeper exits.
    Pty {
        keeper: Keeper,
        exited: Option<OwnedFd>,
    },
    /// A command under the session's keeper (kept in `slot`); `status` once its
    /// reply has come.
    Pipes {
        slot: &'s mut Option<SessionKeeper>,
        status: Option<(Option<i32>, Option<i32>)>,
    },
}

impl Ender<'_> {
    /// What `poll` watches for the command's end; `None` once it has ended.
    pub fn exit_fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Ender::Pty { exited, .. } => exited.as_ref().map(|f| f.as_fd()),
            Ender::Pipes { slot, status } => match (status, slot.as_ref()) {
                (None, Some(k)) => Some(k.reply_fd()),
                _ => None,
            },
        }
    }

    /// Called when [`Self::exit_fd`] is readable.
    pub fn exit_ready(&mut self, job: &Job<'_>) -> Result<()> {
        match self {
            Ender::Pty { keeper, exited } => {
                *exited = None;
                // A keeper that ends normally left nothing behind. One killed by
                // SIGKILL (by its own command, say) could not clean up: its
                // orphans are the server's now.
                if keeper.killed() {
                    orphans::sweep();
                }
            }
            Ender::Pipes { slot, status } => {
                let Some(k) = slot.as_mut() else {
                    return Ok(());
                };
                match k.reply() {
                    Ok(None) => {}
                    Ok(Some(Reply::Exited(code))) => *status = Some((Some(code), None)),
                    Ok(Some(Reply::Signaled(sig))) => *status = Some((None, Some(sig))),
                    Ok(Some(Reply::Failed(why))) => {
                        *status = Some((None, None));
                        return Err(Error::io(
                            format!("cannot start a command in {}", job.cwd.display()),
                            std::io::Error::other(why),
                        ));
                    }
                    Err(KeeperGone) => {
                        // Killed, by its own command say: it has been reaped and its
                        // orphans swept; the next command gets a new keeper.
                        **slot = None;
                        *status = Some((None, Some(Signal::SIGKILL as i32)));
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends the command and everything it started, now; returns once that is done
    /// (or the keeper, which did not manage it in time, has been killed).
    pub fn stop(&mut self) {
        match self {
            Ender::Pty { keeper, .. } => keeper.stop(),
            Ender::Pipes { slot, status } => {
                let Some(k) = slot.as_mut().filter(|_| status.is_none()) else {
                    return;
                };
                k.kill();
                let until = Instant::now() + KEEPER_GRACE;
                while status.is_none() && Instant::now() < until {
                    let mut fd = [PollFd::from_borrowed_fd(k.reply_fd(), PollFlags::IN)];
                    let left = Timespec::try_from(until.saturating_duration_since(Instant::now()));
                    let _ = poll(&mut fd, left.ok().as_ref());
                    match k.reply() {
                        Ok(Some(Reply::Exited(code))) => *status = Some((Some(code), None)),
                        Ok(Some(Reply::Signaled(sig))) => *status = Some((None, Some(sig))),
                        Ok(Some(Reply::Failed(_))) => *status = Some((None, None)),
                        Ok(None) => {}
                        Err(KeeperGone) => break,
                    }
                }
                if status.is_none() {
                    log::error!("the session keeper did not end its command in time");
                    **slot = None;
                    *status = Some((None, Some(Signal::SIGKILL as i32)));
                }
            }
        }
    }

    /// How the command ended, once it has.
    pub fn finish(mut self, stopped: bool) -> Result<ExitStatus> {
        let (exit, signal) = match &mut self {
            Ender::Pty { keeper, .. } => {
                let status = keeper
                    .child
                    .wait()
                    .map_err(|e| Error::io("waiting for the command", e))?;
                keeper.reaped = true;
                (status.code(), status.signal())
            }
            Ender::Pipes { status, .. } => status.unwrap_or((None, Some(Signal::SIGKILL as i32))),
        };
        Ok(ExitStatus {
            exit,
            signal,
            timed_out: stopped && signal.is_some(),
            cwd: None,
        })
    }
}

impl Drop for Ender<'_> {
    /// A command still running when its job is abandoned (an error, a client gone):
    /// ending the session's keeper ends it and all it started; the session's next
    /// command starts a new keeper.
    fn drop(&mut self) {
        if let Ender::Pipes { slot, status: None } = self {
            **slot = None;
        }
    }
}
