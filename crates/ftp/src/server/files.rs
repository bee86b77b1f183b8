//! The two requests that move a file's bytes, `get` and `put`.

use super::{reply_error, Conn, Shared};
use crate::limits::{MAX_EAGER_PUT, REFUSED_LINGER, REFUSED_LINGER_BYTES};
use crate::paths::validate_path;
use crate::store::Upload;
use crate::transfer::INLINE_MAX;
use crate::transfer::{copy_hashed, send_hashed, Sink};
use crate::wire::{GetReply, PutDone, PutReady, Trailer};
use socklab_net::accept::FramedStream;
use socklab_proto::checksum::Md5;
use socklab_proto::checksum::{finish_hex, hash_prefix};
use socklab_proto::names::escape;
use socklab_proto::{Error, ErrorCode, Result};
use std::io::{Read, Write};
use std::time::Instant;

/// `get`: the header, the bytes from `offset`, and the whole file's md5 in a trailer.
/// A resume (`offset` > 0) that says what it holds (`md5`) is checked first: the
/// prefix is hashed and compared before a byte more is sent.
pub(super) fn get(
    conn: &mut Conn,
    peer: &str,
    shared: &Shared,
    path: &str,
    offset: u64,
    held_md5: Option<&str>,
) -> Result<()> {
    let (mut file, size) = match shared.root.open_read(path) {
        Ok(pair) => pair,
        Err(e) => return reply_error(conn, peer, &e),
    };
    if offset > size {
        let msg = format!(
            "offset {offset} is past the end of {} ({size} bytes)",
            escape(path)
        );
        return conn.send_failure(ErrorCode::BadRequest, &msg);
    }
    let prefix = match held_md5 {
        Some(theirs) if offset > 0 => {
            let hasher = hash_prefix(&mut file, offset)
                .map_err(|e| Error::io(format!("reading {}", escape(path)), e))?;
            let ours = finish_hex(hasher.clone());
            if !ours.eq_ignore_ascii_case(theirs) {
                let msg = format!(
                    "the first {offset} bytes of {} changed on the server since the \
                     interrupted transfer; download it again without --resume",
                    escape(path)
                );
                return conn.send_failure(ErrorCode::ChecksumMismatch, &msg);
            }
            Some(hasher)
        }
        _ => None,
    };
    let reply = GetReply {
        name: path.to_owned(),
        size,
    };
    if size - offset <= INLINE_MAX {
        return get_small(conn, peer, &file, &reply, offset, prefix);
    }
    conn.send_ok(&reply)?;
    // The trailer's md5 covers the whole file, so the part the client already holds
    // is hashed too (read from disk, not sent), on the hashing thread while the rest
    // is sent. If the file shrinks under us we cannot send `size` bytes: the send
    // fails and we hang up, and the client's length check catches it.
    let sink = match conn.body()? {
        FramedStream::Plain(socket) => Sink::Socket(socket),
        FramedStream::Tls(tls) => Sink::Stream(tls),
    };
    let hasher = send_hashed(&file, sink, (offset, size), prefix, |_| {}, "the file")
        .map_err(Error::under_deadline)?;
    let md5 = finish_hex(hasher);
    conn.send(&Trailer { md5: md5.clone() })?;
    log::info!(
        "{peer}: sent {} ({size} bytes from {offset}, md5 {md5})",
        escape(path)
    );
    Ok(())
}

/// A small `get` in one write: header, body and trailer together, so a tree of
/// small files costs one segment and one wake-up of the client per file, not three.
fn get_small(
    conn: &mut Conn,
    peer: &str,
    file: &std::fs::File,
    reply: &GetReply,
    offset: u64,
    prefix: Option<Md5>,
) -> Result<()> {
    use md5::Digest;
    use std::os::unix::fs::FileExt;
    let shown = escape(&reply.name);
    let read_error = |e| Error::io(format!("reading {shown}"), e);
    let mut hasher = match prefix {
        Some(h) => h,
        None => hash_prefix(file, offset).map_err(read_error)?,
    };
    let mut message = Vec::new();
    socklab_proto::msg::write_ok(&mut message, reply)?;
    let start = message.len();
    message.resize(start + usize::try_from(reply.size - offset).unwrap_or(0), 0);
    // A file that shrank under us fails here, before anything is sent: the client
    // is told, and the session goes on.
    if let Err(e) = file.read_exact_at(&mut message[start..], offset) {
        return reply_error(conn, peer, &read_error(e));
    }
    hasher.update(&message[start..]);
    let md5 = finish_hex(hasher);
    socklab_proto::msg::write_header(&mut message, &Trailer { md5: md5.clone() })?;
    let stream = conn.body()?;
    stream
        .write_all(&message)
        .and_then(|()| stream.flush())
        .map_err(|e| Error::io("sending a file", e).under_deadline())?;
    log::info!(
        "{peer}: sent {shown} ({} bytes from {offset}, md5 {md5})",
        reply.size
    );
    Ok(())
}

