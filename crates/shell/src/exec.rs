//! Running one command or login shell: a keeper process gives it a session of its own
//! (the session's keeper, [`crate::link`], for commands on pipes; a keeper of its own,
//! [`crate::keeper`], on a terminal); its output is streamed while it runs, the client's stdin (or
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
//! - the command's end: on pipes, the session keeper's reply on its socket (sent once
//!   everything the command started is dead); on a terminal, the keeper's exit, which
//!   a waiter thread blocked in `waitid(WEXITED | WNOWAIT)` turns into end of file on
//!   a socket the `poll` watches.
//!
//! Ending a command early: on a timeout the session keeper is told to kill the
//! command's tree (a terminal's keeper gets SIGTERM, and does the same, and exits);
//! when the job is abandoned (client gone, an error, a panic) dropping the keeper ends
//! it and everything below it, and the session's next command starts a new one.

use crate::limits::{KEEPER_GRACE, KILL_DRAIN};
use crate::link::{KeeperGone, Reply, SessionKeeper};
use crate::orphans;
use crate::request::{is_stdin_frame, parse_inbound, Inbound};
use crate::server::ServerConn;
use crate::spawn::Keeper;
use crate::spawn::{resize, set_nonblocking, spawn, spawn_waiter};
use crate::tls::{readable_after_poll, tls_buffered};
use crate::wire::{write_chunk, ExitStatus, StreamName};
use nix::sys::signal::Signal;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use serde_json::{Map, Value};
use socklab_proto::limits::MAX_CHUNK;
use socklab_proto::{Error, Result};
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
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

/// What ends the command and tells how it ended.
enum Ender<'s> {
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
    fn exit_fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Ender::Pty { exited, .. } => exited.as_ref().map(|f| f.as_fd()),
            Ender::Pipes { slot, status } => match (status, slot.as_ref()) {
                (None, Some(k)) => Some(k.reply_fd()),
                _ => None,
            },
        }
    }

    /// Called when [`Self::exit_fd`] is readable.
    fn exit_ready(&mut self, job: &Job<'_>) -> Result<()> {
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
    fn stop(&mut self) {
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
    fn finish(mut self, stopped: bool) -> Result<ExitStatus> {
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

/// Where input for the command goes.
enum Sink {
    /// Nowhere: no stdin, or the command closed it.
    Closed,
    Pipe(File),
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
pub(crate) fn run_job(
    job: &Job<'_>,
    conn: &mut ServerConn,
    keeper: &mut Option<SessionKeeper>,
) -> Result<ExitStatus> {
    let emit = |conn: &mut ServerConn, which: StreamName, data: &[u8]| {
        write_chunk(conn.body()?, which, data).map_err(Error::under_deadline)
    };
    let mut stdout: Option<File> = None;
    let mut stderr: Option<File> = None;
    let mut master: Option<File> = None;
    let mut sink = Sink::Closed;
    let mut ender = match job.io {
        JobIo::Pty { .. } => {
            let (keeper, m) = spawn(job)?;
            let m = m.expect("a PTY job has a master");
            set_nonblocking(&m)?;
            master = Some(m);
            sink = Sink::Pty;
            let exited = Some(spawn_waiter(keeper.child.id())?);
            Ender::Pty { keeper, exited }
        }
        JobIo::Pipes { stdin } => {
            let pipe = || {
                rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                    .map_err(|e| Error::io("creating a pipe", e.into()))
            };
            let (out_r, out_w) = pipe()?;
            let (err_r, err_w) = pipe()?;
            let (in_r, in_w) = match stdin {
                true => pipe().map(|(r, w)| (Some(r), Some(w)))?,
                false => (None, None),
            };
            if keeper.is_none() {
                *keeper = Some(SessionKeeper::start()?);
            }
            let k = keeper.as_ref().expect("started above");
            if let Err(e) = k.run(job, in_r.as_ref(), &out_w, &err_w) {
                *keeper = None;
                return Err(e);
            }
            // Only the command holds the other ends now: end of file when it is done.
            drop((in_r, out_w, err_w));
            stdout = Some(File::from(out_r));
            stderr = Some(File::from(err_r));
            if let Some(w) = in_w {
                let w = File::from(w);
                set_nonblocking(&w)?;
                sink = Sink::Pipe(w);
            }
            Ender::Pipes {
                slot: keeper,
                status: None,
            }
        }
    };
    // The client sends frames only when the command has an input.
    let mut client_eof = matches!(job.io, JobIo::Pipes { stdin: false });
    let mut pending: Vec<u8> = Vec::new();

    let mut buf = vec![0u8; MAX_CHUNK];
    let deadline = Instant::now() + job.timeout;
    let mut killed_at: Option<Instant> = None;
    loop {
        let outputs_open = stdout.is_some() || stderr.is_some() || master.is_some();
        let drained = !outputs_open || killed_at.is_some_and(|t| t.elapsed() > KILL_DRAIN);
        if ender.exit_fd().is_none() && drained {
            break;
        }
        if killed_at.is_none() && Instant::now() >= deadline {
            log::info!("command ran past {:?}; ending its session", job.timeout);
            ender.stop();
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
            if let Some(fd) = ender.exit_fd() {
                fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
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
                Watch::Exited => ender.exit_ready(job)?,
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
    let timed_out = killed_at.is_some();
    ender.finish(timed_out)
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
