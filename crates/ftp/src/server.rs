//! The file server: log in (or browse anonymously), then `list`, `stat`, `get` and
//! `put` until the client leaves.
//!
//! In reading order: [`prepare`] checks the configuration and opens the root, and
//! [`Prepared::run`] accepts connections; `session` logs the client in, then runs its
//! requests one by one; `get` sends the header, the body by `sendfile(2)` and the md5
//! trailer; `put` claims the name, answers ready with the offset to start from, takes
//! the body, reads the trailer, checks it, and publishes the file. The helpers they
//! share come last.

use crate::paths::validate_path;
use crate::request::{read_request, FtpRequest};
use crate::store::{Root, Upload};
use crate::transfer::{copy_hashed, send_file_hashed, send_rest_hashed};
use crate::wire::{GetReply, Listing, PutDone, PutReady, Trailer};
use socklab_auth::{answer_login, server_login, LoginPolicy, Users};
use socklab_net::accept::{serve_framed, ServeOptions};
use socklab_net::{Connection, Deadlines};
use socklab_proto::checksum::{finish_hex, hash_prefix};
use socklab_proto::limits::MAX_HEADER_LEN;
use socklab_proto::msg::Empty;
use socklab_proto::names::escape;
use socklab_proto::{Error, ErrorCode, Result};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How the file server behaves. Each default is the documented limit in
/// [`crate::limits`] or `socklab_net::limits`; tests shorten them.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The directory served (`--root`).
    pub root: PathBuf,
    /// Who may log in (`--users`); `None` only with `anonymous`.
    pub users: Option<Users>,
    /// Serve `list`, `stat` and `get` without login (`--anonymous`). Anonymous clients
    /// can never write.
    pub anonymous: bool,
    /// Refuse every `put`, even from logged-in users (`--read-only`).
    pub read_only: bool,
    /// The largest upload accepted (`--max-file-size`).
    pub max_file_size: u64,
    /// A transfer that moves no byte for this long is abandoned (`--stall-timeout`).
    pub stall_timeout: Duration,
    /// A session with no request for this long is closed (`--idle-timeout`).
    pub idle_timeout: Duration,
    /// How long interrupted uploads are kept for `--resume` (`--partial-ttl`).
    pub partial_ttl: Duration,
    /// Login deadline, failures allowed, delay per failure.
    pub login: LoginPolicy,
    /// The accept loop's cap and stop flag.
    pub serve: ServeOptions,
}

impl ServerConfig {
    /// A configuration with every documented default, serving `root`.
    pub fn new(root: PathBuf, users: Option<Users>) -> Self {
        ServerConfig {
            root,
            users,
            anonymous: false,
            read_only: false,
            max_file_size: crate::limits::MAX_FILE_SIZE,
            stall_timeout: socklab_net::limits::STALL_TIMEOUT,
            idle_timeout: socklab_net::limits::IDLE_TIMEOUT,
            partial_ttl: crate::limits::PARTIAL_TTL,
            login: LoginPolicy::default(),
            serve: ServeOptions::default(),
        }
    }
}

#[derive(Debug)]
struct Shared {
    config: ServerConfig,
    root: Root,
}

/// Serves the files of `config.root` on `listener` until `config.serve.shutdown` is
/// raised: [`prepare`], then [`Prepared::run`].
pub fn run(listener: TcpListener, config: ServerConfig) -> Result<()> {
    prepare(config)?.run(listener)
}

/// A configuration that has been checked, with its root opened and cleaned: what a
/// server binary makes before it binds, so that a mistake is reported before
/// `listening on`, and a script that sees that line finds the root ready.
#[derive(Debug)]
pub struct Prepared {
    shared: Shared,
}

impl Prepared {
    /// Serves on `listener` until `config.serve.shutdown` is raised.
    pub fn run(self, listener: TcpListener) -> Result<()> {
        let config = &self.shared.config;
        let opts = config.serve.clone();
        let deadlines = Deadlines {
            idle: config.idle_timeout,
            stall: config.stall_timeout,
        };
        let shared = Arc::new(self.shared);
        serve_framed(listener, &opts, deadlines, move |conn, peer| {
            session(conn, peer, &shared)
        })
    }
}

/// Checks `config` (someone must be able to log in) and opens its root (which deletes
/// what a previous run left in the partial directory past its TTL).
pub fn prepare(config: ServerConfig) -> Result<Prepared> {
    let has_users = config.users.as_ref().is_some_and(|u| !u.is_empty());
    if !has_users && !config.anonymous {
        return Err(Error::Usage(
            "nobody could log in: give --users FILE with at least one user (add one with \
             socklab-passwd), or --anonymous for read-only access"
                .into(),
        ));
    }
    let root = Root::open(&config.root, config.partial_ttl)?;
    log::info!(
        "serving {}{}{}",
        root.dir().display(),
        if config.read_only { " read-only" } else { "" },
        if config.anonymous {
            ", anonymous read access allowed"
        } else {
            ""
        }
    );
    Ok(Prepared {
        shared: Shared { config, root },
    })
}

