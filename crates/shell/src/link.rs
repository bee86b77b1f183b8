//! The server's side of a session keeper ([`crate::session_keeper`]): one keeper per
//! logged-in session, started at its first `exec` and reused for every later one, so a
//! command costs what `sh -c` costs (one fork and exec), not a second start of this
//! binary as well.
//!
//! The server and its keeper talk over a `SOCK_SEQPACKET` Unix socket pair (the
//! keeper's stdin), one message per datagram:
//!
//! ```text
//! server -> keeper   'J' NFDS FIELD…  + SCM_RIGHTS [stdin,] stdout, stderr
//!                    each FIELD a u32 big-endian length and that many bytes:
//!                    argv0, program, cwd, number of args (decimal), args…, then
//!                    NAME, VALUE pairs: the command's whole environment
//! server -> keeper   'K'                     end the running command and its tree
//! keeper -> server   'X' i32                 the command exited with this code
//! keeper -> server   'S' i32                 a signal ended it
//! keeper -> server   'F' TEXT                it could not be started (why, in UTF-8)
//! ```
//!
//! The keeper answers each job exactly once, after it has killed and reaped whatever
//! the command left behind. The pipe ends travel as descriptors (`SCM_RIGHTS`), so
//! output goes straight from the command to the server, never through the keeper.
//! The end of the socket is the end of the session: the keeper kills its tree and
//! exits.

use crate::exec::Job;
use crate::limits::{KEEPER_GRACE, MAX_JOB_MESSAGE};
use crate::orphans;
use crate::session_keeper::SESSION_KEEPER_FLAG;
use nix::unistd::getpid;
use rustix::net::{
    recvmsg, sendmsg, socketpair, AddressFamily, RecvAncillaryBuffer, RecvFlags, ReturnFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};
use socklab_proto::{Error, Result};
use std::ffi::OsString;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server's own binary, which runs again as each session's keeper.
const SELF_EXE: &str = "/proc/self/exe";

/// How a command under a session keeper ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    Exited(i32),
    Signaled(i32),
    /// It never ran.
    Failed(String),
}

/// A running session keeper. Dropping it ends the keeper and everything below it,
/// and reaps it.
#[derive(Debug)]
pub(crate) struct SessionKeeper {
    child: Child,
    ctrl: Option<OwnedFd>,
}

