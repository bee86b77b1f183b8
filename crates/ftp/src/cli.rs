//! The command lines of `ftp-server` and `ftp-client`: their flags, and what each
//! binary does with them. A binary parses its flags and calls `run`.

use crate::client::{self, explain, ClientConfig, Command, Session};
use crate::server::{prepare, ServerConfig};
use clap::Parser;
use socklab_auth::args::LoginArgs;
use socklab_auth::password::client_password;
use socklab_auth::Users;
use socklab_net::accept::{ServeOptions, Shutdown};
use socklab_net::socket::{announce, bind_addr, tcp_listener, warn_if_exposed, ListenOptions};
use socklab_net::tls::{self, OnPlain, ServerTlsArgs, Service, TlsAcceptor, Trust};
use socklab_proto::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// File server: list, stat, get and put the files of one directory, after login.
#[derive(Debug, Parser)]
#[command(name = "ftp-server", version = socklab_net::cli::VERSION, after_help = "\
Examples:
  terminal 1$ socklab-passwd --users users.txt alice          # once: choose a password
  terminal 1$ ftp-server --root ./files --users users.txt     # listening on 127.0.0.1:7021
  terminal 2$ ftp-client --user alice ls")]
pub struct ServerArgs {
    /// Address to bind: 127.0.0.1 (this machine only), 0.0.0.0 (IPv4 LAN) or :: (dual stack).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free one (the `listening on` line says which).
    #[arg(long, default_value_t = crate::limits::FTP_PORT)]
    port: u16,
    /// The directory served, with the tree under it (symlinks in it are never followed).
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// Users file (`name:$argon2id$...` lines, made with socklab-passwd).
    #[arg(long, value_name = "FILE", required_unless_present = "anonymous")]
    users: Option<PathBuf>,
    /// Refuse every upload.
    #[arg(long)]
    read_only: bool,
    /// Let anyone list and download without logging in (uploads still need a login).
    #[arg(long)]
    anonymous: bool,
    /// Connections served at once; one more is answered `busy`.
    #[arg(long, default_value_t = socklab_net::limits::MAX_CONNS)]
    max_conns: usize,
    /// Connections served at once from one IP address; one more is refused. Default:
    /// an eighth of --max-conns for every address but loopback; given, for every
    /// address.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_conns_per_ip: Option<u64>,
    /// The largest upload accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::limits::MAX_FILE_SIZE)]
    max_file_size: u64,
    /// Abandon a transfer that moves no byte for this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = socklab_net::limits::STALL_TIMEOUT.as_secs())]
    stall_timeout: u64,
    /// Close a session with no request for this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = socklab_net::limits::IDLE_TIMEOUT.as_secs())]
    idle_timeout: u64,
    /// Close an anonymous session (not logged in) with no request for this many
    /// seconds; never longer than --idle-timeout.
    #[arg(long, value_name = "SECS", default_value_t = crate::limits::ANONYMOUS_IDLE_TIMEOUT.as_secs())]
    anonymous_idle_timeout: u64,
    #[command(flatten)]
    login: LoginArgs,
    /// Keep interrupted uploads for `put --resume` this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = crate::limits::PARTIAL_TTL.as_secs())]
    partial_ttl: u64,
    #[command(flatten)]
    tls: ServerTlsArgs,
}

impl ServerArgs {
    /// Serves until SIGINT or SIGTERM; prints `error: …` and returns 1 on failure.
    pub fn run(self) -> ExitCode {
        socklab_net::cli::run_main(|| self.serve())
    }

    fn serve(&self) -> Result<()> {
        let users = self.users.as_deref().map(Users::load).transpose()?;
        let mut config = ServerConfig::new(self.root.clone(), users);
        config.anonymous = self.anonymous;
        config.read_only = self.read_only;
        config.max_file_size = self.max_file_size;
        config.stall_timeout = Duration::from_secs(self.stall_timeout.max(1));
        config.idle_timeout = Duration::from_secs(self.idle_timeout.max(1));
        config.anonymous_idle_timeout = Duration::from_secs(self.anonymous_idle_timeout.max(1));
        config.partial_ttl = Duration::from_secs(self.partial_ttl);
        config.login = self.login.policy();
        config.serve = ServeOptions {
            max_conns: self.max_conns,
            max_conns_per_ip: self.max_conns_per_ip.map(|n| n as usize),
            shutdown: Shutdown::on_signals()?,
            ..ServeOptions::default()
        };
        let addr = bind_addr(&self.host, self.port)?;
        config.tls = self
            .tls
            .identity_for(
                addr.ip(),
                self.users.as_deref().and_then(Path::parent),
                "ftp-server",
            )?
            .map(|identity| TlsAcceptor::new(&identity, Service::Ftp, OnPlain::Framed))
            .transpose()?;
        let fingerprint = config.tls.as_ref().map(|t| t.fingerprint().to_owned());
        // Check the configuration and the root before saying we listen.
        let server = prepare(config)?;
        let listener = tcp_listener(addr, ListenOptions::default())?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the bound address", e))?;
        if fingerprint.is_none() {
            warn_if_exposed(addr, "ftp-server");
        }
        announce(addr);
        fingerprint.as_deref().map(tls::announce);
        server.run(listener)
    }
}

