//! What `echo-server` and `echo-client` do once their flags are parsed: the binaries
//! parse with clap, fill in a [`ServerFlags`] or [`ClientFlags`], and call
//! [`server_main`] or [`client_main`].

use crate::client::{pipe, prompt, EchoStream, Target};
use crate::event_loop::serve_with_epoll;
use crate::limits::MAX_BUSY_POLL;
use crate::server::{run, ServerConfig, TlsConfig};
use socklab_net::accept::{ServeOptions, Shutdown};
use socklab_net::socket::{announce, bind_addr, tcp_listener, unix_listener, ListenOptions};
use socklab_net::tls::Trust;
use socklab_proto::{Error, Result};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

/// Everything `echo-server`'s flags say, as plain values.
#[derive(Debug, Clone)]
pub struct ServerFlags {
    /// `--host`: the address to bind.
    pub host: String,
    /// `--port`: 0 picks a free one.
    pub port: u16,
    /// `--unix PATH`: serve an AF_UNIX socket instead of TCP.
    pub unix: Option<PathBuf>,
    /// `--upper`.
    pub upper: bool,
    /// `--max-conns`.
    pub max_conns: usize,
    /// `--max-conns-per-ip`.
    pub max_conns_per_ip: Option<usize>,
    /// `--backlog`.
    pub backlog: i32,
    /// `--iterative`: one client at a time.
    pub iterative: bool,
    /// `--event-loop`: every client from one thread, see [`crate::event_loop`].
    pub event_loop: bool,
    /// `--idle-timeout`, in seconds; 0 never closes an idle connection.
    pub idle_timeout_secs: u64,
    /// `--busy-poll-us`, in µs, at most [`MAX_BUSY_POLL`]; 0 never spins.
    pub busy_poll_us: u64,
    /// Not `--no-reuse-addr`.
    pub reuse_addr: bool,
    /// `--tls`, or implied by `--cert`.
    pub tls: bool,
    /// `--cert FILE --key FILE` (PEM).
    pub cert_key: Option<(PathBuf, PathBuf)>,
    /// `--state-dir DIR`: where the self-signed certificate is kept.
    pub state_dir: Option<PathBuf>,
    /// `--handshake-timeout`, in seconds.
    pub handshake_timeout_secs: u64,
    /// `--splice`: zero-copy echo, see [`crate::splice`].
    pub splice: bool,
}

/// `echo-server`: binds, prints `listening on ADDR`, and serves until SIGINT or
/// SIGTERM, with a thread per client or (`event_loop`) one thread for all.
pub fn server_main(flags: ServerFlags) -> Result<()> {
    let busy_poll = Duration::from_micros(flags.busy_poll_us);
    if busy_poll > MAX_BUSY_POLL {
        return Err(Error::Usage(format!(
            "--busy-poll-us {} is over the limit of {}",
            flags.busy_poll_us,
            MAX_BUSY_POLL.as_micros()
        )));
    }
    if flags.splice {
        refuse_with_splice(&flags)?;
    }
    let tls = if flags.tls || flags.cert_key.is_some() {
        if flags.event_loop || !busy_poll.is_zero() {
            return Err(Error::Usage(
                "--tls works with the threaded server only (not --event-loop or --busy-poll-us)"
                    .into(),
            ));
        }
        let state_dir = flags
            .state_dir
            .clone()
            .unwrap_or_else(crate::tls::default_state_dir);
        let cert_key = flags
            .cert_key
            .as_ref()
            .map(|(c, k)| (c.as_path(), k.as_path()));
        let identity = socklab_net::tls::Identity::from_flags(cert_key, &state_dir)?;
        Some(TlsConfig {
            acceptor: crate::tls::acceptor(&identity)?,
            handshake_timeout: Duration::from_secs(flags.handshake_timeout_secs),
        })
    } else {
        None
    };
    let fingerprint = tls.as_ref().map(|t| t.acceptor.fingerprint().to_owned());
    let config = ServerConfig {
        tls,
        upper: flags.upper,
        idle_timeout: (flags.idle_timeout_secs > 0)
            .then(|| Duration::from_secs(flags.idle_timeout_secs)),
        busy_poll,
        splice: flags.splice,
        serve: ServeOptions {
            max_conns: flags.max_conns,
            max_conns_per_ip: flags.max_conns_per_ip,
            iterative: flags.iterative,
            shutdown: Shutdown::on_signals()?,
            ..ServeOptions::default()
        },
    };
    // A socket is a file descriptor: holding --max-conns of them needs the limit.
    // The threaded server holds two per connection (a duplicate is kept so that a
    // stop can cut connections still open after the grace period).
    // --splice adds a pipe, two more.
    let per_conn = if flags.event_loop {
        1
    } else if flags.splice {
        4
    } else {
        2
    };
    raise_open_file_limit(flags.max_conns * per_conn);
    if let Some(path) = &flags.unix {
        let listener = unix_listener(path, flags.backlog)?;
        announce(path.display());
        fingerprint.as_deref().map(socklab_net::tls::announce);
        let result = if flags.event_loop {
            serve_with_epoll(listener, config)
        } else {
            run(listener, config)
        };
        let _ = std::fs::remove_file(path);
        result
    } else {
        let opts = ListenOptions {
            backlog: flags.backlog,
            reuse_addr: flags.reuse_addr,
        };
        let listener = tcp_listener(bind_addr(&flags.host, flags.port)?, opts)?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the bound address", e))?;
        announce(addr);
        fingerprint.as_deref().map(socklab_net::tls::announce);
        if flags.event_loop {
            serve_with_epoll(listener, config)
        } else {
            run(listener, config)
        }
    }
}