impl SessionKeeper {
    /// Starts a keeper for one session.
    pub fn start() -> Result<SessionKeeper> {
        let (ours, theirs) = socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| Error::io("creating the keeper's socket", e.into()))?;
        let mut cmd = Command::new(SELF_EXE);
        cmd.arg(SESSION_KEEPER_FLAG)
            .arg(getpid().to_string())
            .env_clear()
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null());
        let child = orphans::register(|| {
            let child = cmd
                .spawn()
                .map_err(|e| Error::io("starting the session's keeper", e))?;
            let pid = child.id();
            Ok((child, pid))
        })?;
        Ok(SessionKeeper {
            child,
            ctrl: Some(ours),
        })
    }

    /// The socket the keeper's replies arrive on (readable, or at its end, when the
    /// command has ended or the keeper is gone).
    pub fn reply_fd(&self) -> BorrowedFd<'_> {
        self.ctrl.as_ref().expect("open until drop").as_fd()
    }

    /// Hands the keeper `job` with its standard streams (`stdin` absent: empty input).
    pub fn run(
        &self,
        job: &Job<'_>,
        stdin: Option<&OwnedFd>,
        stdout: &OwnedFd,
        stderr: &OwnedFd,
    ) -> Result<()> {
        let msg = encode_job(job, stdin.is_some())?;
        let mut fds: Vec<BorrowedFd<'_>> = Vec::with_capacity(3);
        fds.extend(stdin.map(|f| f.as_fd()));
        fds.push(stdout.as_fd());
        fds.push(stderr.as_fd());
        let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        control.push(SendAncillaryMessage::ScmRights(&fds));
        sendmsg(
            self.reply_fd(),
            &[IoSlice::new(&msg)],
            &mut control,
            SendFlags::NOSIGNAL,
        )
        .map_err(|e| Error::io("handing the command to its keeper", e.into()))?;
        Ok(())
    }

    /// Asks the keeper to end the running command and its tree; the reply follows.
    pub fn kill(&self) {
        let _ = rustix::net::send(self.reply_fd(), b"K", SendFlags::NOSIGNAL);
    }

    /// The keeper's reply, if one is waiting; `Err` when the keeper is gone (killed
    /// by its own command, say): then it has been reaped and whatever it left behind,
    /// re-parented to the server, has been killed.
    pub fn reply(&mut self) -> std::result::Result<Option<Reply>, KeeperGone> {
        let mut buf = [0u8; 1024];
        let got = rustix::net::recv(self.reply_fd(), &mut buf, RecvFlags::DONTWAIT);
        match got {
            Ok((0, _)) => {}
            Ok((n, _)) => return Ok(decode_reply(&buf[..n])),
            Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => return Ok(None),
            Err(_) => {}
        }
        self.end();
        orphans::sweep();
        Err(KeeperGone)
    }

    /// Closes the socket (the keeper's cue to kill its tree and exit) and reaps the
    /// keeper, killing it if it has not exited within [`KEEPER_GRACE`]. Its orphans, if
    /// it died without cleaning up, come to the server (a subreaper), and are swept.
    fn end(&mut self) {
        if self.ctrl.take().is_none() {
            return;
        }
        let until = Instant::now() + KEEPER_GRACE;
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        log::error!(
            "session keeper {} did not stop within {KEEPER_GRACE:?}; killing it",
            self.child.id()
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
        orphans::sweep();
    }
}

impl Drop for SessionKeeper {
    fn drop(&mut self) {
        self.end();
        orphans::unregister(self.child.id());
    }
}

/// The keeper vanished without replying.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeeperGone;

fn push_field(msg: &mut Vec<u8>, field: &[u8]) {
    msg.extend_from_slice(&(field.len() as u32).to_be_bytes());
    msg.extend_from_slice(field);
}

fn encode_job(job: &Job<'_>, stdin: bool) -> Result<Vec<u8>> {
    let mut msg = vec![b'J', if stdin { 3 } else { 2 }];
    push_field(&mut msg, job.argv0.as_bytes());
    push_field(&mut msg, job.program.as_bytes());
    push_field(&mut msg, job.cwd.as_os_str().as_bytes());
    push_field(&mut msg, job.args.len().to_string().as_bytes());
    for a in &job.args {
        push_field(&mut msg, a.as_bytes());
    }
    for (k, v) in &job.env {
        push_field(&mut msg, k.as_bytes());
        push_field(&mut msg, v.as_bytes());
    }
    if msg.len() > MAX_JOB_MESSAGE {
        return Err(Error::bad_request(format!(
            "the command and its environment are over {MAX_JOB_MESSAGE} bytes"
        )));
    }
    Ok(msg)
}

/// A job as the keeper receives it.
#[derive(Debug)]
pub(crate) struct JobSpec {
    pub argv0: OsString,
    pub program: OsString,
    pub cwd: OsString,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    /// Whether the first descriptor is the command's stdin.
    pub stdin: bool,
}

