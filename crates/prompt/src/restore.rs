//! Puts the terminal back when SIGTERM ends a program while the line editor holds it.
//!
//! The editor keeps the terminal raw while it reads a line; SIGTERM's default action
//! would end the program there and leave the person's terminal raw (no echo, no line
//! editing) until they type `reset`. [`RestoreOnTerm`] saves the terminal's modes while
//! they are still the person's, and a thread waits for SIGTERM: it puts the modes back,
//! then lets the signal end the program as it would have.
//!
//! Opt-in ([`crate::Prompt::restore_on_sigterm`]): a program with its own SIGTERM
//! handling (chat-client leaves with `/quit`, shell-client forwards it to the remote
//! command) keeps it.

use rustix::termios::{tcgetattr, tcsetattr, OptionalActions, Termios};
use signal_hook::consts::SIGTERM;
use signal_hook::iterator::{Handle, Signals};
use std::io;
use std::os::fd::OwnedFd;
use std::thread::JoinHandle;

/// While this lives, SIGTERM puts the terminal's saved modes back before it ends the
/// program. Dropping it stops the thread (SIGTERM then ends the program at once, as
/// with no guard).
pub(crate) struct RestoreOnTerm {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl RestoreOnTerm {
    /// Saves `tty`'s modes now (the editor must not be reading) and starts the thread.
    pub(crate) fn start(tty: OwnedFd) -> io::Result<RestoreOnTerm> {
        let saved: Termios = tcgetattr(&tty)?;
        let mut signals = Signals::new([SIGTERM])?;
        let handle = signals.handle();
        let thread = std::thread::Builder::new()
            .name("restore terminal".into())
            .spawn(move || {
                if signals.forever().next().is_some() {
                    let _ = tcsetattr(&tty, OptionalActions::Now, &saved);
                    // Die by the signal, as with no handler; should that fail, exit
                    // as a shell reports a SIGTERM death.
                    let _ = signal_hook::low_level::emulate_default_handler(SIGTERM);
                    std::process::exit(128 + SIGTERM);
                }
            })?;
        Ok(RestoreOnTerm {
            handle,
            thread: Some(thread),
        })
    }
}

impl Drop for RestoreOnTerm {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