/// The flags `--splice` cannot work with, refused before anything is bound.
fn refuse_with_splice(flags: &ServerFlags) -> Result<()> {
    let clash = if flags.upper {
        Some("--upper must see the bytes to change them, and spliced bytes never enter the process")
    } else if flags.tls || flags.cert_key.is_some() {
        Some("--tls must decrypt and encrypt every byte in the process")
    } else if flags.event_loop {
        Some("--event-loop serves with non-blocking sockets from one thread; --splice is threaded")
    } else if flags.busy_poll_us > 0 {
        Some("--busy-poll-us spins on recv, which --splice does not call")
    } else {
        None
    };
    match clash {
        Some(why) => Err(Error::Usage(format!("--splice cannot be combined: {why}"))),
        None => Ok(()),
    }
}

/// Raises this process's open-file limit (`RLIMIT_NOFILE`) as far as the hard limit
/// allows, so one process can hold `wanted` sockets; warns when it is still too low.
fn raise_open_file_limit(wanted: usize) {
    // Each connection is one descriptor; the server itself needs a handful more.
    let target = wanted as u64 + 64;
    match rlimit::increase_nofile_limit(target) {
        Ok(limit) if limit < target => log::warn!(
            "open-file limit is {limit} (the hard limit): at most about {} connections; \
             raise the hard limit (ulimit -Hn, or LimitNOFILE= in a systemd unit) for more",
            limit.saturating_sub(64)
        ),
        Ok(_) => {}
        Err(e) => log::warn!("cannot read or raise the open-file limit: {e}"),
    }
}

/// Everything `echo-client`'s flags say, as plain values.
#[derive(Debug, Clone)]
pub struct ClientFlags {
    /// `--host`: a server name or address.
    pub host: String,
    /// `--port`.
    pub port: u16,
    /// `--unix PATH`: an AF_UNIX socket instead of `host` and `port`.
    pub unix: Option<PathBuf>,
    /// `--connect-timeout`, in seconds as typed.
    pub connect_timeout_secs: f64,
    /// `--prompt`: the `>> ` prompt even when stdin is not a terminal.
    pub prompt: bool,
    /// `--pipe`: pipe mode even when stdin is a terminal.
    pub pipe: bool,
    /// `--tls`, or implied by `--fingerprint`, `--ca` or `--accept-new`.
    pub tls: bool,
    /// `--fingerprint SHA256:…`: trust exactly this certificate.
    pub fingerprint: Option<String>,
    /// `--ca FILE`: trust certificates from these CAs, for the host name.
    pub ca: Option<PathBuf>,
    /// `--accept-new`: trust an unknown server and remember it.
    pub accept_new: bool,
}

/// `echo-client`: connects, then runs the `>> ` prompt on a terminal (or with
/// `--prompt`), pipe mode otherwise.
pub fn client_main(flags: ClientFlags) -> Result<()> {
    let timeout = Duration::try_from_secs_f64(flags.connect_timeout_secs)
        .map_err(|e| Error::Usage(format!("--connect-timeout: {e}")))?;
    let interactive = flags.prompt || (!flags.pipe && std::io::stdin().is_terminal());
    if flags.tls || flags.fingerprint.is_some() || flags.ca.is_some() || flags.accept_new {
        return tls_client(flags, timeout, interactive);
    }
    let target = match flags.unix {
        Some(path) => Target::Unix(path),
        None => Target::Tcp {
            host: flags.host,
            port: flags.port,
        },
    };
    let conn = EchoStream::open(&target, timeout)?;
    let stdout = std::io::stdout();
    if !interactive {
        // Each arm names the concrete socket type, so the copy loop is monomorphic.
        return match conn {
            EchoStream::Tcp(s) => pipe(s, std::io::stdin(), &mut stdout.lock()).map(drop),
            EchoStream::Unix(s) => pipe(s, std::io::stdin(), &mut stdout.lock()).map(drop),
        };
    }
    let mut input = open_prompt()?;
    match conn {
        EchoStream::Tcp(mut s) => prompt(&mut s, &mut input, stdout.lock()),
        EchoStream::Unix(mut s) => prompt(&mut s, &mut input, stdout.lock()),
    }
}

/// The `>> ` prompt's input: the line editor on a terminal (history in
/// `echo-client_history`), plain lines from stdin otherwise, the `>> ` shown anyway.
fn open_prompt() -> Result<socklab_prompt::Prompt> {
    socklab_prompt::Prompt::stdin("echo-client", None)
        .and_then(|p| p.restore_on_sigterm())
        .map(|p| p.show_prompt_off_terminal(std::io::stdout()))
        .map_err(|e| Error::io("opening the terminal", e))
}

/// `echo-client --tls`: the TLS session, then the prompt or pipe mode in step.
fn tls_client(flags: ClientFlags, timeout: Duration, interactive: bool) -> Result<()> {
    if flags.unix.is_some() {
        return Err(Error::Usage("--tls works over TCP, not --unix".into()));
    }
    let trust = Trust::from_flags(
        flags.fingerprint.as_deref(),
        flags.ca.as_deref(),
        flags.accept_new,
    )?;
    let mut session = crate::tls::connect(&flags.host, flags.port, timeout, trust)?;
    let stdout = std::io::stdout();
    if interactive {
        prompt(&mut session, &mut open_prompt()?, stdout.lock())?;
        let _ = session.close();
        Ok(())
    } else {
        crate::tls::pipe_in_step(&mut session, std::io::stdin().lock(), &mut stdout.lock())
            .map(drop)
    }
}
