//! The command's side of a running job, as [`crate::exec::run_job`] polls it: its
//! output (two pipes, or a PTY's master side), where the client's input goes, and the
//! one chunk of input not yet written to it.

use crate::request::Inbound;
use crate::server::ServerConn;
use crate::spawn::resize;
use crate::wire::{ChunkBuf, StreamName};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use socklab_proto::{Error, Result};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::BorrowedFd;
use std::time::Duration;

/// Where input for the command goes.
pub(crate) enum Sink {
    /// Nowhere: no stdin, or the command closed it.
    Closed,
    Pipe(File),
    /// The PTY master (the same descriptor the output comes from).
    Pty,
}

/// What one `poll` is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Watch {
    Out(StreamName),
    Master,
    Sink,
    Exited,
    Peer,
}

/// The descriptors of a running command and its input in flight. Invariant: at most
/// one client frame is held (`pending`), as the next is read only once it is
/// written: a command that does not read its input leaves the rest to TCP's flow
/// control, in the client.
pub(crate) struct Streams {
    pub stdout: Option<File>,
    pub stderr: Option<File>,
    pub master: Option<File>,
    pub sink: Sink,
    pub pending: Pending,
    /// The client has sent the end of its input (or the command takes none).
    pub client_eof: bool,
}

impl Streams {
    /// Whether some output may still come.
    pub fn outputs_open(&self) -> bool {
        self.stdout.is_some() || self.stderr.is_some() || self.master.is_some()
    }

    /// Whether to read the client's next frame now.
    pub fn wants_frame(&self) -> bool {
        !self.client_eof && self.pending.is_empty()
    }

    /// One `poll` of everything worth waiting for: the outputs, the input when there
    /// is some to write, `exit_fd` (the command's end), and `peer` (its hang-up always,
    /// its next frame when `want_frame`). `peer_ready` marks the peer readable
    /// whatever `poll` says (a TLS frame already decrypted). Returns each descriptor
    /// with something to do, with its events.
    pub fn poll(
        &self,
        exit_fd: Option<BorrowedFd<'_>>,
        peer: BorrowedFd<'_>,
        want_frame: bool,
        peer_ready: bool,
        wait: Duration,
    ) -> Result<Vec<(Watch, PollFlags)>> {
        let mut fds = Vec::with_capacity(6);
        let mut what = Vec::with_capacity(6);
        if let Some(p) = &self.stdout {
            fds.push(PollFd::new(p, PollFlags::IN));
            what.push(Watch::Out(StreamName::Stdout));
        }
        if let Some(p) = &self.stderr {
            fds.push(PollFd::new(p, PollFlags::IN));
            what.push(Watch::Out(StreamName::Stderr));
        }
        if let Some(m) = &self.master {
            let mut flags = PollFlags::IN;
            if !self.pending.is_empty() && matches!(self.sink, Sink::Pty) {
                flags |= PollFlags::OUT;
            }
            fds.push(PollFd::new(m, flags));
            what.push(Watch::Master);
        }
        if let (Sink::Pipe(p), false) = (&self.sink, self.pending.is_empty()) {
            fds.push(PollFd::new(p, PollFlags::OUT));
            what.push(Watch::Sink);
        }
        if let Some(fd) = exit_fd {
            fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
            what.push(Watch::Exited);
        }
        let mut flags = PollFlags::RDHUP;
        if want_frame {
            flags |= PollFlags::IN;
        }
        fds.push(PollFd::from_borrowed_fd(peer, flags));
        what.push(Watch::Peer);
        let timeout = Timespec::try_from(wait).ok();
        match poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::io("poll", e.into())),
        }
        let mut ready = Vec::with_capacity(fds.len());
        for (fd, w) in fds.iter().zip(what) {
            let mut revents = fd.revents();
            if w == Watch::Peer && peer_ready {
                revents |= PollFlags::IN;
            }
            if !revents.is_empty() {
                ready.push((w, revents));
            }
        }
        Ok(ready)
    }

    /// Reads what the `which` pipe has and sends it to the client; forgets the pipe
    /// at its end.
    pub fn forward_output(
        &mut self,
        which: StreamName,
        buf: &mut ChunkBuf,
        conn: &mut ServerConn,
    ) -> Result<()> {
        let slot = match which {
            StreamName::Stdout => &mut self.stdout,
            StreamName::Stderr => &mut self.stderr,
        };
        let pipe = slot.as_mut().expect("polled pipes are open");
        match read_some(pipe, buf.space()) {
            Some(0) => *slot = None,
            Some(n) => emit(conn, buf.frame(which, n)?)?,
            None => {}
        }
        Ok(())
    }

    /// The PTY master is ready: writes pending keystrokes if it may, and sends on
    /// what the terminal shows (all of it as `stdout`).
    pub fn on_master(
        &mut self,
        revents: PollFlags,
        buf: &mut ChunkBuf,
        conn: &mut ServerConn,
    ) -> Result<()> {
        let mut m = self.master.as_ref().expect("polled master is open");
        if revents.contains(PollFlags::OUT) && !write_pending(&mut m, &mut self.pending) {
            self.sink = Sink::Closed;
        }
        if revents.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
            // EIO once every slave descriptor is closed: the end of output.
            match read_some(&mut m, buf.space()) {
                Some(0) => self.master = None,
                Some(n) => emit(conn, buf.frame(StreamName::Stdout, n)?)?,
                None => {}
            }
        }
        Ok(())
    }

    /// The stdin pipe is writable: writes what it takes, and closes it once the
    /// client's input has ended and all of it is written.
    pub fn on_sink_writable(&mut self) {
        if let Sink::Pipe(p) = &self.sink {
            let mut p = p;
            if !write_pending(&mut p, &mut self.pending) {
                self.sink = Sink::Closed;
            }
        }
        self.close_sink_when_done();
    }

    /// Takes one frame from the client: input for the command (empty: its end), or a
    /// new terminal size.
    pub fn take(&mut self, inbound: Inbound) -> Result<()> {
        match inbound {
            Inbound::Stdin(data) if data.is_empty() => {
                self.client_eof = true;
                self.close_sink_when_done();
            }
            Inbound::Stdin(data) => {
                if !matches!(self.sink, Sink::Closed) {
                    self.pending = Pending::from(data);
                }
            }
            Inbound::Resize { rows, cols } => match &self.master {
                Some(m) => resize(m, rows, cols)?,
                None => {
                    return Err(Error::bad_request("resize: this command has no terminal"));
                }
            },
        }
        Ok(())
    }

    /// Closes the stdin pipe once the client's input has ended and is all written,
    /// so the command reads end of file. (A PTY has no end of file: Ctrl-D is a key.)
    fn close_sink_when_done(&mut self) {
        if self.client_eof && self.pending.is_empty() && matches!(self.sink, Sink::Pipe(_)) {
            self.sink = Sink::Closed;
        }
    }
}

