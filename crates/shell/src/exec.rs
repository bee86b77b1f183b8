//! Running one command or login shell: a keeper process ([`crate::keeper`]) gives it a
//! session of its own; its output is streamed while it runs, the client's stdin (or
//! keystrokes, on a PTY) is fed to it, it has a wall-clock limit, and nothing of it
//! survives the end.
//!
//! The tutorials called `os.popen(cmd).read()`: stdin inherited from the server,
//! stderr not captured, no exit code, no limit, the whole output held in memory. Here
//! the connection's thread waits with one `poll(2)` on everything that can happen:
//!
//! - output on the stdout and stderr pipes (or the PTY's master side), read in chunks
//!   of at most [`MAX_CHUNK`] bytes and sent on at once. Blocking on one pipe while the
//!   command blocks writing the other would deadlock; `poll` reads whichever is ready;
//! - the client's next stdin frame, but only when the previous one has been written to
//!   the command: a command that does not read leaves one chunk waiting here, and TCP's
//!   flow control holds the rest in the client (bounded buffering);
//! - the stdin pipe (or master) becoming writable, written without blocking;
//! - the client leaving: `POLLRDHUP` is asked for always, so a client that sent bytes
//!   and then closed is seen as well as one that just closed;
//! - the keeper's exit: a waiter thread blocks in `waitid(WEXITED | WNOWAIT)` and then
//!   closes a pipe the `poll` watches.
//!
//! Ending a command early (timeout, client gone, an error, a panic) is dropping its
//! [`Keeper`]: SIGTERM to the keeper, which kills its whole tree and exits.

use crate::limits::KILL_DRAIN;
use crate::orphans;
use crate::request::{is_stdin_frame, parse_inbound, Inbound};
use crate::server::ServerConn;
use crate::spawn::{resize, set_nonblocking, spawn, spawn_waiter};
use crate::tls::{readable_after_poll, tls_buffered};
use crate::wire::{write_chunk, ExitStatus, StreamName};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use serde_json::{Map, Value};
use socklab_proto::limits::MAX_CHUNK;
use socklab_proto::{Error, Result};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ChildStdin;
use std::time::{Duration, Instant};

/// What to run and how.
#[derive(Debug)]
pub(crate) struct Job<'a> {
    /// `argv[0]` (`-bash` for a login shell), the program, its arguments.
    pub argv0: OsString,
    pub program: OsString,
    pub args: Vec<OsString>,
    /// The whole environment ([`crate::env::command_env`]).
    pub env: Vec<(OsString, OsString)>,
    pub cwd: &'a Path,
    pub timeout: Duration,
    pub io: JobIo,
}

/// The command's standard streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobIo {
    /// Pipes; stdin from the client's stdin frames, else empty.
    Pipes { stdin: bool },
    /// A pseudo-terminal of this size; keystrokes arrive as stdin frames.
    Pty { rows: u16, cols: u16 },
}

impl Job<'_> {
    /// `/bin/sh -c CMD`.
    pub fn shell_command(cmd: &str) -> Result<(OsString, OsString, Vec<OsString>)> {
        if cmd.contains('\0') {
            return Err(Error::bad_request("a command cannot contain a NUL byte"));
        }
        Ok(("sh".into(), "/bin/sh".into(), vec!["-c".into(), cmd.into()]))
    }
}

/// Where input for the command goes.
enum Sink {
    /// Nowhere: no stdin, or the command closed it.
    Closed,
    Pipe(ChildStdin),
    /// The PTY master (the same descriptor the output comes from).
    Pty,
}

/// What one `poll` is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Watch {
    Out(StreamName),
    Master,
    Sink,
    Exited,
    Peer,
}

