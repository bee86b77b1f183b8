//! [`Session`]: a connected, logged-in client and its protocol calls, `list`, `stat`,
//! `get`, `put`, `mkdir`, `delete` and `rename`, each one request and the replies it
//! brings (see [`crate::wire`] and [`crate::request`]).

use super::display::progress_bar;
use super::download::{self, part_path, PartFile};
use crate::paths::validate_path;
use crate::request::FtpRequest;
use crate::transfer::copy_hashed;
use crate::wire::{FileInfo, GetReply, Listing, Trailer};
use indicatif::ProgressBar;
use socklab_auth::client_login;
use socklab_net::limits::HANDSHAKE_TIMEOUT;
use socklab_net::socket::connect;
use socklab_net::tls::{client as tls_client, ClientOptions, MaybeTls, Service, Trust};
use socklab_net::{Connection, Deadlines};
use socklab_proto::checksum::finish_hex;
use socklab_proto::msg::Empty;
use socklab_proto::names::{escape, validate_name};
use socklab_proto::{Error, ErrorCode, Result};
use std::cell::Cell;
use std::fs;
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

/// The client's stream: the socket, or a TLS session over it.
type Link = MaybeTls<rustls::ClientConnection, TcpStream>;

/// A connected, logged-in client.
#[derive(Debug)]
pub struct Session {
    pub(super) conn: Connection<Link>,
    pub(super) progress: bool,
    /// How it connected, to connect again ([`Session::reopen`]).
    config: ClientConfig,
    tls: Option<Trust>,
    /// The server hung up after refusing a put that waits for `ready` (a body might
    /// have followed): the next command needs a new connection.
    pub(super) closed: bool,
}

impl Drop for Session {
    /// Ends a TLS session with `close_notify`, so the server sees a clean end.
    fn drop(&mut self) {
        if let Ok(stream) = self.conn.body() {
            let _ = stream.close();
        }
    }
}

impl Session {
    /// Connects in clear and logs in (or not, for anonymous access).
    pub fn connect(config: &ClientConfig) -> Result<Session> {
        Session::open(config, None)
    }

    /// Connects over TLS, trusting the server as `trust` says, then logs in.
    pub fn connect_tls(config: &ClientConfig, trust: &Trust) -> Result<Session> {
        Session::open(config, Some(trust))
    }

