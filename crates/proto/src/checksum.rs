//! Streaming md5: hash bytes as they pass, so a transfer reads its data once.
//!
//! The tutorials put an `md5` field in the header and never checked it; computing it
//! up front would also mean reading the whole file twice. socklab hashes the body as
//! it is copied, with [`copy_hashed`] (which hashes on a second thread while the
//! first moves the bytes), or [`send_file_hashed`] when the source is a file (the
//! kernel sends it with `sendfile`), and sends the digest in a trailer after the body. The
//! `Read`/`Write` adaptors below do the same on one thread, for small jobs.
//!
//! md5 finds accidental corruption only. Anyone who can change the data in flight can
//! change the trailer too; see docs/security.md.

use crate::{Error, Result};
use md5::Digest;
/// The md5 state a resume carries over (see [`hash_prefix`]); re-exported so callers
/// can hold one without depending on `md-5` themselves.
pub use md5::Md5;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::{Condvar, Mutex};
use std::thread;

/// Lower-case hex of an md5 digest, as `md5sum` prints it.
pub fn to_hex(digest: &[u8]) -> String {
    use std::fmt::Write as _;
    digest.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The hex digest of everything `hasher` has seen, as `md5sum` prints it.
pub fn finish_hex(hasher: Md5) -> String {
    to_hex(&hasher.finalize())
}

/// The md5 of a byte slice, in hex.
pub fn md5_hex(data: &[u8]) -> String {
    to_hex(&Md5::digest(data))
}

/// A reader that hashes every byte it hands out.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: Md5,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner` with a fresh hash.
    pub fn new(inner: R) -> Self {
        Self::with_hasher(inner, Md5::new())
    }

    /// Wraps `inner`, continuing a hash that already covers earlier bytes (a resume).
    pub fn with_hasher(inner: R, hasher: Md5) -> Self {
        HashingReader {
            inner,
            hasher,
            count: 0,
        }
    }

    /// Bytes read through this adaptor.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The hex digest of everything hashed, and the inner reader back.
    pub fn finish(self) -> (String, R) {
        (to_hex(&self.hasher.finalize()), self.inner)
    }

    /// The inner reader, for setting options on a socket mid-stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes every byte written through it.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Md5,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner` with a fresh hash.
    pub fn new(inner: W) -> Self {
        Self::with_hasher(inner, Md5::new())
    }

    /// Wraps `inner`, continuing a hash that already covers earlier bytes (a resume).
    pub fn with_hasher(inner: W, hasher: Md5) -> Self {
        HashingWriter {
            inner,
            hasher,
            count: 0,
        }
    }

    /// Bytes written through this adaptor.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The hex digest of everything hashed, and the inner writer back.
    pub fn finish(self) -> (String, W) {
        (to_hex(&self.hasher.finalize()), self.inner)
    }

    /// The inner writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Hash only what the inner writer accepted, so a short write stays in step.
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes the first `len` bytes of `r` (the part of a file a resume keeps), returning
/// the hasher so the transfer can continue it.
pub fn hash_prefix<R: Read>(r: R, len: u64) -> io::Result<Md5> {
    let mut hr = HashingReader::new(r.take(len));
    let copied = io::copy(&mut hr, &mut io::sink())?;
    if copied != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("expected {len} bytes to resume from, found {copied}"),
        ));
    }
    Ok(hr.hasher)
}

/// How many buffers [`copy_hashed`] keeps in flight between its two threads. Two
/// would already let copying and hashing overlap; a few more absorb the jitter of
/// socket reads that return unevenly, without letting memory grow with the file.
pub const PIPELINE_BUFFERS: usize = 4;

/// The size of each of those buffers (and of the one [`send_file_hashed`] hashes
/// through). Bigger than [`crate::IO_BUFFER`] because each buffer costs two hand-overs
/// between threads, and a hand-over that wakes a sleeping core is slow: on the 2-core
/// VM of docs/benchmarks.md, going from 256 KiB to 1 MiB, together with
/// [`HASH_LEAD`], halved the context switches of a loopback put (about 7,000 to 3,500
/// per GiB, both ends and everything else on the machine) and cut the time the cores
/// sat idle during it from about 11% to 3%. Four of them make 4 MiB per transfer,
/// whatever the file size, about what the kernel may already buffer for the socket.
pub const PIPELINE_BUFFER: usize = 1024 * 1024;