/// Runs `job`, sending each chunk of its output to the client on `conn` as it
/// arrives; on a PTY all output is `stdout`. Stdin frames and `resize` are read from
/// `conn` too, on this same thread (a TLS session has one state: one reader, one
/// writer), and the client's leaving ends the command with [`Error::UnexpectedEof`].
/// Returns how the command ended, once its output is drained.
pub(crate) fn run_job(job: &Job<'_>, conn: &mut ServerConn) -> Result<ExitStatus> {
    let emit = |conn: &mut ServerConn, which: StreamName, data: &[u8]| {
        write_chunk(conn.body()?, which, data).map_err(Error::under_deadline)
    };
    let (mut keeper, mut master) = spawn(job)?;
    let mut stdout = keeper.child.stdout.take();
    let mut stderr = keeper.child.stderr.take();
    let mut sink = match (keeper.child.stdin.take(), &master) {
        (Some(pipe), _) => {
            set_nonblocking(&pipe)?;
            Sink::Pipe(pipe)
        }
        (None, Some(m)) => {
            set_nonblocking(m)?;
            Sink::Pty
        }
        (None, None) => Sink::Closed,
    };
    // The client sends frames only when the command has an input.
    let mut client_eof = matches!(job.io, JobIo::Pipes { stdin: false });
    let mut pending: Vec<u8> = Vec::new();
    let mut exit_signal = Some(spawn_waiter(keeper.child.id())?);

    let mut buf = vec![0u8; MAX_CHUNK];
    let deadline = Instant::now() + job.timeout;
    let mut killed_at: Option<Instant> = None;
    loop {
        let outputs_open = stdout.is_some() || stderr.is_some() || master.is_some();
        let drained = !outputs_open || killed_at.is_some_and(|t| t.elapsed() > KILL_DRAIN);
        if exit_signal.is_none() && drained {
            break;
        }
        if killed_at.is_none() && Instant::now() >= deadline {
            log::info!("command ran past {:?}; ending its session", job.timeout);
            keeper.stop();
            killed_at = Some(Instant::now());
        }
        let mut wait = match killed_at {
            None => deadline.saturating_duration_since(Instant::now()),
            Some(t) => KILL_DRAIN.saturating_sub(t.elapsed()),
        };
        // A new frame only once the last one is written: bounded buffering.
        let want_frame = !client_eof && pending.is_empty();
        // Over TLS a frame may be decrypted and waiting already, which `poll` on the
        // socket would not see: then the poll only looks, and the frame is read.
        let buffered = want_frame && tls_buffered(conn.body()?)?;
        if buffered {
            wait = Duration::ZERO;
        }
        let mut ready: Vec<(Watch, PollFlags)> = Vec::with_capacity(6);
        {
            let mut fds = Vec::with_capacity(6);
            let mut what = Vec::with_capacity(6);
            if let Some(p) = &stdout {
                fds.push(PollFd::new(p, PollFlags::IN));
                what.push(Watch::Out(StreamName::Stdout));
            }
            if let Some(p) = &stderr {
                fds.push(PollFd::new(p, PollFlags::IN));
                what.push(Watch::Out(StreamName::Stderr));
            }
            if let Some(m) = &master {
                let mut flags = PollFlags::IN;
                if !pending.is_empty() && matches!(sink, Sink::Pty) {
                    flags |= PollFlags::OUT;
                }
                fds.push(PollFd::new(m, flags));
                what.push(Watch::Master);
            }
            if let (Sink::Pipe(p), false) = (&sink, pending.is_empty()) {
                fds.push(PollFd::new(p, PollFlags::OUT));
                what.push(Watch::Sink);
            }
            if let Some(fd) = &exit_signal {
                fds.push(PollFd::new(fd, PollFlags::IN));
                what.push(Watch::Exited);
            }
            let mut flags = PollFlags::RDHUP;
            if want_frame {
                flags |= PollFlags::IN;
            }
            fds.push(PollFd::new(conn.get_ref(), flags));
            what.push(Watch::Peer);
            let timeout = Timespec::try_from(wait).ok();
            match poll(&mut fds, timeout.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Error::io("poll", e.into())),
            }
            for (fd, w) in fds.iter().zip(&what) {
                let mut revents = fd.revents();
                if *w == Watch::Peer && buffered {
                    revents |= PollFlags::IN;
                }
                if !revents.is_empty() {
                    ready.push((*w, revents));
                }
            }
        }
        for (watch, revents) in ready {
            match watch {
                Watch::Out(which) => {
                    let pipe: &mut dyn Read = match which {
                        StreamName::Stdout => stdout.as_mut().map(|p| p as &mut dyn Read),
                        StreamName::Stderr => stderr.as_mut().map(|p| p as &mut dyn Read),
                    }
                    .expect("polled pipes are open");
                    match read_some(pipe, &mut buf) {
                        Some(0) => match which {
                            StreamName::Stdout => stdout = None,
                            StreamName::Stderr => stderr = None,
                        },
                        Some(n) => emit(conn, which, &buf[..n])?,
                        None => {}
                    }
                }
                Watch::Master => {
                    let mut m = master.as_ref().expect("polled master is open");
                    if revents.contains(PollFlags::OUT) && !write_pending(&mut m, &mut pending) {
                        sink = Sink::Closed;
                    }
                    if revents.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
                        // EIO once every slave descriptor is closed: the end of output.
                        match read_some(&mut m, &mut buf) {
                            Some(0) => master = None,
                            Some(n) => emit(conn, StreamName::Stdout, &buf[..n])?,
                            None => {}
                        }
                    }
                }
                Watch::Sink => {
                    if let Sink::Pipe(p) = &sink {
                        let mut p = p;
                        if !write_pending(&mut p, &mut pending) {
                            sink = Sink::Closed;
                        }
                    }
                    if pending.is_empty() && client_eof && matches!(sink, Sink::Pipe(_)) {
                        sink = Sink::Closed;
                    }
                }
                Watch::Exited => {
                    exit_signal = None;
                    // A keeper that ends normally left nothing behind. One killed by
                    // SIGKILL (by its own command, say) could not clean up: its
                    // orphans are the server's now.
                    if keeper.killed() {
                        orphans::sweep();
                    }
                }
                Watch::Peer => {
                    if revents.intersects(PollFlags::RDHUP | PollFlags::HUP | PollFlags::ERR) {
                        // A client never half-closes while a command runs: it is gone.
                        log::info!("client went away while a command ran; ending it");
                        return Err(Error::UnexpectedEof("a command: the client disconnected"));
                    }
                    // Over TLS a readable socket may hold part of a record: wait on.
                    if !readable_after_poll(conn.body()?)? {
                        continue;
                    }
                    let map: Map<String, Value> = conn
                        .read_header()?
                        .ok_or(Error::UnexpectedEof("a command: the client disconnected"))?;
                    if !is_stdin_frame(&map) && !map.contains_key("op") {
                        return Err(Error::bad_request("expected a stdin frame or a resize"));
                    }
                    let inbound =
                        parse_inbound(map, conn.body()?).map_err(Error::under_deadline)?;
                    match inbound {
                        Inbound::Stdin(data) if data.is_empty() => {
                            client_eof = true;
                            if matches!(sink, Sink::Pipe(_)) && pending.is_empty() {
                                sink = Sink::Closed;
                            }
                        }
                        Inbound::Stdin(data) => {
                            if !matches!(sink, Sink::Closed) {
                                pending = data;
                            }
                        }
                        Inbound::Resize { rows, cols } => match &master {
                            Some(m) => resize(m, rows, cols)?,
                            None => {
                                return Err(Error::bad_request(
                                    "resize: this command has no terminal",
                                ))
                            }
                        },
                    }
                }
            }
        }
    }
    let status = keeper
        .child
        .wait()
        .map_err(|e| Error::io("waiting for the command", e))?;
    keeper.reaped = true;
    let timed_out = killed_at.is_some() && status.signal().is_some();
    Ok(ExitStatus {
        exit: status.code(),
        signal: status.signal(),
        timed_out,
        cwd: None,
    })
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
fn write_pending(w: &mut dyn Write, pending: &mut Vec<u8>) -> bool {
    match w.write(pending) {
        Ok(n) => {
            pending.drain(..n);
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
