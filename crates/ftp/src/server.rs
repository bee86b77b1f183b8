//! The file server: log in (or browse anonymously), then `list`, `stat`, `get` and
//! `put` until the client leaves.
//!
//! In reading order: [`prepare`] checks the configuration and opens the root, and
//! [`Prepared::run`] accepts connections; `session` logs the client in, then runs its
//! requests one by one; `get` sends the header, the body by `sendfile(2)` and the md5
//! trailer; `put` claims the name, answers ready with the offset to start from, takes
//! the body, reads the trailer, checks it, and publishes the file. The helpers they
//! share come last.

mod files;

use crate::request::FtpRequest;
use crate::store::Root;
use crate::wire::Listing;
use files::{get, put, refuse_put, After, Put};
use socklab_auth::{answer_login, server_login, LoginPolicy, Users};
use socklab_net::accept::{serve_framed_tls, FramedStream, FramedTls, ServeOptions};
use socklab_net::tls::TlsAcceptor;
use socklab_net::{Connection, Deadlines};
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
    /// The same for a session that has not logged in (`--anonymous-idle-timeout`;
    /// never longer than `idle_timeout`).
    pub anonymous_idle_timeout: Duration,
    /// How long interrupted uploads are kept for `--resume` (`--partial-ttl`).
    pub partial_ttl: Duration,
    /// Login deadline, failures allowed, delay per failure.
    pub login: LoginPolicy,
    /// The accept loop's cap and stop flag.
    pub serve: ServeOptions,
    /// TLS (`--tls`, on by default beyond loopback): every connection's handshake
    /// must be over within the login deadline. `None` serves plain TCP.
    pub tls: Option<TlsAcceptor>,
}

/// A client's connection: the socket, or a TLS session over it.
type Conn = Connection<FramedStream<TcpStream>>;

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
            anonymous_idle_timeout: crate::limits::ANONYMOUS_IDLE_TIMEOUT,
            partial_ttl: crate::limits::PARTIAL_TTL,
            login: LoginPolicy::default(),
            serve: ServeOptions::default(),
            tls: None,
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
        let tls = config.tls.clone().map(|acceptor| FramedTls {
            acceptor,
            handshake_timeout: config.login.deadline,
        });
        let shared = Arc::new(self.shared);
        serve_framed_tls(listener, &opts, deadlines, tls, move |conn, peer| {
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
fn session(conn: &mut Conn, peer: &str, shared: &Shared) -> Result<()> {
    let config = &shared.config;
    let mut user = None;
    if !config.anonymous {
        let users = config.users.as_ref().ok_or(Error::AuthRequired)?;
        let name = server_login(conn, peer, users, &config.login)?;
        log::info!("{peer}: logged in as {name}");
        user = Some(name);
    } else {
        // Never longer than a logged-in session's.
        conn.set_idle(config.anonymous_idle_timeout.min(config.idle_timeout));
    }
    let mut failures = 0;
    // A malformed header gets `bad_request` and an idle session `timeout`; then we
    // hang up (the error ends the loop).
    while let Some(request) = conn.read_request::<FtpRequest>()? {
        if request.writes() && (config.read_only || user.is_none()) {
            let why = if config.read_only {
                "this server is read-only (--read-only)"
            } else {
                "anonymous users may only list, stat and download; log in to change files"
            };
            let refusal = Error::refused(ErrorCode::Forbidden, why);
            if let FtpRequest::Put {
                path, size, eager, ..
            } = &request
            {
                // A body may follow a put: the refusal keeps the stream in step.
                let want = Put {
                    user: user.as_deref().unwrap_or("anonymous"),
                    path,
                    size: *size,
                    resume: false,
                    overwrite: false,
                    mtime: None,
                    eager: *eager,
                };
                match refuse_put(conn, peer, &want, &refusal)? {
                    After::Continue => continue,
                    After::Close => return Ok(()),
                }
            }
            conn.send_error(&refusal)?;
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
                    conn.set_idle(config.idle_timeout);
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
                eager,
            } => {
                let who = user.as_deref().unwrap_or("anonymous");
                log::debug!("{peer} ({who}): put {} ({size} bytes)", escape(&path));
                let want = Put {
                    user: who,
                    path: &path,
                    size,
                    resume,
                    overwrite,
                    mtime,
                    eager,
                };
                if put(conn, peer, shared, &want)? == After::Close {
                    return Ok(());
                }
            }
            FtpRequest::Mkdir {
                path,
                parents,
                mtime,
            } => {
                let done = root.mkdir(&path, parents, mtime).map(|()| Empty {});
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

/// Answers a request with `reply` or with the refusal that replaced it.
fn reply_with<T: serde::Serialize>(conn: &mut Conn, peer: &str, reply: Result<T>) -> Result<()> {
    match reply {
        Ok(value) => conn.send_ok(&value),
        Err(e) => reply_error(conn, peer, &e),
    }
}

/// Answers a refused request; the connection stays in step, so the session goes on.
fn reply_error(conn: &mut Conn, peer: &str, e: &Error) -> Result<()> {
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
