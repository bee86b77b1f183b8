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

use crate::keeper::keeper_argv;
use crate::orphans;
use crate::request::{is_stdin_frame, parse_inbound, Inbound};
use crate::wire::{ExitStatus, StreamName};
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
use serde_json::{Map, Value};
use socklab_net::Connection;
use socklab_proto::limits::MAX_CHUNK;
use socklab_proto::{Error, Result};
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// After the keeper is gone, how long to wait for the output pipes to close. Only a
/// process that escaped the keeper could hold them; it must not hold the session.
const KILL_DRAIN: Duration = Duration::from_secs(2);

/// How long a keeper told to stop (SIGTERM) has to kill its tree and exit before it
/// is killed itself.
const KEEPER_GRACE: Duration = Duration::from_secs(1);

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

/// The running keeper. Dropping it before the command is over ends the command and
/// everything it started, and reaps the keeper: no orphan, no zombie.
#[derive(Debug)]
struct Keeper {
    child: Child,
    reaped: bool,
}

impl Keeper {
    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Whether the keeper, exited but not yet reaped, died of SIGKILL: the one way it
    /// ends without killing its tree first.
    fn killed(&self) -> bool {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | WaitPidFlag::WNOHANG;
        matches!(
            waitid(Id::Pid(self.pid()), flags),
            Ok(WaitStatus::Signaled(_, Signal::SIGKILL, _))
        )
    }