/// One client's session.
fn session(conn: &mut Connection<TcpStream>, peer: &str, shared: &Shared) -> Result<()> {
    let config = &shared.config;
    let mut user = None;
    if !config.anonymous {
        let users = config.users.as_ref().ok_or(Error::AuthRequired)?;
        let name = server_login(conn, peer, users, &config.login)?;
        log::info!("{peer}: logged in as {name}");
        user = Some(name);
    }
    let mut failures = 0;
    // A malformed header gets `bad_request` and an idle session `timeout`; then we
    // hang up (the error ends the loop).
    while let Some(request) = read_request(conn, config.idle_timeout)? {
        if request.writes() && (config.read_only || user.is_none()) {
            let why = if config.read_only {
                "this server is read-only (--read-only)"
            } else {
                "anonymous users may only list, stat and download; log in to change files"
            };
            // Like every other refusal of a write, the session goes on: a client
            // sends a body only after an ok reply, so nothing is in flight.
            conn.send_failure(ErrorCode::Forbidden, why)?;
            continue;
        }
        let root = &shared.root;
        match request {
            FtpRequest::Login {
                user: name,
                password,
            } => {
                if let Some(current) = &user {
                    conn.send_failure(
                        ErrorCode::BadRequest,
                        &format!("already logged in as {current}"),
                    )?;
                    continue;
                }
                // Only an anonymous session gets here: it may log in to gain writes. A
                // server with no users file refuses every name, at the same pace.
                let none = Users::default();
                let users = config.users.as_ref().unwrap_or(&none);
                let policy = &config.login;
                let answered =
                    answer_login(conn, peer, users, &name, password, &mut failures, policy);
                if answered? {
                    log::info!("{peer}: logged in as {name}");
                    user = Some(name);
                }
            }
            FtpRequest::List { path } => {
                let reply = root.list(path.as_deref()).map(fit_listing);
                reply_with(conn, peer, reply)?;
            }
            FtpRequest::Stat { path } => reply_with(conn, peer, root.stat(&path))?,
            FtpRequest::Get { path, offset, md5 } => {
                get(conn, peer, shared, &path, offset, md5.as_deref())?
            }
            FtpRequest::Put {
                path,
                size,
                resume,
                overwrite,
                mtime,
            } => {
                let who = user.as_deref().unwrap_or("anonymous");
                log::info!("{peer} ({who}): put {} ({size} bytes)", escape(&path));
                let want = Put {
                    user: who,
                    path: &path,
                    size,
                    resume,
                    overwrite,
                    mtime,
                };
                put(conn, peer, shared, &want)?;
            }
            FtpRequest::Mkdir { path, parents } => {
                let done = root.mkdir(&path, parents).map(|()| Empty {});
                reply_with(conn, peer, done)?;
            }
            FtpRequest::Delete { path } => {
                let done = root.delete(&path).map(|()| Empty {});
                reply_with(conn, peer, done)?;
            }
            FtpRequest::Rename {
                from,
                to,
                overwrite,
            } => {
                let done = root.rename(&from, &to, overwrite).map(|()| Empty {});
                reply_with(conn, peer, done)?;
            }
            FtpRequest::Exec { .. } => conn.send_failure(
                ErrorCode::BadRequest,
                "the file server does not run commands (that is shell-server's job)",
            )?,
        }
    }
    Ok(())
}

/// `get`: the header, the bytes from `offset`, and the whole file's md5 in a trailer.
/// A resume (`offset` > 0) that says what it holds (`md5`) is checked first: the
/// prefix is hashed and compared before a byte more is sent.
fn get(
    conn: &mut Connection<TcpStream>,
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
    conn.send_ok(&GetReply {
        name: path.to_owned(),
        size,
    })?;
    // The trailer's md5 covers the whole file, so the part the client already holds
    // is hashed too (read from disk, not sent), on the hashing thread while the rest
    // is sent. If the file shrinks under us we cannot send `size` bytes: the send
    // fails and we hang up, and the client's length check catches it.
    let socket = conn.body()?;
    let hasher = match prefix {
        Some(h) => send_rest_hashed(&file, socket, offset, size, h, |_| {}, "the file"),
        None => send_file_hashed(&file, socket, offset, size, |_| {}, "the file"),
    }
    .map_err(Error::under_deadline)?;
    let md5 = finish_hex(hasher);
    conn.send(&Trailer { md5: md5.clone() })?;
    log::info!(
        "{peer}: sent {} ({size} bytes from {offset}, md5 {md5})",
        escape(path)
    );
    Ok(())
}

/// What a `put` asks for.
#[derive(Debug)]
struct Put<'a> {
    user: &'a str,
    path: &'a str,
    size: u64,
    resume: bool,
    overwrite: bool,
    mtime: Option<u64>,
}

