//! The client's terminal in raw mode, restored on every way out.
//!
//! In the default "cooked" mode the terminal's line discipline edits a line before the
//! program sees it, echoes what is typed, and turns Ctrl-C into SIGINT for the local
//! program. A remote PTY session wants none of that here: every byte, Ctrl-C
//! included, must go to the remote terminal, which does the editing, echoing and
//! signalling itself. So the client switches its terminal to raw mode
//! (`tcgetattr`, `cfmakeraw`, `tcsetattr`) for the session, and back afterwards: when
//! the guard drops (normal end, error, panic unwinding) and on SIGTERM or SIGHUP
//! ([`restore`], called by the stdin pump).

use rustix::termios::{tcgetattr, tcsetattr, OptionalActions, Termios};
use socklab_proto::{Error, Result};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Mutex;

/// The terminal and its modes before raw mode, while raw mode is on.
static SAVED: Mutex<Option<(OwnedFd, Termios)>> = Mutex::new(None);

/// Raw mode on the terminal it was entered on, until dropped.
#[derive(Debug)]
pub(crate) struct RawMode(());

impl RawMode {
    /// Saves `tty`'s modes and switches it to raw mode.
    pub fn enter(tty: impl AsFd) -> Result<RawMode> {
        let fd = tty
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io("duplicating the terminal", e))?;
        let saved = tcgetattr(&fd).map_err(|e| Error::io("tcgetattr", e.into()))?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(&fd, OptionalActions::Drain, &raw)
            .map_err(|e| Error::io("tcsetattr", e.into()))?;
        *SAVED.lock().unwrap_or_else(|p| p.into_inner()) = Some((fd, saved));
        Ok(RawMode(()))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts the terminal back the way it was before raw mode, if raw mode is on.
pub(crate) fn restore() {
    if let Some((fd, saved)) = SAVED.lock().unwrap_or_else(|p| p.into_inner()).take() {
        let _ = tcsetattr(&fd, OptionalActions::Now, &saved);
    }
}
