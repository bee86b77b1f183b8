//! Moving a file's bytes while hashing them, on two threads.
//!
//! md5 is sequential and keeps a core busy, so a loop that reads, writes and hashes on
//! one thread takes the time of the hashing plus the time of the copying. Both engines
//! here put the hash on a second thread, so that the two overlap:
//!
//! - [`copy_hashed`] (a receiving end, and a sender whose source is not a file): the
//!   calling thread reads into a buffer and writes it out, and a hashing thread takes
//!   each buffer once it is written; a small fixed pool of buffers goes round between
//!   them;
//! - [`send_file_hashed`] (a sender whose source is a file): the kernel sends straight
//!   from the page cache with `sendfile(2)`, and the hashing thread reads the file on
//!   its own, kept a bounded distance ahead of the sending.
//!
//! A body of at most [`INLINE_MAX`] bytes is moved and hashed on the calling thread
//! instead (`copy_inline`, `send_inline`): a tree of small files would otherwise pay
//! a thread and a pool of buffers per file, far more than the hash they overlap.
//!
//! Memory per transfer is the same for a kilobyte or a terabyte. How fast each runs,
//! against md5sum and the tools users would reach for, is in docs/benchmarks.md.

mod copy;
mod sendfile;

pub(crate) use copy::copy_hashed;
use sendfile::{send_file_hashed, send_rest_hashed};

use md5::Digest;
use socklab_proto::checksum::{hash_prefix, Md5};
use socklab_proto::{Error, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::os::unix::fs::FileExt;

/// The largest body moved and hashed on one thread, in one buffer of at most this
/// size: below it, starting a hashing thread costs more than the hashing it would
/// overlap.
pub(crate) const INLINE_MAX: u64 = 256 * 1024;

/// Where a sender's file bytes go.
///
/// `sendfile(2)` hands the page cache to a socket, so it can only serve a plain
/// connection: over TLS every byte must be encrypted by the TLS stream in user space,
/// so there the file is read into buffers and written through the stream
/// ([`copy_hashed`]). The caller knows which it holds (the `MaybeTls` variant) and
/// says so here; a plain enum keeps the choice in one visible `match`.
pub(crate) enum Sink<'a, W> {
    /// A plain TCP socket: `sendfile(2)`.
    Socket(&'a TcpStream),
    /// Anything else that writes (a TLS session): the copy engine.
    Stream(&'a mut W),
}

/// Sends bytes `offset..size` of `file` into `sink` and returns the md5 of bytes
/// `0..size`, as [`send_file_hashed`] does (`prefix`: the md5 of `0..offset`, when
/// the caller has already hashed it, as [`send_rest_hashed`] takes it).
pub(crate) fn send_hashed<W: Write>(
    file: &File,
    sink: Sink<'_, W>,
    (offset, size): (u64, u64),
    prefix: Option<Md5>,
    progress: impl FnMut(u64),
    what: &'static str,
) -> Result<Md5> {
    if offset > size {
        return Err(Error::Other(format!(
            "asked to send from {offset}, past the end ({size} bytes)"
        )));
    }
    if size - offset <= INLINE_MAX {
        return send_inline(file, sink, (offset, size), prefix, progress, what);
    }
    let stream = match sink {
        Sink::Socket(socket) => {
            return match prefix {
                Some(h) => send_rest_hashed(file, socket, offset, size, h, progress, what),
                None => send_file_hashed(file, socket, offset, size, progress, what),
            }
        }
        Sink::Stream(stream) => stream,
    };
    let mut reader = file;
    let read_error = |e| Error::io(format!("reading {what}"), e);
    let hasher = match prefix {
        Some(h) => {
            reader.seek(SeekFrom::Start(offset)).map_err(read_error)?;
            h
        }
        // The trailer covers the whole file: hash the prefix the peer holds first,
        // which also leaves the file positioned at `offset`.
        None => {
            reader.seek(SeekFrom::Start(0)).map_err(read_error)?;
            hash_prefix(&mut reader, offset).map_err(read_error)?
        }
    };
    let mut body = reader.take(size - offset);
    let hasher = copy_hashed(&mut body, stream, size - offset, hasher, progress, what)?;
    stream
        .flush()
        .map_err(|e| Error::io(format!("sending {what}"), e))?;
    Ok(hasher)
}

/// [`send_hashed`] of a small body: read with `pread`, hashed, and written in one
/// `write_all` on the calling thread.
fn send_inline<W: Write>(
    file: &File,
    sink: Sink<'_, W>,
    (offset, size): (u64, u64),
    prefix: Option<Md5>,
    mut progress: impl FnMut(u64),
    what: &'static str,
) -> Result<Md5> {
    let read_error = |e| Error::io(format!("reading {what}"), e);
    let mut hasher = match prefix {
        Some(h) => h,
        None => {
            let mut reader = file;
            reader.seek(SeekFrom::Start(0)).map_err(read_error)?;
            hash_prefix(&mut reader, offset).map_err(read_error)?
        }
    };
    let len = usize::try_from(size - offset).unwrap_or(usize::MAX);
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::UnexpectedEof(what)
        } else {
            read_error(e)
        }
    })?;
    hasher.update(&buf);
    let write_error = |e| Error::io(format!("sending {what}"), e);
    match sink {
        Sink::Socket(mut socket) => socket.write_all(&buf).map_err(write_error)?,
        Sink::Stream(stream) => {
            stream.write_all(&buf).map_err(write_error)?;
            stream.flush().map_err(write_error)?;
        }
    }
    progress(len as u64);
    Ok(hasher)
}