    /// Connects (over TLS when `tls` says how to trust the server) and logs in.
    pub(crate) fn open(config: &ClientConfig, tls: Option<&Trust>) -> Result<Session> {
        let stream = connect(&config.host, config.port, config.connect_timeout)?;
        // With TLS nothing of ours (not the login) is sent before the server is
        // trusted: `tls_client::connect` refuses a changed certificate first.
        let stream = match tls {
            None => MaybeTls::Plain(stream),
            Some(trust) => {
                let opts = ClientOptions {
                    service: Service::Ftp,
                    trust: trust.clone(),
                    handshake_timeout: HANDSHAKE_TIMEOUT,
                };
                MaybeTls::Tls(tls_client::connect(
                    stream,
                    &config.host,
                    config.port,
                    &opts,
                )?)
            }
        };
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
            config: config.clone(),
            tls: tls.cloned(),
            closed: false,
        })
    }

    /// Connects and logs in again, in place of this connection.
    pub(super) fn reopen(&mut self) -> Result<()> {
        let fresh = Session::open(&self.config, self.tls.as_ref())?;
        *self = fresh;
        Ok(())
    }

    /// True when the server has closed this connection after a refusal: a prompt
    /// connects again before the next command.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// `list` of a directory (the root for `None`). Names that are not safe single
    /// components are dropped and returned apart, escaped, so a hostile server cannot
    /// smuggle `../x` or terminal escapes.
    pub fn list(&mut self, path: Option<&str>) -> Result<(Vec<FileInfo>, Vec<String>, bool)> {
        if let Some(p) = path {
            validate_path(p)?;
        }
        self.conn.send(&FtpRequest::List {
            path: path.map(str::to_owned),
        })?;
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

    /// `stat PATH`: a symlink is described, not followed.
    pub fn stat(&mut self, name: &str) -> Result<FileInfo> {
        validate_path(name)?;
        self.conn.send(&compat(&FtpRequest::Stat {
            path: name.to_owned(),
        }))?;
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
        validate_path(name)?;
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
        // The partial is hashed first: its md5 goes with the request, so the server
        // compares its own prefix before it sends a byte more.
        let (partial, hasher) = PartFile::open(part, offset)?;
        let md5 = (offset > 0).then(|| finish_hex(hasher.clone()));
        self.conn.send(&compat(&FtpRequest::Get {
            path: name.to_owned(),
            offset,
            md5,
        }))?;
        let (partial, size, md5) = self.receive(name, partial, hasher, offset, None)?;
        partial.publish(dest, overwrite, true)?;
        Ok((size, md5, offset))
    }

    /// The rest of a `get` whose request is sent: the reply, the body from `offset`
    /// into `partial` (hashed on from `hasher`), and the md5 trailer checked. Returns
    /// the verified partial, ready to publish, with the size and md5. `tree` is the
    /// bar of a whole tree, which this file advances; without it, the file has its own.
    pub(super) fn receive(
        &mut self,
        name: &str,
        mut partial: PartFile,
        hasher: socklab_proto::checksum::Md5,
        offset: u64,
        tree: Option<&ProgressBar>,
    ) -> Result<(PartFile, u64, String)> {
        let reply: GetReply = match self.conn.read_reply() {
            Ok(r) => r,
            Err(e) => {
                let mismatch = matches!(
                    e,
                    Error::Remote {
                        code: ErrorCode::ChecksumMismatch,
                        ..
                    }
                );
                // A fresh partial holds nothing; one that is not a prefix of the
                // server's file can never become a good copy. Any other keeps its
                // bytes for a later resume.
                if offset == 0 || mismatch {
                    partial.discard();
                }
                return Err(e);
            }
        };
        if reply.name != name || validate_path(&reply.name).is_err() {
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
        if offset > 0 {
            eprintln!(
                "resuming {} at byte {offset} of {}",
                escape(name),
                reply.size
            );
        }
        let bar = match tree {
            Some(bar) => bar.clone(),
            None => progress_bar(self.progress, reply.size, offset, name),
        };
        let body = copy_hashed(
            self.conn.body()?,
            partial.file(),
            reply.size - offset,
            hasher,
            |n| bar.inc(n),
            "the download",
        )
        .map_err(Error::under_deadline);
        if tree.is_none() {
            bar.finish_and_clear();
        }
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
                return Err(lost_connection(e, held));
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
        Ok((partial, reply.size, md5))
    }

    /// `get NAME -o -`: the body straight to stdout, hashed on the way; no partial
    /// file and no rename. A mismatch is reported after the bytes were written, so
    /// the error says to discard them. Returns the size and md5.
    pub fn get_to_stdout(&mut self, name: &str) -> Result<(u64, String)> {
        validate_path(name)?;
        self.conn.send(&compat(&FtpRequest::Get {
            path: name.to_owned(),
            offset: 0,
            md5: None,
        }))?;
        let reply: GetReply = self.conn.read_reply()?;
        if reply.name != name {
            return Err(Error::BadHeader(format!(
                "the server sent {} when asked for {}",
                escape(&reply.name),
                escape(name)
            )));
        }
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let got = Cell::new(0);
        let hasher = copy_hashed(
            self.conn.body()?,
            &mut out,
            reply.size,
            Default::default(),
            |n| got.set(got.get() + n),
            "the download",
        )
        .map_err(Error::under_deadline)
        .map_err(|e| lost_connection(e, got.get()))?;
        std::io::Write::flush(&mut out).map_err(|e| Error::io("writing to stdout", e))?;
        let md5 = finish_hex(hasher);
        let trailer: Trailer = self
            .conn
            .read_header()?
            .ok_or(Error::UnexpectedEof("the md5 trailer"))?;
        if !trailer.md5.eq_ignore_ascii_case(&md5) {
            return Err(Error::ChecksumMismatch {
                expected: trailer.md5,
                actual: md5,
            });
        }
        Ok((reply.size, md5))
    }

    /// `mkdir PATH` (with `parents`, `mkdir -p`).
    pub fn mkdir(&mut self, path: &str, parents: bool) -> Result<()> {
        validate_path(path)?;
        self.call(&FtpRequest::Mkdir {
            path: path.to_owned(),
            parents,
            mtime: None,
        })
    }

    /// `delete PATH`: a file, a symlink or an empty directory.
    pub fn delete(&mut self, path: &str) -> Result<()> {
        validate_path(path)?;
        self.call(&FtpRequest::Delete {
            path: path.to_owned(),
        })
    }

    /// `rename FROM TO`, refusing to replace unless `overwrite`.
    pub fn rename(&mut self, from: &str, to: &str, overwrite: bool) -> Result<()> {
        validate_path(from)?;
        validate_path(to)?;
        self.call(&FtpRequest::Rename {
            from: from.to_owned(),
            to: to.to_owned(),
            overwrite,
        })
    }

    /// One request answered by `{"ok":true}`.
    fn call(&mut self, request: &FtpRequest) -> Result<()> {
        self.conn.send(request)?;
        self.conn.read_reply::<Empty>().map(drop)
    }
}

/// `request` as sent: a one-component path of a get, put or stat goes as `"name"`,
/// which servers from before paths (and `docs/python/file_server.py`) understand.
pub(super) fn compat(request: &FtpRequest) -> serde_json::Value {
    let mut v = serde_json::to_value(request).unwrap_or_default();
    let named = matches!(
        request,
        FtpRequest::Get { .. } | FtpRequest::Put { .. } | FtpRequest::Stat { .. }
    );
    if let Some(map) = v.as_object_mut().filter(|_| named) {
        if map
            .get("path")
            .and_then(|p| p.as_str())
            .is_some_and(|p| !p.contains('/'))
        {
            if let Some(path) = map.remove("path") {
                map.insert("name".into(), path);
            }
        }
    }
    v
}

/// How often a resumed put asks again while the server answers `busy`.
pub(super) const BUSY_RETRY: Duration = Duration::from_millis(200);

/// A transfer cut off by the peer says so, with how far it got and the command that
/// continues it; other errors pass.
pub(super) fn lost_connection(e: Error, moved: u64) -> Error {
    if e.is_disconnect() && !matches!(e, Error::Timeout(_)) {
        let hint = super::hints::resume_hint()
            .unwrap_or_else(|| "run the same command again to continue".into());
        Error::Io {
            context: format!("the server closed the connection after {moved} bytes; {hint}"),
            source: std::io::Error::new(std::io::ErrorKind::ConnectionAborted, e.to_string()),
        }
    } else {
        e
    }
}
