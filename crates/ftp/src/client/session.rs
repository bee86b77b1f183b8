//! [`Session`]: a connected, logged-in client and its protocol calls, `list`, `stat`,
//! `get` and `put`, each one request and the replies it brings (see [`crate::wire`]).

use super::display::progress_bar;
use super::download::{self, part_path, PartFile};
use crate::transfer::{copy_hashed, send_file_hashed};
use crate::wire::{FileInfo, GetReply, Listing, PutDone, PutReady, Trailer};
use socklab_auth::client_login;
use socklab_net::socket::connect;
use socklab_net::{Connection, Deadlines};
use socklab_proto::checksum::finish_hex;
use socklab_proto::names::{escape, validate_name};
use socklab_proto::{Error, Request, Result};
use std::fs::{self, File};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

/// How to reach and log in to the server.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `(user, password)`, or `None` for anonymous access.
    pub login: Option<(String, String)>,
    /// Give up on `connect` after this long.
    pub connect_timeout: Duration,
    /// Give up on a transfer that moves no byte for this long.
    pub stall_timeout: Duration,
    /// Draw a progress bar (only when stderr is a terminal).
    pub progress: bool,
}

/// A connected, logged-in client.
#[derive(Debug)]
pub struct Session {
    conn: Connection<TcpStream>,
    progress: bool,
}

impl Session {
    /// Connects and logs in (or not, for anonymous access).
    pub fn connect(config: &ClientConfig) -> Result<Session> {
        let stream = connect(&config.host, config.port, config.connect_timeout)?;
        // The server owes every reply at once: the client waits at most the stall
        // time for any of them, and for each byte of a transfer.
        let deadlines = Deadlines {
            idle: config.stall_timeout,
            stall: config.stall_timeout,
        };
        let mut conn = Connection::new(stream, deadlines)?;
        if let Some((user, password)) = &config.login {
            client_login(&mut conn, user, password)?;
        }
        Ok(Session {
            conn,
            progress: config.progress,
        })
    }

    /// `list`. Names that are not safe single components are dropped and returned
    /// apart, escaped, so a hostile server cannot smuggle `../x` or terminal escapes.
    pub fn list(&mut self) -> Result<(Vec<FileInfo>, Vec<String>, bool)> {
        self.conn.send(&Request::List)?;
        let listing: Listing = self.conn.read_reply()?;
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for f in listing.files {
            match validate_name(&f.name) {
                Ok(()) => good.push(f),
                Err(_) => bad.push(escape(&f.name)),
            }
        }
        Ok((good, bad, listing.truncated))
    }

    /// `stat NAME`.
    pub fn stat(&mut self, name: &str) -> Result<FileInfo> {
        validate_name(name)?;
        self.conn.send(&Request::Stat {
            name: name.to_owned(),
        })?;
        let info: FileInfo = self.conn.read_reply()?;
        if info.name != name {
            return Err(Error::BadHeader(format!(
                "the server answered about {} instead of {}",
                escape(&info.name),
                escape(name)
            )));
        }
        Ok(info)
    }