/// The client's last stdin frame and how much of it the command has taken: the rest
/// is written from where it is, never moved to the front (a pipe may take any part
/// of a frame).
#[derive(Debug, Default)]
pub(crate) struct Pending {
    data: Vec<u8>,
    written: usize,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.written == self.data.len()
    }

    fn rest(&self) -> &[u8] {
        &self.data[self.written..]
    }

    fn advance(&mut self, n: usize) {
        self.written = (self.written + n).min(self.data.len());
    }

    fn clear(&mut self) {
        self.written = self.data.len();
    }
}

impl From<Vec<u8>> for Pending {
    fn from(data: Vec<u8>) -> Pending {
        Pending { data, written: 0 }
    }
}

/// Sends one framed chunk of the command's output to the client.
fn emit(conn: &mut ServerConn, frame: &[u8]) -> Result<()> {
    conn.body()?
        .write_all(frame)
        .map_err(|e| Error::under_deadline(Error::io("sending command output", e)))
}

/// One read that `poll` said will not block: `Some(0)` at end of file (or EIO, a
/// PTY's end), `None` when there was nothing after all.
fn read_some(r: &mut dyn Read, buf: &mut [u8]) -> Option<usize> {
    match r.read(buf) {
        Ok(n) => Some(n),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
            ) =>
        {
            None
        }
        Err(_) => Some(0),
    }
}

/// Writes what it can of `pending` without blocking. False when the command closed
/// its input (EPIPE): it gets no more, and the rest of its input is dropped, as ssh
/// does.
fn write_pending(w: &mut dyn Write, pending: &mut Pending) -> bool {
    match w.write(pending.rest()) {
        Ok(n) => {
            pending.advance(n);
            true
        }
        Err(e) => {
            let retry = matches!(
                e.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
            );
            if !retry {
                pending.clear();
            }
            retry
        }
    }
}
