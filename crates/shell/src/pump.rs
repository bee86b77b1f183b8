//! The client's stdin pump: a thread that forwards local input to the server as stdin
//! frames while the main thread copies the command's output, and on a terminal also
//! sends `resize` when the window changes (SIGWINCH).
//!
//! Input must never wait for output, nor output for input: a client blocked sending
//! input that the server cannot take yet (its command is busy writing output) would
//! never read the output that would unblock it. On a plain connection the pump is a
//! thread of its own; a TLS session has one state, so [`forward_inline`] does both on
//! one thread and sends input only as far as the socket takes it without waiting.

use crate::outbox::Outbox;
use crate::request::write_resize;
use crate::tls::{readable_after_poll, tls_buffered, ClientStream};
use crate::tty;
use crate::wire::{ChunkBuf, ExitStatus, FrameStream};
use rustix::event::{poll, PollFd, PollFlags};
use signal_hook::consts::{SIGHUP, SIGTERM, SIGWINCH};
use socklab_net::Connection;
use socklab_proto::{Error, Result};
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

/// Read ends that become readable on SIGWINCH, and on SIGTERM or SIGHUP.
#[derive(Debug)]
struct SignalPipes {
    winch: UnixStream,
    term: UnixStream,
    /// True while no terminal session runs: SIGTERM and SIGHUP then simply end the
    /// client (their default action); during one, the pump restores the terminal first.
    idle: Arc<AtomicBool>,
}

impl SignalPipes {
    /// What the client's signals asked for, given which of the pump's poll entries
    /// are ready (`ready[1]` the SIGTERM/SIGHUP pipe, `ready[2]` the SIGWINCH one):
    /// a stop restores the terminal and exits as the signal's default action would;
    /// a window change gives the terminal's new size, for a `resize` message.
    fn take(&self, ready: &[bool], input: Option<&File>) -> Option<(u16, u16)> {
        if ready[1] {
            tty::restore();
            let _ = signal_hook::low_level::emulate_default_handler(SIGTERM);
            std::process::exit(128 + SIGTERM);
        }
        if !ready[2] {
            return None;
        }
        let mut junk = [0u8; 64];
        while matches!((&self.winch).read(&mut junk), Ok(n) if n > 0) {}
        let ws = rustix::termios::tcgetwinsize(input?).ok()?;
        Some((ws.ws_row, ws.ws_col))
    }
}

/// Registers the signal pipes once per process. Signal handlers stay registered for
/// the process's life: signal-hook cannot put a default action back, so the default
/// is kept conditional instead.
fn signal_pipes() -> Result<&'static SignalPipes> {
    static PIPES: OnceLock<SignalPipes> = OnceLock::new();
    if let Some(p) = PIPES.get() {
        return Ok(p);
    }
    let io = |e| Error::io("installing a signal handler", e);
    let (winch, winch_w) = UnixStream::pair().map_err(io)?;
    let (term, term_w) = UnixStream::pair().map_err(io)?;
    let term_w2 = term_w.try_clone().map_err(io)?;
    let idle = Arc::new(AtomicBool::new(true));
    for (sig, w) in [(SIGWINCH, winch_w), (SIGTERM, term_w), (SIGHUP, term_w2)] {
        signal_hook::low_level::pipe::register(sig, w).map_err(io)?;
    }
    for sig in [SIGTERM, SIGHUP] {
        signal_hook::flag::register_conditional_default(sig, Arc::clone(&idle)).map_err(io)?;
    }
    for r in [&winch, &term] {
        r.set_nonblocking(true).map_err(io)?;
    }
    Ok(PIPES.get_or_init(|| SignalPipes { winch, term, idle }))
}

/// The `>> ` prompt's line editor keeps the terminal raw while it reads a line, where
/// no pump runs: while this guard lives, SIGTERM and SIGHUP put back the terminal's
/// modes from when it was made, then end the client as their default action would.
#[derive(Debug)]
pub(crate) struct EditorSignals {
    stop: UnixStream,
    thread: Option<JoinHandle<()>>,
    pipes: &'static SignalPipes,
}

