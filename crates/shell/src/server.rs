//! The shell server, in the order of lesson 3: bind and accept, then for each client
//! the login, the request loop, and each command run (spawned, its output streamed,
//! its exit status sent).

use crate::exec::run_command;
use crate::wire::{write_chunk, ExitStatus};
use socklab_auth::{server_login, LoginPolicy, Users};
use socklab_net::accept::{serve_framed, ServeOptions};
use socklab_net::socket::{announce, bind_addr, tcp_listener, warn_if_exposed, ListenOptions};
use socklab_net::{Connection, Deadlines};
use socklab_proto::{Error, ErrorCode, Request, Result};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the shell server behaves. `shell-server` fills it from its flags
/// ([`crate::args::ServerArgs`]), whose defaults are the documented limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Who may log in.
    pub users: Users,
    /// Where every session starts, and where a bare `cd` goes back to.
    pub workdir: PathBuf,
    /// Wall-clock limit of one command (`--timeout`).
    pub command_timeout: Duration,
    /// A logged-in session with no request for this long is closed (`--idle-timeout`).
    pub idle_timeout: Duration,
    /// Login deadline, failures allowed, delay per failure.
    pub login: LoginPolicy,
    /// The accept loop's cap and stop flag.
    pub serve: ServeOptions,
}

/// Reads the users file at `path`, refusing one with no users: nobody could log in.
pub(crate) fn load_users(path: &Path) -> Result<Users> {
    let users = Users::load(path)?;
    if users.is_empty() {
        return Err(Error::Usage(format!(
            "{} has no users, so nobody could log in; add one with: socklab-passwd --users {} NAME",
            path.display(),
            path.display()
        )));
    }
    Ok(users)
}

/// The directory every session starts in: `workdir`, or the current directory, made
/// absolute; it must be a directory.
pub(crate) fn session_root(workdir: Option<&Path>) -> Result<PathBuf> {
    let dir = match workdir {
        Some(dir) => dir.to_path_buf(),
        None => {
            std::env::current_dir().map_err(|e| Error::io("reading the current directory", e))?
        }
    };
    dir.canonicalize()
        .ok()
        .filter(|d| d.is_dir())
        .ok_or_else(|| Error::Usage(format!("--workdir {}: not a directory", dir.display())))
}

/// Binds `host:port` (warning loudly beyond loopback: nothing is encrypted), prints
/// `listening on ADDR`, and serves there until `config.serve.shutdown` is raised.
pub(crate) fn listen_and_run(host: &str, port: u16, config: ServerConfig) -> Result<()> {
    let listener = tcp_listener(bind_addr(host, port)?, ListenOptions::default())?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("reading the bound address", e))?;
    warn_if_exposed(addr, "shell-server");
    announce(addr);
    log::info!(
        "{} user(s) may log in; sessions start in {}",
        config.users.len(),
        config.workdir.display()
    );
    run(listener, config)
}

/// Serves the remote shell on `listener` until `config.serve.shutdown` is raised.
pub fn run(listener: TcpListener, config: ServerConfig) -> Result<()> {
    if config.users.is_empty() {
        return Err(Error::Usage(
            "the users file has no users, so nobody could log in; add one with socklab-passwd"
                .into(),
        ));
    }
    let opts = config.serve.clone();
    let deadlines = Deadlines {
        idle: config.idle_timeout,
        // A client that stops reading our output must not hold this thread forever:
        // after one command's worth of time with no progress, the write fails.
        stall: config.command_timeout.max(Duration::from_secs(1)),
    };
    let config = Arc::new(config);
    serve_framed(listener, &opts, deadlines, move |conn, peer| {
        session(conn, peer, &config)
    })
}

/// One client's session: login, then one command at a time.
fn session(conn: &mut Connection<TcpStream>, peer: &str, config: &ServerConfig) -> Result<()> {
    let user = server_login(conn, peer, &config.users, &config.login)?;
    log::info!("{peer}: logged in as {user}");
    let mut cwd = config.workdir.clone();
    // A malformed header gets `bad_request` and an idle session `timeout`; then we
    // hang up (the error ends the loop).
    while let Some(request) = conn.read_request()? {
        match request {
            Request::Exec { cmd } => exec(conn, peer, &user, &cmd, &mut cwd, config)?,
            Request::Login { .. } => {
                conn.send_error(&Error::bad_request(format!("already logged in as {user}")))?
            }
            _ => conn.send_error(&Error::bad_request(
                "the shell server only runs commands (op \"exec\"); files are ftp-server's job",
            ))?,
        }
    }
    Ok(())
}