/// What a `put` asks for.
#[derive(Debug)]
pub(super) struct Put<'a> {
    pub(super) user: &'a str,
    pub(super) path: &'a str,
    pub(super) size: u64,
    pub(super) resume: bool,
    pub(super) overwrite: bool,
    pub(super) mtime: Option<u64>,
    /// The body follows the request without waiting for a ready reply.
    pub(super) eager: bool,
}

/// What the session does after a put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(super) enum After {
    /// Read the next request: the stream is in step.
    Continue,
    /// Hang up: a refused put's body may be on its way, and must never be read as
    /// requests.
    Close,
}

/// Answers a put refused before its body with `e`, leaving the stream in step:
///
/// - an eager put's body is on its way by definition: read and thrown away (at most
///   [`MAX_EAGER_PUT`] bytes, each read within the stall deadline), with its
///   trailer, then the refusal is sent and the session goes on;
/// - a put that waits for `ready` has no body in flight from a client that keeps the
///   protocol, but a pipelining one may have sent it anyway: the refusal is sent and
///   the connection closed, so that body is never parsed as requests.
pub(super) fn refuse_put(conn: &mut Conn, peer: &str, want: &Put<'_>, e: &Error) -> Result<After> {
    if want.eager && want.size <= MAX_EAGER_PUT {
        discard(conn, want.size)?;
        return match conn.read_header::<Trailer>() {
            Ok(Some(_)) => reply_error(conn, peer, e).map(|()| After::Continue),
            Ok(None) => Err(Error::UnexpectedEof("the trailer")),
            Err(bad) if bad.is_disconnect() => Err(bad),
            Err(bad) => {
                let bad = Error::BadHeader(format!(
                    "expected the md5 trailer after {} body bytes: {bad}",
                    want.size
                ));
                let _ = conn.send_error(&bad);
                Err(bad)
            }
        };
    }
    reply_error(conn, peer, e)?;
    linger(conn);
    Ok(After::Close)
}

/// Reads and throws away `len` body bytes.
fn discard(conn: &mut Conn, len: u64) -> Result<()> {
    let mut body = conn.body()?.take(len);
    let copied = std::io::copy(&mut body, &mut std::io::sink())
        .map_err(|e| Error::io("reading a refused body", e).under_deadline())?;
    if copied < len {
        return Err(Error::UnexpectedEof("a refused body"));
    }
    Ok(())
}

/// Before hanging up on a refused put: stop sending, then read and throw away what
/// the client still sends, for at most [`REFUSED_LINGER`] and
/// [`REFUSED_LINGER_BYTES`], so the refusal reaches it before the close (a close
/// with unread bytes sends a reset, which can destroy the reply in flight).
fn linger(conn: &mut Conn) {
    let _ = conn.body().map(|s| s.close());
    let socket = socket2::SockRef::from(conn.get_ref());
    let _ = socket.shutdown(std::net::Shutdown::Write);
    let until = Instant::now() + REFUSED_LINGER;
    let mut left = REFUSED_LINGER_BYTES;
    let mut buf = [0u8; 16 * 1024];
    while left > 0 {
        let wait = until.saturating_duration_since(Instant::now());
        if wait.is_zero() || socket.set_read_timeout(Some(wait)).is_err() {
            break;
        }
        match std::io::Read::read(&mut &*socket, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n as u64),
        }
    }
}

