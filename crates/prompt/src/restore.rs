//! Puts the terminal back when a signal ends a program while the line editor holds it.
//!
//! The editor keeps the terminal raw while it reads a line; SIGTERM's default action
//! would end the program there and leave the person's terminal raw (no echo, no line
//! editing) until they type `reset`. [`OnSignals`] saves the terminal's modes while
//! they are still the person's, and a thread waits for the signals: it runs the
//! program's last words (chat-client's `/quit`), puts the modes back, then lets the
//! signal end the program as it would have, so a shell loop around it sees a death
//! by that signal, not an exit code.
//!
//! Opt-in ([`crate::Prompt::restore_on_sigterm`], or [`OnSignals::start`] for a
//! program with more to do): one with its own handling (shell-client forwards SIGTERM
//! to the remote command) keeps it.

use rustix::termios::{tcgetattr, tcsetattr, OptionalActions, Termios};
use signal_hook::iterator::{Handle, Signals};
use std::io;
use std::os::fd::OwnedFd;
use std::thread::JoinHandle;

/// While this lives, the first of its signals runs the last words, puts the
/// terminal's saved modes back and ends the program by that signal. Dropping it stops
/// the thread; the signals then stay caught but do nothing (signal-hook cannot put the
/// default action back), so only a program that ends soon after should drop it.
pub struct OnSignals {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl OnSignals {
    /// Saves `tty`'s modes now, if there is a terminal (the editor must not be
    /// reading), and starts the thread that waits for `signals`.
    pub fn start(
        signals: &[i32],
        tty: Option<OwnedFd>,
        last_words: impl FnOnce() + Send + 'static,
    ) -> io::Result<OnSignals> {
        let saved: Option<(OwnedFd, Termios)> = match tty {
            Some(tty) => {
                let modes = tcgetattr(&tty)?;
                Some((tty, modes))
            }
            None => None,
        };
        let mut signals = Signals::new(signals)?;
        let handle = signals.handle();
        let thread = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                // `forever` ends when the guard is dropped.
                if let Some(signal) = signals.forever().next() {
                    last_words();
                    if let Some((tty, modes)) = &saved {
                        let _ = tcsetattr(tty, OptionalActions::Now, modes);
                    }
                    // Die by the signal, as with no handler; should that fail, exit
                    // as a shell reports such a death.
                    let _ = signal_hook::low_level::emulate_default_handler(signal);
                    std::process::exit(128 + signal);
                }
            })?;
        Ok(OnSignals {
            handle,
            thread: Some(thread),
        })
    }
}

impl std::fmt::Debug for OnSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnSignals").finish_non_exhaustive()
    }
}

impl Drop for OnSignals {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
