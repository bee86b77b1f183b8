//! [`copy_hashed`]: copy through a pool of buffers while a second thread hashes them.

use md5::Digest;
use socklab_proto::checksum::Md5;
use socklab_proto::{Error, Result};
use std::io::{self, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::thread;

/// How many buffers [`copy_hashed`] keeps in flight between its two threads. Two
/// would already let copying and hashing overlap; a few more absorb the jitter of
/// socket reads that return unevenly, without letting memory grow with the file.
pub(crate) const PIPELINE_BUFFERS: usize = 4;

/// The size of each of those buffers (and of the one `send_file_hashed` hashes
/// through). Bigger than `socklab_net::limits::IO_BUFFER` because each buffer costs
/// two hand-overs between threads, and a hand-over that wakes a sleeping core is
/// slow: the fewer the hand-overs per byte, the less the threads wait on each other.
/// [`PIPELINE_BUFFERS`] of them are a transfer's whole memory, whatever the file
/// size, of the order of what the kernel may already buffer for the socket.
pub(crate) const PIPELINE_BUFFER: usize = 1024 * 1024;

/// Copies exactly `len` bytes from `reader` to `writer` and hashes them, continuing
/// `hasher` (`Md5::default()` for a fresh hash, or the state of a prefix a resume
/// already holds, from `socklab_proto::checksum::hash_prefix`).
/// Returns the hasher, which now covers those bytes too. `progress` is called with
/// the size of each chunk once it has been written. A reader that ends early is
/// [`Error::UnexpectedEof`]`(what)`: the caller decides what to keep of what was written.
///
/// Two threads share the work as a pipeline: the calling thread moves the bytes (its reader and
/// writer never leave it), a helper thread hashes each buffer once it has been
/// written, and while it does the calling thread is already filling the next one.
/// A small fixed pool of [`PIPELINE_BUFFERS`] buffers of [`PIPELINE_BUFFER`] bytes
/// goes round between them over two bounded channels, so nothing is allocated per
/// chunk and memory stays the same for a kilobyte or a terabyte.
///
/// The hash covers exactly the bytes that were written, in order: a buffer goes to
/// the hashing thread only after `write_all` has accepted all of it.
///
/// The second thread pays off when its end of the transfer has a core to spare, as
/// a client and a server on different machines each do. It adds no work, only
/// overlap: when every core is already busy (both ends on one machine, both hashing)
/// there is nothing for it to overlap with.
pub(crate) fn copy_hashed<R: Read, W: Write>(
    reader: &mut R,
    writer: &mut W,
    len: u64,
    hasher: Md5,
    progress: impl FnMut(u64),
    what: &'static str,
) -> Result<Md5> {
    if len <= super::INLINE_MAX {
        return copy_inline(reader, writer, len, hasher, progress, what);
    }
    thread::scope(|scope| {
        // Full buffers travel to the hasher with the number of bytes they hold; empty
        // ones come back to be filled again. Each channel can hold the whole pool,
        // so neither side ever blocks on a send.
        let (full_tx, full_rx) = sync_channel::<(Vec<u8>, usize)>(PIPELINE_BUFFERS);
        let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(PIPELINE_BUFFERS);
        let hashing = thread::Builder::new()
            .name("md5".into())
            .spawn_scoped(scope, move || hash_buffers(hasher, full_rx, empty_tx))
            .map_err(|e| Error::io("starting the hashing thread", e))?;
        let copied = move_buffers(reader, writer, len, full_tx, empty_rx, progress, what);
        // `move_buffers` has dropped its sender, so the hasher finishes the buffers
        // still queued and returns, whether the copy succeeded or not.
        let hasher = hashing
            .join()
            .map_err(|_| Error::Other("the md5 thread failed".into()))?;
        copied.map(|()| hasher)
    })
}

/// [`copy_hashed`] of a small body, on the calling thread through one buffer.
fn copy_inline<R: Read, W: Write>(
    reader: &mut R,
    writer: &mut W,
    len: u64,
    mut hasher: Md5,
    mut progress: impl FnMut(u64),
    what: &'static str,
) -> Result<Md5> {
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
    let mut done = 0;
    while done < buf.len() {
        let n = match reader.read(&mut buf[done..]) {
            Ok(0) => return Err(Error::UnexpectedEof(what)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(format!("reading {what}"), e)),
        };
        writer
            .write_all(&buf[done..done + n])
            .map_err(|e| Error::io(format!("writing {what}"), e))?;
        hasher.update(&buf[done..done + n]);
        done += n;
        progress(n as u64);
    }
    Ok(hasher)
}

/// The hashing side of [`copy_hashed`]: hashes each full buffer in the order it was
/// written and sends it back to be refilled, until the copying side hangs up.
fn hash_buffers(
    mut hasher: Md5,
    full: Receiver<(Vec<u8>, usize)>,
    empty: SyncSender<Vec<u8>>,
) -> Md5 {
    for (buf, n) in full {
        hasher.update(&buf[..n]);
        // After an error the copying side stops taking buffers back; that is fine.
        let _ = empty.send(buf);
    }
    hasher
}

/// The copying side of [`copy_hashed`]: reads a chunk from `reader` into a free
/// buffer, writes it to `writer`, and hands it to the hasher. A free buffer is one
/// the hasher has sent back, or a new one while the pool is not yet full, so a small
/// file costs a single buffer and a big one never more than [`PIPELINE_BUFFERS`].
fn move_buffers<R: Read, W: Write>(
    reader: &mut R,
    writer: &mut W,
    len: u64,
    full: SyncSender<(Vec<u8>, usize)>,
    empty: Receiver<Vec<u8>>,
    mut progress: impl FnMut(u64),
    what: &'static str,
) -> Result<()> {
    let hasher_gone = || Error::Other("the md5 thread stopped".into());
    let mut allocated = 0;
    let mut left = len;
    while left > 0 {
        let mut buf = match empty.try_recv() {
            Ok(buf) => buf,
            Err(TryRecvError::Empty) if allocated < PIPELINE_BUFFERS => {
                allocated += 1;
                vec![0u8; PIPELINE_BUFFER]
            }
            // Every buffer is with the hasher: wait for the first one it is done with.
            Err(TryRecvError::Empty) => empty.recv().map_err(|_| hasher_gone())?,
            Err(TryRecvError::Disconnected) => return Err(hasher_gone()),
        };
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = loop {
            match reader.read(&mut buf[..want]) {
                Ok(0) => return Err(Error::UnexpectedEof(what)),
                Ok(n) => break n,
                // A signal arrived before any byte moved: just read again.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(format!("reading {what}"), e)),
            }
        };
        writer
            .write_all(&buf[..n])
            .map_err(|e| Error::io(format!("writing {what}"), e))?;
        left -= n as u64;
        progress(n as u64);
        full.send((buf, n)).map_err(|_| hasher_gone())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use socklab_proto::checksum::{finish_hex, hash_prefix, md5_hex};

    /// A reader that hands out at most 3 bytes per call, as a slow socket might.
    struct Dribble<'a>(&'a [u8]);

    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(3).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// A writer that accepts `room` bytes, then fails like a full disk.
    struct Full {
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::other("no space left"));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len as u32).map(|i| (i * 31 + i / 7) as u8).collect()
    }

    #[test]
    fn copy_hashed_copies_and_hashes_exactly_len_bytes_whatever_the_chunking() {
        let data = sample(1000);
        let mut out = Vec::new();
        let mut seen = 0;
        let hasher = copy_hashed(
            &mut Dribble(&data),
            &mut out,
            900,
            Md5::default(),
            |n| seen += n,
            "test",
        )
        .unwrap();
        assert_eq!(out, &data[..900]);
        assert_eq!(seen, 900);
        assert_eq!(finish_hex(hasher), md5_hex(&data[..900]));
    }

    #[test]
    fn copy_hashed_recycles_its_buffers_through_a_long_copy() {
        // Many times the pool, and not a multiple of the buffer size.
        let data = sample(PIPELINE_BUFFERS * PIPELINE_BUFFER * 3 + 12_345);
        let mut out = Vec::new();
        let hasher = copy_hashed(
            &mut &data[..],
            &mut out,
            data.len() as u64,
            Md5::default(),
            |_| {},
            "test",
        )
        .unwrap();
        assert!(out == data, "the copy differs");
        assert_eq!(finish_hex(hasher), md5_hex(&data));
    }

    #[test]
    fn copy_hashed_continues_a_resumed_hash() {
        let data = sample(10_000);
        let hasher = hash_prefix(&data[..], 4321).unwrap();
        let hasher = copy_hashed(
            &mut &data[4321..],
            &mut io::sink(),
            (data.len() - 4321) as u64,
            hasher,
            |_| {},
            "test",
        )
        .unwrap();
        assert_eq!(finish_hex(hasher), md5_hex(&data));
    }

    #[test]
    fn copy_hashed_of_nothing_returns_the_hash_unchanged() {
        let hasher = copy_hashed(
            &mut io::empty(),
            &mut io::sink(),
            0,
            Md5::default(),
            |_| {},
            "test",
        )
        .unwrap();
        assert_eq!(finish_hex(hasher), md5_hex(b""));
    }

    #[test]
    fn copy_hashed_reports_a_short_source_after_writing_what_came() {
        let mut out = Vec::new();
        let err = copy_hashed(
            &mut &b"abc"[..],
            &mut out,
            4,
            Md5::default(),
            |_| {},
            "the body",
        )
        .unwrap_err();
        assert!(matches!(err, Error::UnexpectedEof("the body")), "{err:?}");
        assert_eq!(out, b"abc");
    }

    #[test]
    fn copy_hashed_reports_a_failing_writer_and_stops() {
        let data = sample(3 * PIPELINE_BUFFER);
        let err = copy_hashed(
            &mut &data[..],
            &mut Full { room: 1000 },
            data.len() as u64,
            Md5::default(),
            |_| {},
            "the body",
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::Io { context, .. } if context == "writing the body"),
            "{err:?}"
        );
    }
}