/// Handles one `exec`: `cd` here, anything else through `/bin/sh -c`.
fn exec(
    conn: &mut Connection<TcpStream>,
    peer: &str,
    user: &str,
    cmd: &str,
    cwd: &mut PathBuf,
    config: &ServerConfig,
) -> Result<()> {
    if cmd.trim().is_empty() {
        return conn.send_ok(&ExitStatus {
            exit: Some(0),
            ..Default::default()
        });
    }
    if let Some(target) = parse_cd(cmd) {
        return match change_dir(cwd, target, &config.workdir) {
            Ok(dir) => {
                log::info!("{peer} ({user}): cd {}", dir.display());
                *cwd = dir;
                let reply = ExitStatus {
                    exit: Some(0),
                    cwd: Some(cwd.display().to_string()),
                    ..Default::default()
                };
                conn.send_ok(&reply)
            }
            Err(e) => conn.send_error(&e),
        };
    }
    // The command itself goes to the debug log only: commands can carry secrets
    // (`mysql -pSECRET`), and the info log is for who did what, not with what.
    log::debug!("{peer} ({user}): exec {cmd:?} in {}", cwd.display());
    let started = Instant::now();
    // Output goes out through a second handle on the socket, which shares its send
    // timeout, while the runner watches the first for the client leaving.
    let mut out = conn
        .get_ref()
        .try_clone()
        .map_err(|e| Error::io("cloning the client socket", e))?;
    let result = run_command(
        cmd,
        cwd,
        config.command_timeout,
        Some(conn.get_ref()),
        |which, data| write_chunk(&mut out, which, data),
    );
    match result {
        Ok(status) => {
            let how = match (status.exit, status.describe()) {
                (Some(code), _) => format!("exit {code}"),
                (None, Some(what)) => what,
                (None, None) => "no exit code".into(),
            };
            log::info!(
                "{peer} ({user}): command ended after {:.3} s: {how}",
                started.elapsed().as_secs_f64()
            );
            conn.send_ok(&status)
        }
        Err(e @ (Error::Refused { .. } | Error::Io { .. })) => {
            // A NUL in the command, or a shell that could not start (the session's
            // directory was removed): tell the client and keep the session.
            log::warn!("{peer} ({user}): {e}");
            conn.send_error(&e)
        }
        Err(e) => Err(e),
    }
}

/// Characters that make `cd ARG` something only a shell can interpret (`cd $HOME`,
/// `cd a && ls`): such commands go to `/bin/sh`, where `cd` only affects that one
/// command, as it would in `sh -c`.
const SHELL_SPECIAL: &[char] = &[
    ';', '&', '|', '<', '>', '(', ')', '$', '`', '\\', '"', '\'', '*', '?', '[', ']', '#', '{',
    '}', '!',
];

/// Recognises the session's own `cd`: `cd` alone, or `cd DIR` with one plain word.
/// `Some(None)` is a bare `cd`; `None` means the command is not ours.
fn parse_cd(cmd: &str) -> Option<Option<&str>> {
    let mut words = cmd.split_whitespace();
    if words.next()? != "cd" {
        return None;
    }
    let target = words.next();
    if words.next().is_some() || target.is_some_and(|t| t.contains(SHELL_SPECIAL)) {
        return None;
    }
    Some(target)
}

/// Resolves `cd TARGET` from `cwd`: relative to it, `~` is the server's `$HOME`, and
/// no target goes back to `workdir`. The result must be an existing directory.
fn change_dir(cwd: &Path, target: Option<&str>, workdir: &Path) -> Result<PathBuf> {
    let Some(target) = target else {
        return Ok(workdir.to_path_buf());
    };
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    let path = match target.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => match home() {
            Some(h) => h.join(rest.trim_start_matches('/')),
            None => {
                return Err(Error::refused(
                    ErrorCode::NotFound,
                    "cd: the server has no HOME",
                ))
            }
        },
        _ => cwd.join(target),
    };
    let not_found = |why: &str| Error::refused(ErrorCode::NotFound, format!("cd: {target}: {why}"));
    let canon = path.canonicalize().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => not_found("no such file or directory"),
        std::io::ErrorKind::PermissionDenied => not_found("permission denied"),
        _ => not_found(&e.to_string()),
    })?;
    if !canon.is_dir() {
        return Err(not_found("not a directory"));
    }
    Ok(canon)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_plain_cd() {
        assert_eq!(parse_cd("cd"), Some(None));
        assert_eq!(parse_cd("  cd   /tmp "), Some(Some("/tmp")));
        assert_eq!(parse_cd("cd ~/x"), Some(Some("~/x")));
        assert_eq!(parse_cd("cd /tmp && ls"), None);
        assert_eq!(parse_cd("cd $HOME"), None);
        assert_eq!(parse_cd("cd a b"), None);
        assert_eq!(parse_cd("cdrom"), None);
        assert_eq!(parse_cd("ls"), None);
    }

    #[test]
    fn change_dir_resolves_relative_and_refuses_missing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("file"), b"x").unwrap();
        assert_eq!(
            change_dir(&root, Some("sub"), &root).unwrap(),
            root.join("sub")
        );
        assert_eq!(
            change_dir(&root.join("sub"), Some(".."), &root).unwrap(),
            root
        );
        assert_eq!(change_dir(&root.join("sub"), None, &root).unwrap(), root);
        let err = change_dir(&root, Some("nope"), &root).unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        assert!(
            err.to_string()
                .contains("cd: nope: no such file or directory"),
            "{err}"
        );
        let err = change_dir(&root, Some("file"), &root).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
    }
}
