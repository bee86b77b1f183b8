//! `--splice`: zero-copy echo. The bytes go socket → pipe → socket with `splice(2)`,
//! so they never enter this process: no buffer to fill, no copy into user space and
//! back out, two system calls per chunk just as `read` + `write` are.
//!
//! `splice` moves data between a pipe and another descriptor inside the kernel; it
//! needs a pipe on one side, so each connection gets its own pipe (two descriptors,
//! about 64 KiB of kernel memory, none of it this process's). `--upper` cannot work
//! this way (it must see the bytes to change them), nor can TLS (the bytes on the
//! socket are ciphertext): `launch` refuses those combinations.
//!
//! The file server's `get` is the other zero-copy call of the project: `sendfile(2)`
//! moves a file's pages to a socket (docs/lessons/01-tcp-echo.md, "Zero copy").

use crate::server::Count;
use nix::errno::Errno;
use nix::fcntl::{fcntl, splice, FcntlArg, SpliceFFlags};
use socklab_proto::{Error, Result};
use std::os::fd::{AsFd, AsRawFd};

/// A pipe's capacity on Linux unless changed: 16 pages.
const DEFAULT_PIPE_SIZE: usize = 64 * 1024;

/// The capacity asked for each connection's pipe, and so the most one `splice` takes
/// from the socket: the pipe, drained after every chunk, never makes that call wait.
/// Kernel memory, not this process's; a kernel that refuses it (over
/// /proc/sys/fs/pipe-max-size for an unprivileged user) leaves the default 64 KiB.
const PIPE_SIZE: usize = 256 * 1024;

/// Echoes `stream` back to itself through a pipe until the client closes its side.
/// The socket's SO_RCVTIMEO and SO_SNDTIMEO (set by the caller) bound both calls, as
/// they bound `read` and `write`.
pub(crate) fn echo<S: AsFd>(stream: &S, count: &mut Count) -> Result<()> {
    // The server runs no programs, so the pipe's ends need no close-on-exec.
    let (pipe_out, pipe_in) =
        nix::unistd::pipe().map_err(|e| Error::io("making a pipe", e.into()))?;
    let sock = stream.as_fd();
    // The capacity the pipe really has: what F_SETPIPE_SZ granted, else the default.
    let chunk = fcntl(
        pipe_in.as_raw_fd(),
        FcntlArg::F_SETPIPE_SZ(PIPE_SIZE as i32),
    )
    .ok()
    .and_then(|granted| usize::try_from(granted).ok())
    .unwrap_or(DEFAULT_PIPE_SIZE);
    loop {
        // Socket → pipe: up to `chunk` of whatever has arrived; 0 means the client closed.
        let n = match splice(
            sock,
            None,
            &pipe_in,
            None,
            chunk,
            SpliceFFlags::SPLICE_F_MOVE,
        ) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::io("splicing from the socket", e.into()).under_deadline()),
        };
        count.r#in += n as u64;
        // Pipe → socket: all of it, before the next read, so the pipe is empty again.
        let mut left = n;
        while left > 0 {
            match splice(
                &pipe_out,
                None,
                sock,
                None,
                left,
                SpliceFFlags::SPLICE_F_MOVE,
            ) {
                Ok(0) => {
                    return Err(Error::io(
                        "splicing to the socket",
                        std::io::ErrorKind::WriteZero.into(),
                    ))
                }
                Ok(m) => left -= m,
                Err(Errno::EINTR) => {}
                Err(e) => {
                    return Err(Error::io("splicing to the socket", e.into()).under_deadline())
                }
            }
        }
        count.out += n as u64;
    }
}