impl EditorSignals {
    /// Saves `tty`'s modes (the editor is not reading yet, so they are the person's)
    /// and watches the signals.
    pub fn start(tty: impl AsFd) -> Result<EditorSignals> {
        let tty = tty
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io("duplicating the terminal", e))?;
        let saved =
            rustix::termios::tcgetattr(&tty).map_err(|e| Error::io("tcgetattr", e.into()))?;
        let pipes = signal_pipes()?;
        let (stop, stopped) =
            UnixStream::pair().map_err(|e| Error::io("creating the stop pipe", e))?;
        let thread = std::thread::Builder::new()
            .name("prompt signals".into())
            .spawn(move || loop {
                let mut fds = [
                    PollFd::new(&stopped, PollFlags::IN),
                    PollFd::new(&pipes.term, PollFlags::IN),
                ];
                if matches!(poll(&mut fds, None), Err(e) if e != rustix::io::Errno::INTR) {
                    return;
                }
                if !fds[0].revents().is_empty() {
                    return;
                }
                if !fds[1].revents().is_empty() {
                    tty::restore();
                    let _ = rustix::termios::tcsetattr(
                        &tty,
                        rustix::termios::OptionalActions::Now,
                        &saved,
                    );
                    let _ = signal_hook::low_level::emulate_default_handler(SIGTERM);
                    std::process::exit(128 + SIGTERM);
                }
            })
            .map_err(|e| Error::io("starting the signal thread", e))?;
        let guard = EditorSignals {
            stop,
            thread: Some(thread),
            pipes,
        };
        guard.rearm();
        Ok(guard)
    }

    /// Takes the signals over again after a command's pump gave them back their
    /// default action.
    pub fn rearm(&self) {
        self.pipes.idle.store(false, Ordering::SeqCst);
    }
}

impl Drop for EditorSignals {
    fn drop(&mut self) {
        let _ = self.stop.shutdown(std::net::Shutdown::Both);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.pipes.idle.store(true, Ordering::SeqCst);
    }
}

/// A running pump; [`Pump::stop`] ends it.
#[derive(Debug)]
pub(crate) struct Pump {
    stop: UnixStream,
    thread: JoinHandle<()>,
    signals: Option<&'static SignalPipes>,
}

impl Pump {
    /// Starts forwarding `input` to `sock`. With `terminal`, window-size changes of
    /// `input` are sent as `resize`, and SIGTERM or SIGHUP restore the terminal
    /// before the client dies of them.
    pub fn start(input: OwnedFd, mut sock: TcpStream, terminal: bool) -> Result<Pump> {
        let (stop, stopped) =
            UnixStream::pair().map_err(|e| Error::io("creating the stop pipe", e))?;
        let signals = if terminal {
            let pipes = signal_pipes()?;
            pipes.idle.store(false, Ordering::SeqCst);
            Some(pipes)
        } else {
            None
        };
        let thread = std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || {
                if let Err(e) = pump(input, &mut sock, &stopped, signals) {
                    log::debug!("stdin pump: {e}");
                }
            })
            .map_err(|e| Error::io("starting the stdin thread", e))?;
        Ok(Pump {
            stop,
            thread,
            signals,
        })
    }

    /// Tells the pump to stop (the command is over) and waits for it.
    pub fn stop(self) {
        drop(self.stop);
        let _ = self.thread.join();
        if let Some(pipes) = self.signals {
            pipes.idle.store(true, Ordering::SeqCst);
        }
    }
}

fn pump(
    input: OwnedFd,
    sock: &mut TcpStream,
    stopped: &UnixStream,
    signals: Option<&SignalPipes>,
) -> Result<()> {
    let mut input = Some(File::from(input));
    let mut buf = ChunkBuf::new();
    loop {
        let ready = poll_ready(stopped.as_fd(), signals, input.as_ref())?;
        if ready[0] {
            return Ok(());
        }
        if let Some((rows, cols)) = signals.and_then(|s| s.take(&ready, input.as_ref())) {
            write_resize(sock, rows, cols)?;
        }
        if let Some(data) = read_input(&ready, signals.is_some(), &mut input, buf.space()) {
            let n = data.len();
            sock.write_all(buf.frame(FrameStream::Stdin, n)?)
                .map_err(|e| Error::io("sending stdin", e))?;
        }
    }
}

/// Waits for `first`, the signal pipes (if any) and `input` (if any); returns which
/// are ready, in that order: `[0]` is `first`, then the pipes as
/// [`SignalPipes::take`] expects them, then `input`.
fn poll_ready(
    first: BorrowedFd<'_>,
    signals: Option<&SignalPipes>,
    input: Option<&File>,
) -> Result<Vec<bool>> {
    poll_ready_sending(first, false, signals, input)
}