/// Copies exactly `len` bytes from `reader` to `writer` and hashes them, continuing
/// `hasher` (`Md5::default()` for a fresh hash, or the state of a prefix a resume
/// already holds, from [`hash_prefix`]).
/// Returns the hasher, which now covers those bytes too. `progress` is called with
/// the size of each chunk once it has been written. A reader that ends early is
/// [`Error::UnexpectedEof`]`(what)`: the caller decides what to keep of what was written.
///
/// md5 runs at about the speed of one core, so a loop that reads, writes and hashes
/// on one thread is as slow as hashing plus copying added together. Here two threads
/// share the work as a pipeline: the calling thread moves the bytes (its reader and
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
/// a client and a server on different machines each do. When every core is already
/// busy (both ends on one two-core machine, both hashing) the total work is the
/// same either way, and so is the speed; docs/lessons/04-file-transfer.md has the
/// figures.
pub fn copy_hashed<R: Read, W: Write>(
    reader: &mut R,
    writer: &mut W,
    len: u64,
    hasher: Md5,
    progress: impl FnMut(u64),
    what: &'static str,
) -> Result<Md5> {
    if len == 0 {
        // Nothing to hash: not worth a thread.
        return Ok(hasher);
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

/// Bytes handed to one `sendfile(2)` call: the progress bar moves, and a failure of
/// the hashing thread is noticed, at least this often.
pub const SENDFILE_CHUNK: usize = 1 << 20;

/// How far the hashing thread of [`send_file_hashed`] may read ahead of what the
/// kernel has taken for sending. Without a bound, md5 (which needs nothing from the
/// network) ran at full speed from the start, and when both ends share the cores (a
/// loopback transfer, or a busy server) it took a whole core from the receiving end:
/// the transfer then crawled until the hash was done, and finished with one core
/// idle. Held to a few chunks ahead, the hash keeps pace with the bytes on the wire.
pub const HASH_LEAD: u64 = 4 * SENDFILE_CHUNK as u64;

/// Sends bytes `offset..size` of `file` to `socket` with `sendfile(2)`, and hashes
/// bytes `0..size` on a second thread: the md5 of the whole file, which a resumed
/// transfer's trailer needs, while only the part the peer lacks crosses the network.
/// The prefix is hashed while the rest is being sent, not before; past it, the hash
/// stays at most [`HASH_LEAD`] bytes ahead of the sending. `progress` is
/// called with each chunk the kernel took. A file that ends early is
/// [`Error::UnexpectedEof`]`(what)`.
///
/// [`copy_hashed`] reads each chunk into a buffer and writes it to the socket: two
/// copies through user space. Here the kernel sends straight from the page cache, and
/// the hashing thread reads the file with `pread` on its own, so the bytes cross into
/// user space once, to be hashed (docs/lessons/04-file-transfer.md has the figures).
///
/// The file is read twice, so a file changed in place during the transfer could be
/// sent as one version and hashed as another. The receiver then finds that the
/// trailer's md5 does not match what it received, and refuses the transfer: the
/// check that catches corruption catches this too. (A file replaced by `rename`
/// cannot cause it: the open descriptor keeps the old one.)
///
/// `sendfile` cannot pass `MSG_NOSIGNAL` as std's `send` does, so a peer that is gone
/// raises `SIGPIPE`; Rust programs ignore it from the start, and the call fails with
/// `EPIPE` instead. A C program would have to ignore it itself.
pub fn send_file_hashed(
    file: &File,
    socket: &TcpStream,
    offset: u64,
    size: u64,
    mut progress: impl FnMut(u64),
    what: &'static str,
) -> Result<Md5> {
    if size == 0 {
        return Ok(Md5::default());
    }
    if offset > size {
        return Err(Error::BadRequest(format!(
            "offset {offset} is past the end ({size} bytes)"
        )));
    }
    send_and_hash(
        file,
        socket,
        offset,
        size,
        &Pace::new(offset),
        &mut progress,
        what,
    )
}

/// [`send_file_hashed`], with the state its two threads share made by the caller, so
/// that a test can look at how far ahead the hash ran.
fn send_and_hash(
    file: &File,
    socket: &TcpStream,
    offset: u64,
    size: u64,
    pace: &Pace,
    progress: &mut impl FnMut(u64),
    what: &'static str,
) -> Result<Md5> {
    let len = size - offset;
    thread::scope(|scope| {
        let hashing = thread::Builder::new()
            .name("md5".into())
            .spawn_scoped(scope, || {
                let hashed = hash_range(file, size, pace, what);
                if hashed.is_err() {
                    pace.stop();
                }
                hashed
            })
            .map_err(|e| Error::io("starting the hashing thread", e))?;
        let sent = {
            // However the sending ends, even by a panic, the hasher must not wait for it.
            let _over = pace.over_on_drop();
            let sent = send_range(file, offset, socket, len, pace, progress, what);
            // Either side's failure stops the other: the hash is of no use without the
            // bytes, nor the bytes without the hash. (A send that succeeded must not
            // stop the hasher, which may still be behind.) Stopped before `_over` lifts
            // the bound, so a hasher let go does not first read on for nothing.
            if sent.is_err() {
                pace.stop();
            }
            sent
        };
        let hashed = hashing
            .join()
            .map_err(|_| Error::Other("the md5 thread failed".into()))?;
        sent.and(hashed)
    })
}

/// What the two threads of [`send_file_hashed`] share: how far into the file the
/// sending has got, which the hashing waits on so as not to run more than
/// [`HASH_LEAD`] ahead, and a flag by which either side's failure stops the other.
struct Pace {
    sent: Mutex<Sent>,
    moved: Condvar,
    stopped: AtomicBool,
}

struct Sent {
    /// The file has been handed to the kernel up to here.
    end: u64,
    /// The sending is over (done, failed or panicked): the bound is lifted.
    over: bool,
    /// The furthest the hash has been let run ahead of `end`: for the tests.
    widest_lead: u64,
}

/// Ends the sending when dropped (see [`Pace::over_on_drop`]).
struct SendingOver<'a>(&'a Pace);

impl Pace {
    fn new(offset: u64) -> Self {
        Pace {
            sent: Mutex::new(Sent {
                end: offset,
                over: false,
                widest_lead: 0,
            }),
            moved: Condvar::new(),
            stopped: AtomicBool::new(false),
        }
    }

    fn sent(&self) -> std::sync::MutexGuard<'_, Sent> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that the file has been sent up to `end`, and wakes the hasher.
    fn advance(&self, end: u64) {
        self.sent().end = end;
        self.moved.notify_one();
    }

    /// Waits until a hash of bytes up to `upto` would be at most [`HASH_LEAD`] ahead
    /// of the sending.
    fn wait_for(&self, upto: u64) {
        let mut sent = self.sent();
        while !sent.over && sent.end.saturating_add(HASH_LEAD) < upto {
            sent = self.moved.wait(sent).unwrap_or_else(|e| e.into_inner());
        }
        sent.widest_lead = sent.widest_lead.max(upto.saturating_sub(sent.end));
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// A guard that ends the sending for good when dropped, whether it succeeded,
    /// failed or panicked: the bound is lifted so the hasher can always finish, and
    /// after a panic the hasher is stopped too, instead of reading on for nothing.
    fn over_on_drop(&self) -> SendingOver<'_> {
        SendingOver(self)
    }
}

impl Drop for SendingOver<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.stop();
        }
        self.0.sent().over = true;
        self.0.moved.notify_one();
    }
}

