//! The shell server: log in, then run commands until the client leaves.

use crate::exec::run_command;
use crate::wire::{write_chunk, ExitStatus};
use socklab_proto::auth::{server_login, LoginPolicy, Users};
use socklab_proto::msg::{next_request, write_error, write_failure, write_ok};
use socklab_proto::net::set_nodelay;
use socklab_proto::server::{serve_framed, ServeOptions};
use socklab_proto::{Error, ErrorCode, Request, Result};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the shell server behaves. The defaults of each field are the documented limits
/// in `socklab_proto::limits`; tests shorten them.
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

/// Serves the remote shell on `listener` until `config.serve.shutdown` is raised.
pub fn run(listener: TcpListener, config: ServerConfig) -> Result<()> {
    if config.users.is_empty() {
        return Err(Error::Other(
            "the users file has no users, so nobody could log in; add one with socklab-passwd"
                .into(),
        ));
    }
    let opts = config.serve.clone();
    let config = Arc::new(config);
    serve_framed(listener, &opts, move |stream, peer| {
        session(stream, peer, &config)
    })
}

/// One client's session: login, then one command at a time.
fn session(mut stream: TcpStream, peer: &str, config: &ServerConfig) -> Result<()> {
    // Small request/reply messages: send them at once rather than wait for Nagle.
    set_nodelay(&stream)?;
    // A client that stops reading our output must not hold this thread forever: after
    // one command's worth of time with no progress, the write fails and we hang up.
    stream
        .set_write_timeout(Some(config.command_timeout.max(Duration::from_secs(1))))
        .map_err(|e| Error::io("setting the write timeout", e))?;

    let user = server_login(&mut stream, peer, &config.users, &config.login)?;
    log::info!("{peer}: logged in as {user}");
    let mut cwd = config.workdir.clone();
    loop {
        // server_login leaves its own timeout on the socket; between commands the
        // idle timeout is what applies.
        stream
            .set_read_timeout(Some(config.idle_timeout))
            .map_err(|e| Error::io("setting the idle timeout", e))?;
        // A malformed header gets `bad_request` and an idle session `timeout`; then
        // we hang up (the error ends the loop).
        let Some(request) = next_request(&mut stream, config.idle_timeout)? else {
            return Ok(());
        };
        match request {
            Request::Exec { cmd } => exec(&mut stream, peer, &user, &cmd, &mut cwd, config)?,
            Request::Login { .. } => write_failure(
                &mut stream,
                ErrorCode::BadRequest,
                &format!("already logged in as {user}"),
            )?,
            _ => write_failure(
                &mut stream,
                ErrorCode::BadRequest,
                "the shell server only runs commands (op \"exec\"); files are ftp-server's job",
            )?,
        }
    }
}

/// Handles one `exec`: `cd` here, anything else through `/bin/sh -c`.
fn exec(
    stream: &mut TcpStream,
    peer: &str,
    user: &str,
    cmd: &str,
    cwd: &mut PathBuf,
    config: &ServerConfig,
) -> Result<()> {
    if cmd.trim().is_empty() {
        return write_ok(
            stream,
            &ExitStatus {
                exit: Some(0),
                ..Default::default()
            },
        );
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
                write_ok(stream, &reply)
            }
            Err(e) => write_error(stream, &e),
        };
    }
    // The command itself goes to the debug log only: commands can carry secrets
    // (`mysql -pSECRET`), and the info log is for who did what, not with what.
    log::debug!("{peer} ({user}): exec {cmd:?} in {}", cwd.display());
    let started = Instant::now();
    let mut out = stream
        .try_clone()
        .map_err(|e| Error::io("cloning the client socket", e))?;
    let result = run_command(
        cmd,
        cwd,
        config.command_timeout,
        Some(&*stream),
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
            write_ok(stream, &status)
        }
        Err(e @ (Error::BadRequest(_) | Error::Other(_))) => {
            // A NUL in the command, or a shell that could not start (the session's
            // directory was removed): tell the client and keep the session.
            log::warn!("{peer} ({user}): {e}");
            write_error(stream, &e)
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
pub fn parse_cd(cmd: &str) -> Option<Option<&str>> {
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
pub fn change_dir(cwd: &Path, target: Option<&str>, workdir: &Path) -> Result<PathBuf> {
    let Some(target) = target else {
        return Ok(workdir.to_path_buf());
    };
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    let path = match target.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => match home() {
            Some(h) => h.join(rest.trim_start_matches('/')),
            None => {
                return Err(Error::Remote {
                    code: ErrorCode::NotFound,
                    message: "cd: the server has no HOME".into(),
                })
            }
        },
        _ => cwd.join(target),
    };
    let not_found = |why: &str| Error::Remote {
        code: ErrorCode::NotFound,
        message: format!("cd: {target}: {why}"),
    };
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