/// [`poll_ready`], also waking when `first` becomes writable if `sending`; `[0]` is
/// still true only when `first` can be read (or has hung up or failed).
fn poll_ready_sending(
    first: BorrowedFd<'_>,
    sending: bool,
    signals: Option<&SignalPipes>,
    input: Option<&File>,
) -> Result<Vec<bool>> {
    let events = match sending {
        true => PollFlags::IN | PollFlags::OUT,
        false => PollFlags::IN,
    };
    let mut fds = vec![PollFd::from_borrowed_fd(first, events)];
    if let Some(s) = signals {
        fds.push(PollFd::new(&s.term, PollFlags::IN));
        fds.push(PollFd::new(&s.winch, PollFlags::IN));
    }
    if let Some(i) = input {
        fds.push(PollFd::from_borrowed_fd(i.as_fd(), PollFlags::IN));
    }
    match poll(&mut fds, None) {
        Ok(_) | Err(rustix::io::Errno::INTR) => {}
        Err(e) => return Err(Error::io("poll", e.into())),
    }
    Ok(fds
        .iter()
        .map(|f| !f.revents().difference(PollFlags::OUT).is_empty())
        .collect())
}

/// Reads `input` if [`poll_ready`] found it ready: the bytes to send as stdin, empty
/// at its end (or on a read error), after which `input` is `None`.
fn read_input<'b>(
    ready: &[bool],
    signals: bool,
    input: &mut Option<File>,
    buf: &'b mut [u8],
) -> Option<&'b [u8]> {
    let at = if signals { 3 } else { 1 };
    if ready.get(at) != Some(&true) {
        return None;
    }
    match input.as_mut()?.read(buf) {
        Ok(0) => {}
        Ok(n) => return Some(&buf[..n]),
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return None,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return None,
        Err(e) => log::warn!("reading stdin: {e}; sending end of input"),
    }
    *input = None;
    Some(&[])
}

/// The pump and the output copy on one thread, for a TLS session (whose one state
/// cannot be shared by two threads without a lock that a blocked read would hold):
/// one `poll` waits for the server's next message, local input, and the signals;
/// `on_message` reads one message and returns the command's end when it comes.
///
/// Input is sent without ever waiting for the socket: its frames wait in `unsent`
/// while the server cannot take them (its command busy writing output), and the loop
/// goes on reading the output that will free it. No more input is read until they
/// are all sent, so `unsent` holds at most one stdin frame and a few `resize`s.
pub(crate) fn forward_inline<F>(
    input: OwnedFd,
    conn: &mut Connection<ClientStream>,
    terminal: bool,
    mut on_message: F,
) -> Result<ExitStatus>
where
    F: FnMut(&mut Connection<ClientStream>) -> Result<Option<ExitStatus>>,
{
    let signals = if terminal {
        let pipes = signal_pipes()?;
        pipes.idle.store(false, Ordering::SeqCst);
        Some(pipes)
    } else {
        None
    };
    let mut input = Some(File::from(input));
    let mut unsent = Outbox::new();
    let mut run = || -> Result<ExitStatus> {
        loop {
            // Decrypted and waiting already, where `poll` cannot see it.
            if tls_buffered(conn.body()?)? {
                match on_message(conn)? {
                    Some(status) => return Ok(status),
                    None => continue,
                }
            }
            let sending = unsent.send_now(conn.body()?)?;
            let waiting_input = if sending { None } else { input.as_ref() };
            let ready =
                poll_ready_sending(conn.get_ref().as_fd(), sending, signals, waiting_input)?;
            if ready[0] && readable_after_poll(conn.body()?)? {
                if let Some(status) = on_message(conn)? {
                    return Ok(status);
                }
            }
            if let Some((rows, cols)) = signals.and_then(|s| s.take(&ready, input.as_ref())) {
                unsent.push_resize(rows, cols)?;
            }
            let space = unsent.space();
            if let Some(data) = read_input(&ready, signals.is_some(), &mut input, space) {
                let n = data.len();
                unsent.push_stdin(n)?;
            }
        }
    };
    let result = run();
    if let Some(pipes) = signals {
        pipes.idle.store(true, Ordering::SeqCst);
    }
    if result.is_ok() {
        // The command's status is what the caller wants; a connection that fails
        // here fails its next request too, and says so there.
        let finished = conn.body().and_then(|b| {
            unsent
                .finish(b)
                .map_err(|e| Error::io("sending the rest of the last stdin frame", e))
        });
        if let Err(e) = finished {
            log::debug!("{e}");
        }
    }
    result
}
