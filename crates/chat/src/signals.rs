//! Leaving with `/quit` when a signal would end the client without a word.

use socklab_prompt::OnSignals;
use socklab_proto::{Error, Result};
use std::io::IsTerminal;
use std::net::UdpSocket;
use std::os::fd::AsFd;

/// Ctrl-C (SIGINT) on a pipe, SIGTERM or a closed terminal (SIGHUP) would kill the
/// client without a word, and the others would see it leave only when the server
/// expires it a minute later. While this guard lives, a thread waits for those signals
/// instead, sends `/quit` as Ctrl-D would, puts the terminal back in the mode it was
/// started in (the line editor may have it raw), and then lets the signal kill the
/// process as it would have: a shell loop around the client stops on Ctrl-C only if the
/// child died *by* SIGINT, not if it exited with 130.
///
/// A signal the parent set to be ignored stays ignored (`nohup`, or a background job
/// of a script): that is the parent's decision. Dropping the guard stops the thread;
/// the signals then stay caught but do nothing (signal-hook cannot put the default
/// action back), which is why only a program that is just a chat client should ask
/// for this.
#[derive(Debug)]
pub(crate) struct LeaveOnSignal {
    /// Held for its drop, which stops the thread.
    _guard: OnSignals,
}

impl LeaveOnSignal {
    /// Starts the thread that leaves through `socket` on a signal.
    pub(crate) fn install(socket: &UdpSocket) -> Result<LeaveOnSignal> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let ignored = ignored_signals();
        let wanted: Vec<i32> = [SIGINT, SIGTERM, SIGHUP]
            .into_iter()
            .filter(|s| !ignored.contains(s))
            .collect();
        let socket = socket
            .try_clone()
            .map_err(|e| Error::io("cloning the UDP socket", e))?;
        // The terminal's modes now, before any editor makes it raw.
        let stdin = std::io::stdin();
        let tty = match stdin.is_terminal() {
            true => Some(
                stdin
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(|e| Error::io("duplicating the terminal", e))?,
            ),
            false => None,
        };
        let guard = OnSignals::start(&wanted, tty, move || {
            let _ = socket.send(b"/quit");
        })
        .map_err(|e| Error::io("installing the SIGINT/SIGTERM/SIGHUP handler", e))?;
        Ok(LeaveOnSignal { _guard: guard })
    }
}

/// The signals this process was started with set to be ignored (the kernel's `SigIgn`
/// mask, read by the `procfs` crate: a process can learn a disposition otherwise only
/// through `sigaction`, which safe Rust cannot call). Empty if it cannot be read.
fn ignored_signals() -> Vec<i32> {
    let mask = procfs::process::Process::myself()
        .and_then(|me| me.status())
        .map(|status| status.sigign)
        .unwrap_or(0);
    (1..=64).filter(|n| mask & (1 << (n - 1)) != 0).collect()
}