    /// `get NAME` into `dest`: the request, the header, the body into the partial
    /// file, the md5 trailer, then the verified file published under `dest`. Returns
    /// the size, md5 and the offset it resumed from.
    pub fn get(
        &mut self,
        name: &str,
        dest: &Path,
        resume: bool,
        overwrite: bool,
    ) -> Result<(u64, String, u64)> {
        validate_name(name)?;
        download::check_target(dest, overwrite)?;
        let part = part_path(dest);
        // A partial download is data the user was told to resume: starting over
        // would silently throw it away.
        if !resume && fs::symlink_metadata(&part).is_ok() {
            // A file the server does not have is the more useful answer.
            self.stat(name)?;
            return Err(download::partial_in_the_way(name, &part));
        }
        let mut offset = 0;
        if resume {
            if let Ok(meta) = fs::metadata(&part) {
                // A partial longer than the remote file cannot be its prefix.
                let remote = self.stat(name)?;
                if meta.len() <= remote.size {
                    offset = meta.len();
                }
            }
        }
        self.conn.send(&Request::Get {
            name: name.to_owned(),
            offset,
        })?;
        let reply: GetReply = self.conn.read_reply()?;
        if reply.name != name || validate_name(&reply.name).is_err() {
            return Err(Error::BadHeader(format!(
                "the server sent {} when asked for {}",
                escape(&reply.name),
                escape(name)
            )));
        }
        if offset > reply.size {
            return Err(Error::BadHeader(
                "the server's file is shorter than the resume offset".into(),
            ));
        }
        let (mut partial, hasher) = PartFile::open(part, offset)?;
        if offset > 0 {
            eprintln!(
                "resuming {} at byte {offset} of {}",
                escape(name),
                reply.size
            );
        }
        let bar = progress_bar(self.progress, reply.size, offset, name);
        let body = copy_hashed(
            self.conn.body()?,
            partial.file(),
            reply.size - offset,
            hasher,
            |n| bar.inc(n),
            "the download",
        )
        .map_err(Error::under_deadline);
        bar.finish_and_clear();
        let md5 = match body {
            Ok(hasher) => finish_hex(hasher),
            Err(e) => {
                // The error keeps its kind; where the data went is said beside it.
                let (held, path) = partial.keep();
                eprintln!(
                    "kept {held} of {} bytes in {}: run the same get with --resume to continue",
                    reply.size,
                    path.display()
                );
                return Err(e);
            }
        };
        let trailer: Trailer = self
            .conn
            .read_header()?
            .ok_or(Error::UnexpectedEof("the md5 trailer"))?;
        if !trailer.md5.eq_ignore_ascii_case(&md5) {
            partial.discard();
            return Err(Error::ChecksumMismatch {
                expected: trailer.md5,
                actual: md5,
            });
        }
        partial.publish(dest, overwrite)?;
        Ok((reply.size, md5, offset))
    }

    /// `put PATH` as `name`: the request, the ready reply with the offset to start
    /// from, the body, the md5 trailer, and the server's confirmation. Returns that
    /// confirmation and the offset it resumed from.
    pub fn put(
        &mut self,
        path: &Path,
        name: &str,
        resume: bool,
        overwrite: bool,
    ) -> Result<(PutDone, u64)> {
        validate_name(name)?;
        let file =
            File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io(format!("checking {}", path.display()), e))?;
        if !meta.is_file() {
            return Err(Error::Usage(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        let size = meta.len();
        let request = Request::Put {
            name: name.to_owned(),
            size,
            resume,
            overwrite,
        };
        self.conn.send(&request)?;
        let ready: PutReady = self.conn.read_reply()?;
        if ready.offset > size {
            return Err(Error::BadHeader(format!(
                "the server asked to resume at {} of {size} bytes",
                ready.offset
            )));
        }
        if ready.offset > 0 {
            eprintln!(
                "resuming upload of {} at byte {} of {size}",
                escape(name),
                ready.offset
            );
        }
        let bar = progress_bar(self.progress, size, ready.offset, name);
        // The kernel sends the part the server lacks (sendfile) while a second thread
        // hashes the whole file, which the trailer covers.
        let body = send_file_hashed(
            &file,
            self.conn.body()?,
            ready.offset,
            size,
            |n| bar.inc(n),
            "the local file",
        )
        .map_err(Error::under_deadline);
        bar.finish_and_clear();
        let md5 = finish_hex(body?);
        self.conn.send(&Trailer { md5: md5.clone() })?;
        let done: PutDone = self.conn.read_reply()?;
        if !done.md5.eq_ignore_ascii_case(&md5) || done.size != size {
            return Err(Error::ChecksumMismatch {
                expected: md5,
                actual: done.md5,
            });
        }
        Ok((done, ready.offset))
    }
}