/// `put`: claim the path, tell the client where to start (and, resuming, the md5 of
/// what is held), stream the body into the partial file while hashing it, check the
/// trailer, then publish atomically. An eager put skips the ready reply: its body is
/// already on the way.
pub(super) fn put(conn: &mut Conn, peer: &str, shared: &Shared, want: &Put<'_>) -> Result<After> {
    let root = &shared.root;
    let max = shared.config.max_file_size;
    let (name, size, overwrite) = (want.path, want.size, want.overwrite);
    let checks = validate_path(name)
        .and_then(|()| {
            if size > max {
                Err(Error::refused(
                    ErrorCode::TooLarge,
                    format!("{size} bytes is over this server's limit of {max} bytes"),
                ))
            } else if want.eager && (want.resume || size > MAX_EAGER_PUT) {
                Err(Error::BadHeader(format!(
                    "an eager put starts at byte 0 and holds at most {MAX_EAGER_PUT} bytes"
                )))
            } else {
                Ok(())
            }
        })
        .and_then(|()| root.claim(name));
    let claim = match checks {
        Ok(claim) => claim,
        Err(e) => return refuse_put(conn, peer, want, &e),
    };
    let mut upload =
        match root.begin_upload(want.user, name, size, (want.resume, overwrite), !want.eager) {
            Ok(u) => u,
            Err(e) => {
                // Released before the body is thrown away (or the linger before a
                // hang-up): nobody else waits on a refused put.
                drop(claim);
                return refuse_put(conn, peer, want, &e);
            }
        };
    let offset = upload.offset;
    if offset > 0 {
        log::info!(
            "{peer}: resuming {} at byte {offset} of {size}",
            escape(name)
        );
    }
    if !want.eager {
        let md5 = (offset > 0).then(|| finish_hex(upload.hasher.clone()));
        conn.send_ok(&PutReady { offset, md5 })?;
    }

    let body = copy_hashed(
        conn.body()?,
        &mut upload.file,
        size - offset,
        upload.hasher.clone(),
        |_| {},
        "the upload body",
    )
    .map_err(Error::under_deadline);
    let md5 = match body {
        Ok(hasher) => finish_hex(hasher),
        Err(e) => {
            // A disconnect, a stall or a full disk: keep what arrived for a resume.
            keep_partial(upload, peer, name, size, want.eager);
            if !e.is_disconnect() {
                let _ = conn.send_error(&e);
            } else if matches!(e, Error::Timeout(_)) {
                let _ = conn.send_failure(
                    ErrorCode::Timeout,
                    "the upload stalled; closing (resume it with --resume)",
                );
            }
            return Err(e);
        }
    };
    let trailer = match conn.read_header::<Trailer>() {
        Ok(Some(t)) => t,
        Ok(None) => {
            keep_partial(upload, peer, name, size, want.eager);
            return Err(Error::UnexpectedEof("the trailer"));
        }
        Err(e) if e.is_disconnect() => {
            keep_partial(upload, peer, name, size, want.eager);
            return Err(e);
        }
        Err(e) => {
            // Not a trailer where one must be: the body was longer than announced
            // (or garbage). Nothing of it can be trusted.
            upload.discard();
            let e = Error::BadHeader(format!(
                "expected the md5 trailer after {size} body bytes: {e}"
            ));
            let _ = conn.send_error(&e);
            return Err(e);
        }
    };
    if !trailer.md5.eq_ignore_ascii_case(&md5) {
        upload.discard();
        let e = Error::ChecksumMismatch {
            expected: trailer.md5,
            actual: md5,
        };
        log::warn!("{peer}: put {}: {e}; nothing stored", escape(name));
        return conn.send_error(&e).map(|()| After::Continue);
    }
    let done = match upload.commit(overwrite, want.mtime, !want.eager) {
        Ok(()) => {
            log::info!("{peer}: stored {} ({size} bytes, md5 {md5})", escape(name));
            conn.send_ok(&PutDone {
                name: name.to_owned(),
                size,
                md5,
            })
        }
        Err(e) => reply_error(conn, peer, &e),
    };
    drop(claim);
    done.map(|()| After::Continue)
}

/// Keeps what arrived of an upload that stopped short, for a later `put --resume`, and
/// logs how much that is; an eager one is deleted.
fn keep_partial(upload: Upload, peer: &str, name: &str, size: u64, eager: bool) {
    if eager {
        // An eager put never resumes (its client sends it whole again).
        upload.discard();
        return;
    }
    let held = upload.keep();
    log::info!(
        "{peer}: kept partial upload of {} ({held} of {size} bytes) for --resume",
        escape(name)
    );
}
