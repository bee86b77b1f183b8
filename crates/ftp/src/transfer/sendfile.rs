//! [`send_file_hashed`]: `sendfile(2)` from the page cache, hashed alongside.

use super::copy::PIPELINE_BUFFER;
use md5::Digest;
use socklab_proto::checksum::Md5;
use socklab_proto::{Error, Result};
use std::fs::File;
use std::io;
use std::net::TcpStream;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread;

/// Bytes handed to one `sendfile(2)` call: the progress bar moves, and a failure of
/// the hashing thread is noticed, at least this often.
pub(crate) const SENDFILE_CHUNK: usize = 1 << 20;

/// How far the hashing thread of [`send_file_hashed`] may read ahead of what the
/// kernel has taken for sending. md5 needs nothing from the network, so unbounded it
/// would run at full speed from the start, and when both ends share the cores (a
/// loopback transfer, or a busy server) take a whole core from the receiving end.
/// Held to a few chunks ahead, the hash keeps pace with the bytes on the wire.
pub(crate) const HASH_LEAD: u64 = 4 * SENDFILE_CHUNK as u64;

/// Sends bytes `offset..size` of `file` to `socket` with `sendfile(2)`, and hashes
/// bytes `0..size` on a second thread: the md5 of the whole file, which a resumed
/// transfer's trailer needs, while only the part the peer lacks crosses the network.
/// The prefix is hashed while the rest is being sent, not before; past it, the hash
/// stays at most [`HASH_LEAD`] bytes ahead of the sending. `progress` is
/// called with each chunk the kernel took. A file that ends early is
/// [`Error::UnexpectedEof`]`(what)`. An `offset` past `size` is the caller's bug
/// ([`Error::Other`]): each caller checks the peer's offset first and answers it
/// in its own terms.
///
/// `copy_hashed` reads each chunk into a buffer and writes it to the socket: two
/// copies through user space. Here the kernel sends straight from the page cache, and
/// the hashing thread reads the file with `pread` on its own, so the bytes cross into
/// user space once, to be hashed.
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
pub(crate) fn send_file_hashed(
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
        return Err(Error::Other(format!(
            "sendfile asked to start at {offset}, past the end ({size} bytes)"
        )));
    }
    send_and_hash(
        file,
        socket,
        offset,
        size,
        None,
        &Pace::new(offset),
        &mut progress,
        what,
    )
}

/// [`send_file_hashed`] for a resumed transfer whose prefix `0..offset` the caller
/// has hashed already (to compare it with the peer's before sending): `prefix` is
/// that md5 state, and only `offset..size` is read again.
pub(crate) fn send_rest_hashed(
    file: &File,
    socket: &TcpStream,
    offset: u64,
    size: u64,
    prefix: Md5,
    mut progress: impl FnMut(u64),
    what: &'static str,
) -> Result<Md5> {
    if offset > size {
        return Err(Error::Other(format!(
            "sendfile asked to start at {offset}, past the end ({size} bytes)"
        )));
    }
    if offset == size {
        return Ok(prefix);
    }
    send_and_hash(
        file,
        socket,
        offset,
        size,
        Some(prefix),
        &Pace::new(offset),
        &mut progress,
        what,
    )
}

/// [`send_file_hashed`], with the state its two threads share made by the caller, so
/// that a test can look at how far ahead the hash ran.
#[allow(clippy::too_many_arguments)] // the two entry points' arguments, plus the pace
fn send_and_hash(
    file: &File,
    socket: &TcpStream,
    offset: u64,
    size: u64,
    prefix: Option<Md5>,
    pace: &Pace,
    progress: &mut impl FnMut(u64),
    what: &'static str,
) -> Result<Md5> {
    let len = size - offset;
    let (from, hasher) = match prefix {
        Some(h) => (offset, h),
        None => (0, Md5::default()),
    };
    thread::scope(|scope| {
        let hashing = thread::Builder::new()
            .name("md5".into())
            .spawn_scoped(scope, || {
                let hashed = hash_range(file, from, hasher, size, pace, what);
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
    // `offset` is at most the file's size, which the kernel keeps below i64::MAX.
    let mut pos = i64::try_from(offset)
        .map_err(|_| Error::Other(format!("sendfile offset {offset} does not fit off_t")))?;
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

/// The hashing half of [`send_file_hashed`]: `pread`s bytes `from..end` into one
/// buffer and adds them to `hasher`, keeping within [`HASH_LEAD`] of the sending.
fn hash_range(
    file: &File,
    from: u64,
    mut hasher: Md5,
    end: u64,
    pace: &Pace,
    what: &'static str,
) -> Result<Md5> {
    let mut buf = vec![0u8; PIPELINE_BUFFER];
    let mut pos = from;
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
    use socklab_proto::checksum::{finish_hex, md5_hex};
    use std::io::{Read, Write};
    use std::sync::mpsc::{sync_channel, Receiver};
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
        let hasher =
            send_and_hash(&file, &tx, 0, size, None, &pace, &mut |_| {}, "test file").unwrap();
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
    fn send_file_hashed_calls_an_offset_past_the_end_a_bug() {
        let (_keep, file) = temp_file(&[1u8; 10]);
        let (tx, _rx) = socket_pair();
        let err = send_file_hashed(&file, &tx, 11, 10, |_| {}, "file").unwrap_err();
        assert!(matches!(err, Error::Other(_)), "got {err:?}");
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
}