/// `put`: claim the path, tell the client where to start (and, resuming, the md5 of
/// what is held), stream the body into the partial file while hashing it, check the
/// trailer, then publish atomically.
fn put(
    conn: &mut Connection<TcpStream>,
    peer: &str,
    shared: &Shared,
    want: &Put<'_>,
) -> Result<()> {
    let root = &shared.root;
    let max = shared.config.max_file_size;
    let (name, size, overwrite) = (want.path, want.size, want.overwrite);
    // Every refusal here comes before the client sends a body byte, so the
    // connection stays in step and the session goes on.
    let checks = validate_path(name)
        .and_then(|()| {
            if size > max {
                Err(Error::refused(
                    ErrorCode::TooLarge,
                    format!("{size} bytes is over this server's limit of {max} bytes"),
                ))
            } else {
                Ok(())
            }
        })
        .and_then(|()| root.claim(name));
    let _claim = match checks {
        Ok(claim) => claim,
        Err(e) => return reply_error(conn, peer, &e),
    };
    let mut upload = match root.begin_upload(want.user, name, size, want.resume, overwrite) {
        Ok(u) => u,
        Err(e) => return reply_error(conn, peer, &e),
    };
    let offset = upload.offset;
    if offset > 0 {
        log::info!(
            "{peer}: resuming {} at byte {offset} of {size}",
            escape(name)
        );
    }
    let md5 = (offset > 0).then(|| finish_hex(upload.hasher.clone()));
    conn.send_ok(&PutReady { offset, md5 })?;

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
            keep_partial(upload, peer, name, size);
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
            keep_partial(upload, peer, name, size);
            return Err(Error::UnexpectedEof("the trailer"));
        }
        Err(e) if e.is_disconnect() => {
            keep_partial(upload, peer, name, size);
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
        return conn.send_error(&e);
    }
    match upload.commit(overwrite, want.mtime) {
        Ok(()) => {
            log::info!("{peer}: stored {} ({size} bytes, md5 {md5})", escape(name));
            conn.send_ok(&PutDone {
                name: name.to_owned(),
                size,
                md5,
            })
        }
        Err(e) => reply_error(conn, peer, &e),
    }
}

/// Answers a request with `reply` or with the refusal that replaced it.
fn reply_with<T: serde::Serialize>(
    conn: &mut Connection<TcpStream>,
    peer: &str,
    reply: Result<T>,
) -> Result<()> {
    match reply {
        Ok(value) => conn.send_ok(&value),
        Err(e) => reply_error(conn, peer, &e),
    }
}

/// Answers a refused request; the connection stays in step, so the session goes on.
fn reply_error(conn: &mut Connection<TcpStream>, peer: &str, e: &Error) -> Result<()> {
    match e.code() {
        ErrorCode::Internal => log::error!("{peer}: {e}"),
        _ => log::info!("{peer}: refused: {e}"),
    }
    conn.send_error(e)
}

/// Cuts a listing so its JSON fits in one header; a huge directory says `truncated`
/// rather than failing. A production server would page through it instead.
fn fit_listing(files: Vec<crate::wire::FileInfo>) -> Listing {
    // Room for `{"ok":true,"files":[],"truncated":true}` and some slack.
    let budget = MAX_HEADER_LEN - 128;
    let mut used = 0;
    let mut kept = Vec::new();
    let total = files.len();
    for f in files {
        // Escaped names can be up to six times longer in JSON than on disk.
        let cost = serde_json::to_string(&f).map_or(budget, |s| s.len() + 1);
        if used + cost > budget {
            break;
        }
        used += cost;
        kept.push(f);
    }
    let truncated = kept.len() < total;
    Listing {
        files: kept,
        truncated,
    }
}

/// Keeps what arrived of an upload that stopped short, for a later `put --resume`, and
/// logs how much that is.
fn keep_partial(upload: Upload, peer: &str, name: &str, size: u64) {
    let held = upload.keep();
    log::info!(
        "{peer}: kept partial upload of {} ({held} of {size} bytes) for --resume",
        escape(name)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::FileInfo;

    #[test]
    fn a_huge_listing_is_cut_to_fit_one_header() {
        let files: Vec<FileInfo> = (0..2000)
            .map(|i| FileInfo {
                name: format!("{i:0>200}"),
                kind: Default::default(),
                size: i,
                mtime: 0,
            })
            .collect();
        let listing = fit_listing(files);
        assert!(listing.truncated);
        assert!(!listing.files.is_empty());
        let json = serde_json::to_vec(&listing).unwrap();
        assert!(json.len() < MAX_HEADER_LEN - 16, "{}", json.len());
        let small = fit_listing(vec![FileInfo {
            name: "a".into(),
            kind: Default::default(),
            size: 1,
            mtime: 2,
        }]);
        assert!(!small.truncated);
        assert_eq!(small.files.len(), 1);
    }
}
