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
//!   of at most [`MAX_CHUNK`] bytes and sent on at once, framed where they were read
//!   ([`crate::wire::ChunkBuf`]). Blocking on one pipe while the command blocks
//!   writing the other would deadlock; `poll` reads whichever is ready;
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
//!
//! [`MAX_CHUNK`]: socklab_proto::limits::MAX_CHUNK

use crate::ender::Ender;
use crate::limits::KILL_DRAIN;
use crate::link::SessionKeeper;
use crate::request::{is_stdin_frame, parse_inbound, Inbound};
use crate::server::ServerConn;
use crate::spawn::{set_nonblocking, spawn, spawn_waiter};
use crate::streams::{Pending, Sink, Streams, Watch};
use crate::tls::{readable_after_poll, tls_buffered};
use crate::wire::{ChunkBuf, ExitStatus};
use rustix::event::PollFlags;
use serde_json::{Map, Value};
use socklab_proto::{Error, Result};
use std::ffi::OsString;
use std::fs::File;
use std::os::fd::AsFd;
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
    let (mut io, mut ender) = start(job, keeper)?;
    let mut buf = ChunkBuf::new();
    let deadline = Instant::now() + job.timeout;
    let mut killed_at: Option<Instant> = None;
    loop {
        let drained = !io.outputs_open() || killed_at.is_some_and(|t| t.elapsed() > KILL_DRAIN);
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
        let want_frame = io.wants_frame();
        // Over TLS a frame may be decrypted and waiting already, which `poll` on the
        // socket would not see: then the poll only looks, and the frame is read.
        let buffered = want_frame && tls_buffered(conn.body()?)?;
        if buffered {
            wait = Duration::ZERO;
        }
        let peer = conn.get_ref().as_fd();
        for (watch, revents) in io.poll(ender.exit_fd(), peer, want_frame, buffered, wait)? {
            match watch {
                Watch::Out(which) => io.forward_output(which, &mut buf, conn)?,
                Watch::Master => io.on_master(revents, &mut buf, conn)?,
                Watch::Sink => io.on_sink_writable(),
                Watch::Exited => ender.exit_ready(job)?,
                Watch::Peer => {
                    if let Some(inbound) = read_inbound(conn, revents)? {
                        io.take(inbound)?;
                    }
                }
            }
        }
    }
    ender.finish(killed_at.is_some())
}

/// Starts `job`: on a PTY under a keeper of its own, on pipes under the session's
/// keeper (started now if there is none, or the last one died).
fn start<'s>(job: &Job<'_>, keeper: &'s mut Option<SessionKeeper>) -> Result<(Streams, Ender<'s>)> {
    match job.io {
        JobIo::Pty { .. } => {
            let (keeper, m) = spawn(job)?;
            let m = m.expect("a PTY job has a master");
            set_nonblocking(&m)?;
            let exited = Some(spawn_waiter(keeper.child.id())?);
            let io = Streams {
                stdout: None,
                stderr: None,
                master: Some(m),
                sink: Sink::Pty,
                pending: Pending::default(),
                client_eof: false,
            };
            Ok((io, Ender::Pty { keeper, exited }))
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
            let sink = match in_w {
                Some(w) => {
                    let w = File::from(w);
                    set_nonblocking(&w)?;
                    Sink::Pipe(w)
                }
                None => Sink::Closed,
            };
            let io = Streams {
                stdout: Some(File::from(out_r)),
                stderr: Some(File::from(err_r)),
                master: None,
                sink,
                pending: Pending::default(),
                // The client sends frames only when the command has an input.
                client_eof: !stdin,
            };
            let ender = Ender::Pipes {
                slot: keeper,
                status: None,
            };
            Ok((io, ender))
        }
    }
}

/// The client's next frame, once `poll` said its socket is ready (`None`: a TLS
/// record is only partly there yet). Its hang-up is the end of the command.
fn read_inbound(conn: &mut ServerConn, revents: PollFlags) -> Result<Option<Inbound>> {
    if revents.intersects(PollFlags::RDHUP | PollFlags::HUP | PollFlags::ERR) {
        // A client never half-closes while a command runs: it is gone.
        log::info!("client went away while a command ran; ending it");
        return Err(Error::UnexpectedEof("a command: the client disconnected"));
    }
    if !readable_after_poll(conn.body()?)? {
        return Ok(None);
    }
    let map: Map<String, Value> = conn
        .read_header()?
        .ok_or(Error::UnexpectedEof("a command: the client disconnected"))?;
    if !is_stdin_frame(&map) && !map.contains_key("op") {
        return Err(Error::bad_request("expected a stdin frame or a resize"));
    }
    parse_inbound(map, conn.body()?)
        .map(Some)
        .map_err(Error::under_deadline)
}
