//! The shell server, in the order of lesson 3: bind and accept, then for each client
//! the login, the request loop, and each command run (spawned, its output streamed,
//! its exit status sent).

use crate::cd::{parse_cd, resolve};
use crate::env::{command_env, Account};
use crate::exec::{run_job, Job, JobIo};
use crate::link::SessionKeeper;
use crate::request::{is_stdin_frame, parse_inbound, ShellRequest};
use crate::tls::{Accepted, TimedListener};
use crate::wire::ExitStatus;
use serde_json::{Map, Value};
use socklab_auth::{server_login, LoginPolicy, Users};
use socklab_net::accept::{serve_framed_tls, FramedStream, FramedTls, ServeOptions};
use socklab_net::socket::{announce, bind_addr, tcp_listener, warn_if_exposed, ListenOptions};
use socklab_net::{Connection, Deadlines};
use socklab_proto::msg::parse_header;
use socklab_proto::{Error, Request, Result};
use std::ffi::OsString;
use std::net::TcpListener;
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
    /// The account commands run as: `HOME`, `USER`, `SHELL`, the login shell.
    pub account: Account,
    /// Variables of the server's environment that commands get too (`--pass-env`).
    pub pass_env: Vec<String>,
    /// TLS (`--tls`): the acceptor; its handshake counts against the login deadline.
    pub tls: Option<socklab_net::tls::TlsAcceptor>,
}

/// A client's connection on the server: the socket, or a TLS session over it.
pub(crate) type ServerConn = Connection<FramedStream<Accepted>>;

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

/// Binds `host:port`, makes the TLS acceptor when `tls` says to for that address
/// (warning loudly about a plain server beyond loopback), prints `listening on ADDR`
/// (and `fingerprint SHA256:…` with TLS), and serves there until
/// `config.serve.shutdown` is raised.
pub(crate) fn listen_and_run(
    host: &str,
    port: u16,
    tls: &socklab_net::tls::ServerTlsArgs,
    users_dir: Option<&Path>,
    mut config: ServerConfig,
) -> Result<()> {
    let listener = tcp_listener(bind_addr(host, port)?, ListenOptions::default())?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("reading the bound address", e))?;
    config.tls = tls
        .identity_for(addr.ip(), users_dir, "shell-server")?
        .map(|identity| crate::tls::acceptor(&identity))
        .transpose()?;
    if config.tls.is_none() {
        warn_if_exposed(addr, "shell-server");
    }
    announce(addr);
    if let Some(acceptor) = &config.tls {
        socklab_net::tls::announce(acceptor.fingerprint());
    }
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
    crate::orphans::become_subreaper()?;
    let opts = config.serve.clone();
    let deadlines = Deadlines {
        idle: config.idle_timeout,
        // A client that stops reading our output must not hold this thread forever:
        // after one command's worth of time with no progress, the write fails.
        stall: config.command_timeout.max(Duration::from_secs(1)),
    };
    let tls = config.tls.clone().map(|acceptor| FramedTls {
        acceptor,
        // The login deadline, from accept: what the handshake leaves is the login's.
        handshake_timeout: config.login.deadline,
    });
    let config = Arc::new(config);
    serve_framed_tls(
        TimedListener(listener),
        &opts,
        deadlines,
        tls,
        move |conn, peer| session(conn, peer, &config),
    )
}

/// One client's session: login, then one request at a time.
fn session(conn: &mut ServerConn, peer: &str, config: &ServerConfig) -> Result<()> {
    // The login deadline runs from accept: the handshake has spent part of it.
    let mut login = config.login.clone();
    let spent = conn.get_ref().get_ref().at().elapsed();
    login.deadline = login
        .deadline
        .saturating_sub(spent)
        .max(Duration::from_millis(1));
    let user = server_login(conn, peer, &config.users, &login)?;
    log::info!("{peer}: logged in as {user}");
    let mut dirs = Dirs {
        cwd: config.workdir.clone(),
        previous: config.workdir.clone(),
    };
    // The session's keeper, started by its first command on pipes; dropping it at
    // the end of the session (however it ends) ends everything below it.
    let mut keeper: Option<SessionKeeper> = None;
    // A malformed header gets `bad_request` and an idle session `timeout`; then we
    // hang up (the error ends the loop).
    while let Some(map) = conn.read_request::<Map<String, Value>>()? {
        if is_stdin_frame(&map) {
            // Input the client sent before it saw its command end: nobody wants it.
            parse_inbound(map, conn.body()?).map_err(Error::under_deadline)?;
            continue;
        }
        let op = map
            .get("op")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned();
        // A well-formed request the shell does not serve is answered and the session
        // goes on; a malformed one (unknown op, wrong types) is answered and closes
        // it, as `Connection::read_request` does.
        let misplaced = match op.as_str() {
            "login" => Some(format!("already logged in as {user}")),
            "resize" => Some("resize: no command is running".into()),
            "list" | "stat" | "get" | "put" | "mkdir" | "delete" | "rename" => Some(
                "the shell server only runs commands (op \"exec\" or \"pty\"); files are ftp-server's job".into(),
            ),
            _ => None,
        };
        if let Some(why) = misplaced {
            // Still a malformed one if it would not parse as what it claims to be.
            if op != "resize" {
                if let Err(e) = parse_header::<Request>(map) {
                    let _ = conn.send_error(&e);
                    return Err(e);
                }
            }
            conn.send_error(&Error::bad_request(why))?;
            continue;
        }
        match parse_header::<ShellRequest>(map) {
            Ok(request) => run_request(conn, peer, &user, request, &mut dirs, config, &mut keeper)?,
            Err(e) => {
                let _ = conn.send_error(&e);
                return Err(e);
            }
        }
    }
    Ok(())
}