    /// SIGTERM (and SIGCONT, in case the command stopped it), then SIGKILL if the
    /// keeper has not finished its work within [`KEEPER_GRACE`].
    fn stop(&mut self) {
        let pid = self.pid();
        let _ = kill(pid, Signal::SIGTERM);
        let _ = kill(pid, Signal::SIGCONT);
        let until = Instant::now() + KEEPER_GRACE;
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                self.reaped = true;
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        log::error!("keeper {pid} did not stop within {KEEPER_GRACE:?}; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
        orphans::sweep();
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        if !self.reaped {
            self.stop();
            let _ = self.child.wait();
        }
        orphans::unregister(self.child.id());
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

/// Starts `job` under a keeper: pipes, or a new PTY whose master is returned.
fn spawn(job: &Job<'_>) -> Result<(Keeper, Option<File>)> {
    let exe = std::env::current_exe().map_err(|e| Error::io("finding shell-server itself", e))?;
    let mut cmd = Command::new(exe);
    cmd.args(keeper_argv(
        matches!(job.io, JobIo::Pty { .. }),
        &job.argv0,
        &job.program,
        &job.args,
    ))
    .env_clear()
    .envs(job.env.iter().map(|(k, v)| (k, v)))
    .current_dir(job.cwd);
    let master = match job.io {
        JobIo::Pipes { stdin } => {
            cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            None
        }
        JobIo::Pty { rows, cols } => {
            let (master, slave) = open_pty(rows, cols)?;
            let dup = |fd: &OwnedFd| {
                fd.try_clone()
                    .map_err(|e| Error::io("duplicating the terminal", e))
            };
            cmd.stdin(dup(&slave)?).stdout(dup(&slave)?).stderr(slave);
            Some(File::from(master))
        }
    };
    let child = orphans::register(|| {
        let child = cmd.spawn().map_err(|e| {
            Error::io(
                format!("cannot start a command in {}", job.cwd.display()),
                e,
            )
        })?;
        let pid = child.id();
        Ok((child, pid))
    })?;
    // `cmd` holds the PTY's slave side; dropping it leaves the keeper's copies the
    // only ones, so the master reads EIO once they are all closed.
    drop(cmd);
    Ok((
        Keeper {
            child,
            reaped: false,
        },
        master,
    ))
}

/// A new pseudo-terminal of `rows` x `cols`: `posix_openpt`, `grantpt`, `unlockpt`,
/// `ptsname`, `open`, `TIOCSWINSZ`. Returns (master, slave).
fn open_pty(rows: u16, cols: u16) -> Result<(OwnedFd, OwnedFd)> {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let io = |what: &'static str| move |e: rustix::io::Errno| Error::io(what, e.into());
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
        .map_err(io("posix_openpt"))?;
    grantpt(&master).map_err(io("grantpt"))?;
    unlockpt(&master).map_err(io("unlockpt"))?;
    let name = ptsname(&master, Vec::new()).map_err(io("ptsname"))?;
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(io("opening the terminal"))?;
    let master = File::from(master);
    resize(&master, rows, cols)?;
    Ok((master.into(), slave))
}

/// `TIOCSWINSZ`: the kernel sends SIGWINCH to the terminal's foreground group.
fn resize(master: &File, rows: u16, cols: u16) -> Result<()> {
    let size = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(master, size).map_err(|e| Error::io("resizing", e.into()))
}

fn set_nonblocking(fd: impl AsFd) -> Result<()> {
    let flags = fcntl_getfl(&fd).map_err(|e| Error::io("fcntl", e.into()))?;
    fcntl_setfl(&fd, flags | OFlags::NONBLOCK).map_err(|e| Error::io("fcntl", e.into()))
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

/// Runs `job`, calling `emit` with each chunk of output as it arrives; on a PTY all
/// output is `stdout`. `peer`, when given, is the client's connection: stdin frames
/// and `resize` are read from it, and its closing ends the command with
/// [`Error::UnexpectedEof`]. Returns how the command ended, once its output is drained.
pub(crate) fn run_job<F>(
    job: &Job<'_>,
    mut peer: Option<&mut Connection<TcpStream>>,
    mut emit: F,
) -> Result<ExitStatus>
where
    F: FnMut(StreamName, &[u8]) -> Result<()>,
{
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
        let wait = match killed_at {
            None => deadline.saturating_duration_since(Instant::now()),
            Some(t) => KILL_DRAIN.saturating_sub(t.elapsed()),
        };
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
            if let Some(conn) = &peer {
                // A new frame only once the last one is written: bounded buffering.
                let mut flags = PollFlags::RDHUP;
                if !client_eof && pending.is_empty() {
                    flags |= PollFlags::IN;
                }
                fds.push(PollFd::new(conn.get_ref(), flags));
                what.push(Watch::Peer);
            }
            let timeout = Timespec::try_from(wait).ok();
            match poll(&mut fds, timeout.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Error::io("poll", e.into())),
            }
            for (fd, w) in fds.iter().zip(&what) {
                if !fd.revents().is_empty() {
                    ready.push((*w, fd.revents()));
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
                        Some(n) => emit(which, &buf[..n])?,
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
                            Some(n) => emit(StreamName::Stdout, &buf[..n])?,
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
                    let conn = peer.as_mut().expect("polled peer is present");
                    if revents.intersects(PollFlags::RDHUP | PollFlags::HUP | PollFlags::ERR) {
                        // A client never half-closes while a command runs: it is gone.
                        log::info!("client went away while a command ran; ending it");
                        return Err(Error::UnexpectedEof("a command: the client disconnected"));
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

/// Starts a thread that blocks in `waitid(WEXITED | WNOWAIT)` until process `pid`
/// exits, then closes the write end of a pipe. Returns the read end: it becomes
/// readable (end of file) when the process has exited, still unreaped.
fn spawn_waiter(pid: u32) -> Result<OwnedFd> {
    let (exited, notify) =
        nix::unistd::pipe().map_err(|e| Error::io("creating the exit pipe", e.into()))?;
    std::thread::Builder::new()
        .name("waiter".into())
        .spawn(move || {
            let Ok(raw) = i32::try_from(pid) else { return };
            let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
            while let Err(Errno::EINTR) = waitid(Id::Pid(Pid::from_raw(raw)), flags) {}
            drop(notify);
        })
        .map_err(|e| Error::io("starting the waiter thread", e))?;
    Ok(exited)
}