pub(crate) fn decode_job(msg: &[u8]) -> Option<JobSpec> {
    let (&kind, rest) = msg.split_first()?;
    let (&nfds, mut rest) = rest.split_first()?;
    if kind != b'J' || !(2..=3).contains(&nfds) {
        return None;
    }
    let mut fields = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        fields.push(OsString::from_vec(rest.get(4..4 + len)?.to_vec()));
        rest = &rest[4 + len..];
    }
    let mut it = fields.into_iter();
    let (argv0, program, cwd) = (it.next()?, it.next()?, it.next()?);
    let nargs: usize = it.next()?.to_str()?.parse().ok()?;
    let args: Vec<OsString> = it.by_ref().take(nargs).collect();
    let rest: Vec<OsString> = it.collect();
    if args.len() != nargs || !rest.len().is_multiple_of(2) {
        return None;
    }
    let env = rest
        .chunks(2)
        .map(|kv| (kv[0].clone(), kv[1].clone()))
        .collect();
    Some(JobSpec {
        argv0,
        program,
        cwd,
        args,
        env,
        stdin: nfds == 3,
    })
}

pub(crate) fn encode_reply(reply: &Reply) -> Vec<u8> {
    match reply {
        Reply::Exited(code) => [&b"X"[..], &code.to_be_bytes()].concat(),
        Reply::Signaled(sig) => [&b"S"[..], &sig.to_be_bytes()].concat(),
        Reply::Failed(why) => [b"F", why.as_bytes()].concat(),
    }
}

fn decode_reply(msg: &[u8]) -> Option<Reply> {
    let (&kind, rest) = msg.split_first()?;
    let num = || Some(i32::from_be_bytes(rest.try_into().ok()?));
    match kind {
        b'X' => Some(Reply::Exited(num()?)),
        b'S' => Some(Reply::Signaled(num()?)),
        b'F' => Some(Reply::Failed(String::from_utf8_lossy(rest).into_owned())),
        _ => None,
    }
}

/// Receives one message and the descriptors that came with it (close-on-exec).
/// `Ok(None)` at the end of the socket.
pub(crate) fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> std::io::Result<Option<(usize, Vec<OwnedFd>)>> {
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = loop {
        match recvmsg(
            sock,
            &mut [IoSliceMut::new(buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other?,
        }
    };
    let mut fds = Vec::new();
    for m in control.drain() {
        if let rustix::net::RecvAncillaryMessage::ScmRights(rights) = m {
            fds.extend(rights);
        }
    }
    if got.flags.contains(ReturnFlags::TRUNC) || got.flags.contains(ReturnFlags::CTRUNC) {
        return Err(std::io::Error::other("message over the keeper's limit"));
    }
    if got.bytes == 0 {
        return Ok(None);
    }
    Ok(Some((got.bytes, fds)))
}

/// Sends one reply to the server.
pub(crate) fn send_reply(sock: BorrowedFd<'_>, reply: &Reply) {
    let _ = rustix::net::send(sock, &encode_reply(reply), SendFlags::NOSIGNAL);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::JobIo;
    use std::ffi::OsStr;
    use std::path::Path;

    fn os(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    #[test]
    fn a_job_survives_its_encoding() {
        let job = Job {
            argv0: "sh".into(),
            program: "/bin/sh".into(),
            args: vec!["-c".into(), "echo 'a b'".into()],
            env: vec![("HOME".into(), "/root".into()), ("EMPTY".into(), "".into())],
            cwd: Path::new("/tmp/my dir"),
            timeout: Duration::from_secs(1),
            io: JobIo::Pipes { stdin: true },
        };
        let spec = decode_job(&encode_job(&job, true).unwrap()).unwrap();
        assert_eq!(spec.argv0, os("sh"));
        assert_eq!(spec.program, os("/bin/sh"));
        assert_eq!(spec.cwd, os("/tmp/my dir"));
        assert_eq!(spec.args, job.args);
        assert_eq!(spec.env, job.env);
        assert!(spec.stdin);
        assert!(decode_job(b"J\x02\x00\x00\x00\x09short").is_none());
    }

    #[test]
    fn replies_survive_their_encoding() {
        for r in [
            Reply::Exited(3),
            Reply::Signaled(9),
            Reply::Failed("no such directory".into()),
        ] {
            assert_eq!(decode_reply(&encode_reply(&r)), Some(r));
        }
    }
}