/// The sending half of [`send_file_hashed`].
fn send_range(
    file: &File,
    offset: u64,
    socket: &TcpStream,
    len: u64,
    pace: &Pace,
    progress: &mut impl FnMut(u64),
    what: &'static str,
) -> Result<()> {
    let mut pos = i64::try_from(offset)
        .map_err(|_| Error::BadRequest(format!("offset {offset} is too large")))?;
    let mut left = len;
    // If hashing failed, stop; its error is the one reported.
    while left > 0 && !pace.is_stopped() {
        let want = left.min(SENDFILE_CHUNK as u64) as usize;
        match nix::sys::sendfile::sendfile64(socket, file, Some(&mut pos), want) {
            Ok(0) => return Err(Error::UnexpectedEof(what)),
            Ok(n) => {
                left -= n as u64;
                // `sendfile` has moved `pos` past what it sent.
                pace.advance(pos as u64);
                progress(n as u64);
            }
            Err(nix::errno::Errno::EINTR) => {}
            // EAGAIN is the socket's send timeout (SO_SNDTIMEO): the peer stopped reading.
            Err(e) => return Err(Error::io(format!("sending {what}"), io::Error::from(e))),
        }
    }
    Ok(())
}

/// The hashing half of [`send_file_hashed`]: `pread`s bytes `0..end` into one buffer,
/// keeping within [`HASH_LEAD`] of the sending.
fn hash_range(file: &File, end: u64, pace: &Pace, what: &'static str) -> Result<Md5> {
    let mut hasher = Md5::default();
    let mut buf = vec![0u8; PIPELINE_BUFFER];
    let mut pos = 0;
    while pos < end && !pace.is_stopped() {
        let want = buf
            .len()
            .min(usize::try_from(end - pos).unwrap_or(usize::MAX));
        pace.wait_for(pos + want as u64);
        match file.read_at(&mut buf[..want], pos) {
            Ok(0) => return Err(Error::UnexpectedEof(what)),
            Ok(n) => {
                hasher.update(&buf[..n]);
                pos += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(format!("reading {what}"), e)),
        }
    }
    Ok(hasher)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn socket_pair() -> (TcpStream, TcpStream) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        (a, b)
    }

    fn temp_file(data: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(data).unwrap();
        let file = File::open(f.path()).unwrap();
        (f, file)
    }

    #[test]
    fn send_file_hashed_sends_and_hashes_the_range_from_the_offset() {
        // Larger than the hash's lead, so the hasher may have to wait for the sending,
        // and not a multiple of a sendfile chunk or of a hashing buffer.
        let data: Vec<u8> = (0..HASH_LEAD as usize + SENDFILE_CHUNK + 12_345)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let (_keep, file) = temp_file(&data);
        let (tx, mut rx) = socket_pair();
        let offset = 1000u64;
        let reader = thread::spawn(move || {
            let mut got = Vec::new();
            rx.read_to_end(&mut got).unwrap();
            got
        });
        let mut progressed = 0;
        let len = data.len() as u64 - offset;
        let hasher = send_file_hashed(
            &file,
            &tx,
            offset,
            data.len() as u64,
            |n| progressed += n,
            "test file",
        )
        .unwrap();
        drop(tx);
        let got = reader.join().unwrap();
        assert_eq!(got.len() as u64, len, "bytes sent");
        assert!(
            got == data[offset as usize..],
            "sent bytes differ from the file"
        );
        assert_eq!(progressed, len);
        assert_eq!(
            finish_hex(hasher),
            md5_hex(&data),
            "md5 of the whole file, prefix included"
        );
    }

    /// Starts a thread that waits on `sent` for a hash up to `upto`, and says on the
    /// returned channel when it is let through.
    fn waiting_hasher(sent: &std::sync::Arc<Pace>, upto: u64) -> Receiver<()> {
        let (tx, rx) = sync_channel(1);
        let sent = std::sync::Arc::clone(sent);
        thread::spawn(move || {
            sent.wait_for(upto);
            let _ = tx.send(());
        });
        rx
    }

    #[test]
    fn hasher_waits_until_it_is_within_the_lead_of_the_sending() {
        let sent = std::sync::Arc::new(Pace::new(0));
        let through = waiting_hasher(&sent, HASH_LEAD + 1);
        assert!(
            through.recv_timeout(Duration::from_millis(100)).is_err(),
            "the hasher ran more than HASH_LEAD ahead of the sending"
        );
        sent.advance(1);
        through
            .recv_timeout(Duration::from_secs(5))
            .expect("the hasher was not let through once the sending caught up");
    }

    #[test]
    fn hasher_takes_a_resumed_prefix_without_waiting() {
        let sent = std::sync::Arc::new(Pace::new(10 * HASH_LEAD));
        waiting_hasher(&sent, 11 * HASH_LEAD)
            .recv_timeout(Duration::from_secs(5))
            .expect("the hasher waited for bytes the peer already holds");
    }

    #[test]
    fn sending_that_ends_lets_the_hasher_finish() {
        let sent = std::sync::Arc::new(Pace::new(0));
        let through = waiting_hasher(&sent, u64::MAX - 1);
        drop(sent.over_on_drop());
        through
            .recv_timeout(Duration::from_secs(5))
            .expect("the hasher still waited after the sending ended");
    }

    #[test]
    fn hash_runs_no_further_than_the_lead_ahead_of_a_slow_reader() {
        // The reader waits before it reads anything, so the socket's buffers fill and
        // the sending stalls; unbounded, the hash would run through the whole file.
        let data: Vec<u8> = (0..8 * HASH_LEAD as usize)
            .map(|i| (i % 253) as u8)
            .collect();
        let (_keep, file) = temp_file(&data);
        let (tx, mut rx) = socket_pair();
        let reader = thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            io::copy(&mut rx, &mut io::sink()).unwrap()
        });
        let pace = Pace::new(0);
        let size = data.len() as u64;
        let hasher = send_and_hash(&file, &tx, 0, size, &pace, &mut |_| {}, "test file").unwrap();
        drop(tx);
        assert_eq!(reader.join().unwrap(), size, "bytes the reader got");
        assert_eq!(finish_hex(hasher), md5_hex(&data));
        let widest = pace.sent().widest_lead;
        assert!(
            widest <= HASH_LEAD,
            "the hash ran {widest} bytes ahead of the sending; the limit is {HASH_LEAD}"
        );
    }

    #[test]
    fn send_file_hashed_refuses_an_offset_past_the_end() {
        let (_keep, file) = temp_file(&[1u8; 10]);
        let (tx, _rx) = socket_pair();
        let err = send_file_hashed(&file, &tx, 11, 10, |_| {}, "file").unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "got {err:?}");
    }

    #[test]
    fn send_file_hashed_reports_a_file_shorter_than_promised() {
        let (_keep, file) = temp_file(&[1u8; 5000]);
        let (tx, _rx) = socket_pair();
        let err = send_file_hashed(&file, &tx, 0, 9000, |_| {}, "short file").unwrap_err();
        assert!(
            matches!(err, Error::UnexpectedEof("short file")),
            "got {err:?}"
        );
    }

    #[test]
    fn send_file_hashed_fails_when_the_peer_is_gone() {
        let (_keep, file) = temp_file(&vec![9u8; 8 << 20]);
        let (tx, rx) = socket_pair();
        drop(rx);
        // On its own thread, so that a hasher left waiting for a sending that failed
        // fails this test instead of hanging it.
        let (done_tx, done) = sync_channel(1);
        thread::spawn(move || {
            let _ = done_tx.send(send_file_hashed(&file, &tx, 0, 8 << 20, |_| {}, "file"));
        });
        let err = done
            .recv_timeout(Duration::from_secs(30))
            .expect("send_file_hashed did not return after the sending failed")
            .unwrap_err();
        assert!(err.to_string().contains("sending file"), "got {err}");
    }

    #[test]
    fn reader_and_writer_hash_what_passes() {
        let data = b"The quick brown fox jumps over the lazy dog";
        let mut r = HashingReader::new(&data[..]);
        let mut w = HashingWriter::new(Vec::new());
        io::copy(&mut r, &mut w).unwrap();
        let (rh, _) = r.finish();
        let (wh, out) = w.finish();
        assert_eq!(rh, "9e107d9d372bb6826bd81d3542a419d6");
        assert_eq!(wh, rh);
        assert_eq!(out, data);
    }

    #[test]
    fn resumed_hash_equals_whole_hash() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let hasher = hash_prefix(&data[..], 4321).unwrap();
        let mut r = HashingReader::with_hasher(&data[4321..], hasher);
        io::copy(&mut r, &mut io::sink()).unwrap();
        assert_eq!(r.finish().0, md5_hex(&data));
    }

    #[test]
    fn hash_prefix_of_short_file_is_an_error() {
        assert!(hash_prefix(&b"abc"[..], 4).is_err());
    }

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