/// File client: ls, stat, get and put against an ftp-server.
#[derive(Debug, Parser)]
#[command(name = "ftp-client", version = socklab_net::cli::VERSION, after_help = "\
Examples:
  terminal 1$ ftp-server --root ./files --users users.txt     # listening on 127.0.0.1:7021
  terminal 2$ ftp-client --user alice put notes.txt           # one command, then exit
  terminal 2$ ftp-client --user alice                         # an ftp> prompt")]
pub struct ClientArgs {
    /// Server host name or address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = crate::limits::FTP_PORT)]
    port: u16,
    /// User name to log in as (default: $USER, as ssh does; ignored with --anonymous).
    #[arg(long)]
    user: Option<String>,
    /// Read the password from this file (first line); without it, the SOCKLAB_PASSWORD
    /// environment variable, or else a prompt.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Do not log in (the server must allow --anonymous; read-only).
    #[arg(long, conflicts_with_all = ["user", "password_file"])]
    anonymous: bool,
    /// Give up on a transfer that moves no byte for this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = socklab_net::limits::STALL_TIMEOUT.as_secs())]
    timeout: u64,
    /// Never draw a progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Connect over TLS, trusting the server as the known-hosts file says (asked on
    /// a terminal the first time).
    #[arg(long)]
    tls: bool,
    /// Trust exactly this certificate (the server's `fingerprint` line); implies --tls.
    #[arg(long, value_name = "SHA256:...")]
    fingerprint: Option<String>,
    /// Trust certificates issued by these CAs (PEM) for the host name; implies --tls.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Trust a server not yet in the known-hosts file, and remember it; implies --tls.
    #[arg(long)]
    accept_new: bool,
    /// At the `ftp> ` prompt fed a script, run the commands after a failing one too
    /// (the exit status still says one failed); without it the script stops there.
    #[arg(long)]
    keep_going: bool,
    /// A command to run; without one, an `ftp> ` prompt reads commands from stdin.
    #[command(subcommand)]
    command: Option<Command>,
}

impl ClientArgs {
    /// Runs the command, or the prompt. Returns 0 when it (or every command of the
    /// prompt's script) succeeded, else prints `error: <what> (<code>): <what to do>`
    /// and returns 1.
    pub fn run(self) -> ExitCode {
        socklab_net::cli::init_logging();
        client::on_interrupt();
        match self.connect_and_run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {}", explain(&e));
                ExitCode::FAILURE
            }
        }
    }

    fn connect_and_run(&self) -> Result<()> {
        let trust = self.trust()?;
        let config = self.config()?;
        let user = self.user.clone().or_else(|| std::env::var("USER").ok());
        client::set_command_line(self.command_line(user.as_deref()));
        match &self.command {
            Some(command) => {
                let mut session = Session::open(&config, trust.as_ref())?;
                client::execute(&mut session, command, &mut std::io::stdout().lock())
            }
            None => client::repl(&config, trust.as_ref(), self.keep_going),
        }
    }

    /// How to trust the server when TLS is asked for (any of the TLS flags).
    fn trust(&self) -> Result<Option<Trust>> {
        let fp = self.fingerprint.as_deref();
        if !(self.tls || fp.is_some() || self.ca.is_some() || self.accept_new) {
            return Ok(None);
        }
        Trust::from_flags(fp, self.ca.as_deref(), self.accept_new).map(Some)
    }

    /// The connection settings, with the password read (from the file, the
    /// environment or a prompt) unless the login is anonymous.
    fn config(&self) -> Result<ClientConfig> {
        let user = self.user.clone().or_else(|| std::env::var("USER").ok());
        if user.is_none() && !self.anonymous {
            return Err(Error::Usage(
                "no user name: pass --user NAME (or set USER), or --anonymous".into(),
            ));
        }
        let login = match &user {
            Some(user) if !self.anonymous => {
                let password = client_password(
                    self.password_file.as_deref(),
                    &format!("password for {user}: "),
                )?;
                Some((user.clone(), password))
            }
            _ => None,
        };
        Ok(ClientConfig {
            host: self.host.clone(),
            port: self.port,
            login,
            connect_timeout: socklab_net::limits::CONNECT_TIMEOUT,
            stall_timeout: Duration::from_secs(self.timeout.max(1)),
            progress: !self.no_progress,
        })
    }

    /// `ftp-client` with the flags that reach the same server as the same user (the
    /// password is never on a command line), for the command that continues an
    /// interrupted transfer.
    fn command_line(&self, user: Option<&str>) -> Vec<String> {
        let mut w = vec!["ftp-client".to_owned()];
        let mut flag = |name: &str, value: Option<String>| {
            w.push(name.to_owned());
            w.extend(value);
        };
        if self.host != "127.0.0.1" {
            flag("--host", Some(self.host.clone()));
        }
        if self.port != crate::limits::FTP_PORT {
            flag("--port", Some(self.port.to_string()));
        }
        match user {
            _ if self.anonymous => flag("--anonymous", None),
            Some(u) if self.user.is_some() => flag("--user", Some(u.to_owned())),
            _ => {}
        }
        if let Some(p) = &self.password_file {
            flag("--password-file", Some(p.display().to_string()));
        }
        if let Some(fp) = &self.fingerprint {
            flag("--fingerprint", Some(fp.clone()));
        } else if let Some(ca) = &self.ca {
            flag("--ca", Some(ca.display().to_string()));
        } else if self.tls || self.accept_new {
            flag("--tls", None);
        }
        w
    }
}