/// The session's directory and the one before it (`cd -`).
#[derive(Debug)]
struct Dirs {
    cwd: PathBuf,
    previous: PathBuf,
}

/// Handles one `exec` or `pty`: the session's `cd` here, anything else under a keeper.
fn run_request(
    conn: &mut ServerConn,
    peer: &str,
    user: &str,
    request: ShellRequest,
    dirs: &mut Dirs,
    config: &ServerConfig,
    keeper: &mut Option<SessionKeeper>,
) -> Result<()> {
    let (cmd, io, term, env) = match request {
        ShellRequest::Exec { cmd, stdin, env } => (Some(cmd), JobIo::Pipes { stdin }, None, env),
        ShellRequest::Pty {
            term,
            rows,
            cols,
            cmd,
            env,
        } => (cmd, JobIo::Pty { rows, cols }, Some(term), env),
    };
    if let Some(cmd) = &cmd {
        if cmd.trim().is_empty() && matches!(io, JobIo::Pipes { .. }) {
            return conn.send_ok(&ExitStatus {
                exit: Some(0),
                ..Default::default()
            });
        }
        if let Some(cd) = parse_cd(cmd) {
            let to = cd.and_then(|cd| {
                resolve(
                    &cd,
                    &dirs.cwd,
                    &dirs.previous,
                    &config.workdir,
                    &config.account.home,
                )
            });
            return match to {
                Ok(dir) => {
                    log::info!("{peer} ({user}): cd {}", dir.display());
                    dirs.previous = std::mem::replace(&mut dirs.cwd, dir);
                    conn.send_ok(&ExitStatus {
                        exit: Some(0),
                        cwd: Some(dirs.cwd.display().to_string()),
                        ..Default::default()
                    })
                }
                Err(e) => conn.send_error(&e),
            };
        }
    }
    let prepared = (|| {
        let env = command_env(
            &config.account,
            user,
            term.as_deref(),
            &env,
            &config.pass_env,
        )?;
        let (argv0, program, args) = match &cmd {
            Some(cmd) => Job::shell_command(cmd)?,
            None => login_shell(&config.account.shell),
        };
        Ok::<_, Error>(Job {
            argv0,
            program,
            args,
            env,
            cwd: &dirs.cwd,
            timeout: config.command_timeout,
            io,
        })
    })();
    let job = match prepared {
        Ok(job) => job,
        Err(e) => return conn.send_error(&e),
    };
    // The command itself goes to the debug log only: commands can carry secrets
    // (`mysql -pSECRET`), and the info log is for who did what, not with what.
    log::debug!(
        "{peer} ({user}): {:?} {cmd:?} in {}",
        job.io,
        dirs.cwd.display()
    );
    let started = Instant::now();
    // Output goes out through the connection, on this thread, between reads of the
    // client's input: over TLS there is one session state and so one writer.
    let result = run_job(&job, conn, keeper);
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
            // A bad message during the command, or a command that could not start
            // (the session's directory was removed): tell the client, keep the session.
            log::warn!("{peer} ({user}): {e}");
            conn.send_error(&e)
        }
        Err(e) => Err(e),
    }
}

/// The account's shell as a login shell: `argv[0]` is `-NAME`, as login(1) and sshd
/// start it, so it reads the profile.
fn login_shell(shell: &Path) -> (OsString, OsString, Vec<OsString>) {
    let name = shell.file_name().unwrap_or(shell.as_os_str());
    let mut argv0 = OsString::from("-");
    argv0.push(name);
    (argv0, shell.as_os_str().to_owned(), Vec::new())
}
