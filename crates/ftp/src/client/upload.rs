//! The client's side of `put`: the request, the ready reply, the body sent with
//! `sendfile(2)` (or through the TLS stream), the md5 trailer and the confirmation.

use super::display::progress_bar;
use super::session::{compat, lost_connection, Session, BUSY_RETRY};
use crate::limits::RESUME_BUSY_WAIT;
use crate::paths::validate_path;
use crate::request::FtpRequest;
use crate::transfer::{send_hashed, Sink};
use crate::wire::{PutDone, PutReady, Trailer};
use indicatif::ProgressBar;
use socklab_net::tls::MaybeTls;
use socklab_proto::checksum::{finish_hex, hash_prefix, md5_hex};
use socklab_proto::names::escape;
use socklab_proto::{Error, ErrorCode, Result};
use std::cell::Cell;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Instant, UNIX_EPOCH};

impl Session {
    /// `put PATH` as `name`: the request, the ready reply with the offset to start
    /// from, the body, the md5 trailer, and the server's confirmation. (Not eager,
    /// whatever the size: a server from before eager puts understands it.) Returns that
    /// confirmation and the offset it resumed from.
    pub fn put(
        &mut self,
        path: &Path,
        name: &str,
        resume: bool,
        overwrite: bool,
    ) -> Result<(PutDone, u64)> {
        validate_path(name)?;
        let file = open_local(path)?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io(format!("checking {}", path.display()), e))?;
        if !meta.is_file() {
            let why = if meta.is_dir() {
                "is a directory (put -r copies a tree)"
            } else {
                "is not a regular file"
            };
            return Err(Error::Usage(format!("{} {why}", path.display())));
        }
        let size = meta.len();
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs());
        let request = FtpRequest::Put {
            path: name.to_owned(),
            size,
            resume,
            overwrite,
            mtime,
            eager: false,
        };
        let ready = self.put_request(&request)?;
        let md5 = self.send_body(&file, path, name, size, &ready, None)?;
        let done = self.put_done(size, &md5)?;
        Ok((done, ready.offset))
    }

    /// The body of a put the server answered `ready`: the prefix the server holds
    /// compared first, then bytes `ready.offset..size` of `file` and the md5 trailer.
    /// Returns that md5. `tree`: as for [`Session::receive`].
    pub(super) fn send_body(
        &mut self,
        file: &File,
        path: &Path,
        name: &str,
        size: u64,
        ready: &PutReady,
        tree: Option<&ProgressBar>,
    ) -> Result<String> {
        if ready.offset > size {
            return Err(Error::BadHeader(format!(
                "the server asked to resume at {} of {size} bytes",
                ready.offset
            )));
        }
        // The server said what it holds: compare our own prefix before sending more.
        let prefix = match (&ready.md5, ready.offset) {
            (Some(theirs), held) if held > 0 => {
                let hasher = hash_prefix(file, held)
                    .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
                if !finish_hex(hasher.clone()).eq_ignore_ascii_case(theirs) {
                    // Hanging up leaves the server's partial as it was; a put
                    // without --resume replaces it.
                    return Err(Error::refused(
                        ErrorCode::ChecksumMismatch,
                        format!(
                            "the local file changed since the interrupted transfer: its \
                             first {held} bytes differ from what the server holds; run \
                             the put without --resume to start over"
                        ),
                    ));
                }
                Some(hasher)
            }
            _ => None,
        };
        if ready.offset > 0 {
            eprintln!(
                "resuming upload of {} at byte {} of {size}",
                escape(name),
                ready.offset
            );
        }
        let bar = match tree {
            Some(bar) => bar.clone(),
            None => progress_bar(self.progress, size, ready.offset, name),
        };
        let sent = Cell::new(ready.offset);
        let progress = |n| {
            bar.inc(n);
            sent.set(sent.get() + n);
        };
        // The kernel sends the part the server lacks (sendfile) while a second thread
        // hashes the whole file, which the trailer covers.
        let sink = match self.conn.body()? {
            MaybeTls::Plain(socket) => Sink::Socket(socket),
            MaybeTls::Tls(tls) => Sink::Stream(tls),
        };
        let span = (ready.offset, size);
        let body = send_hashed(file, sink, span, prefix, progress, "the local file")
            .map_err(Error::under_deadline)
            .map_err(|e| lost_connection(e, sent.get()));
        if tree.is_none() {
            bar.finish_and_clear();
        }
        let md5 = finish_hex(body?);
        self.conn.send(&Trailer { md5: md5.clone() })?;
        Ok(md5)
    }

    /// The server's confirmation of a put whose trailer is sent: it must have stored
    /// `size` bytes with our `md5`.
    pub(super) fn put_done(&mut self, size: u64, md5: &str) -> Result<PutDone> {
        let done: PutDone = self.conn.read_reply()?;
        if !done.md5.eq_ignore_ascii_case(md5) || done.size != size {
            return Err(Error::ChecksumMismatch {
                expected: md5.to_owned(),
                actual: done.md5,
            });
        }
        Ok(done)
    }

    /// Sends a put and reads the ready reply. The server hangs up after refusing
    /// one (a body might have followed); a put answered `busy` is asked again, on a
    /// new connection, for a few seconds ([`RESUME_BUSY_WAIT`]): just after an
    /// interrupted upload, the server may not have seen the old connection end yet.
    pub(super) fn put_request(&mut self, request: &FtpRequest) -> Result<PutReady> {
        let give_up = Instant::now() + RESUME_BUSY_WAIT;
        loop {
            self.conn.send(&compat(request))?;
            match self.conn.read_reply::<PutReady>() {
                Err(Error::Remote {
                    code: ErrorCode::Busy,
                    ..
                }) if Instant::now() < give_up => {
                    std::thread::sleep(BUSY_RETRY);
                    self.reopen()?;
                }
                Err(e @ Error::Remote { .. }) => {
                    self.closed = true;
                    return Err(e);
                }
                other => return other,
            }
        }
    }

    /// Sends an eager put (`request`, made by [`eager_put`]) of `file`, `size` bytes:
    /// the request, the body and the md5 trailer in one write, without waiting for
    /// any reply. Returns the md5; the reply is read later ([`Session::put_done`]).
    pub(super) fn send_eager(
        &mut self,
        file: &File,
        path: &Path,
        request: &FtpRequest,
        size: u64,
        tree: Option<&ProgressBar>,
    ) -> Result<String> {
        let mut message = Vec::with_capacity(usize::try_from(size).unwrap_or(0) + 512);
        socklab_proto::msg::write_header(&mut message, &compat(request))?;
        let start = message.len();
        message.resize(start + usize::try_from(size).unwrap_or(usize::MAX), 0);
        file.read_exact_at(&mut message[start..], 0)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let md5 = md5_hex(&message[start..]);
        socklab_proto::msg::write_header(&mut message, &Trailer { md5: md5.clone() })?;
        let stream = self.conn.body()?;
        stream
            .write_all(&message)
            .and_then(|()| stream.flush())
            .map_err(|e| Error::io("sending an upload", e).under_deadline())
            .map_err(|e| lost_connection(e, 0))?;
        if let Some(bar) = tree {
            bar.inc(size);
        }
        Ok(md5)
    }
}

/// Opens the local file `path` for an upload, naming it in the error.
pub(super) fn open_local(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))
}

/// An eager put of `name`: its body follows at once, from byte 0.
pub(super) fn eager_put(name: &str, size: u64, overwrite: bool, mtime: Option<u64>) -> FtpRequest {
    FtpRequest::Put {
        path: name.to_owned(),
        size,
        resume: false,
        overwrite,
        mtime,
        eager: true,
    }
}
