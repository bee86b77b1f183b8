//! The flags of `shell-server` and `shell-client`, and what each binary does with them.
//!
//! Each binary flattens one of these into its `clap` parser and calls its `run`: the
//! binary holds no logic of its own.

use crate::client::{run_command_line, Client, Mode, EXIT_CONNECT_FAILED};
use crate::env::Account;
use crate::limits::{COMMAND_TIMEOUT, SHELL_PORT};
use crate::server::{listen_and_run, load_users, session_root, ServerConfig};
use socklab_auth::args::LoginArgs;
use socklab_auth::password::client_password;
use socklab_net::accept::{ServeOptions, Shutdown};
use socklab_net::limits::{CONNECT_TIMEOUT, IDLE_TIMEOUT, MAX_CONNS};
use socklab_net::tls::{ServerTlsArgs, Trust};
use socklab_proto::{Error, ErrorCode, Result};
use std::path::PathBuf;
use std::time::Duration;

/// `shell-server`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Users file of `name:$argon2id$…` lines (make it with socklab-passwd).
    #[arg(long, value_name = "FILE")]
    users: PathBuf,
    /// Address to bind. Anything but loopback sends passwords and commands in clear.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free one (the `listening on` line says which).
    #[arg(long, default_value_t = SHELL_PORT)]
    port: u16,
    /// Directory every session starts in (default: the current directory).
    #[arg(long, value_name = "DIR")]
    workdir: Option<PathBuf>,
    /// Wall-clock limit of one command, in seconds; past it its process group is killed.
    #[arg(long, value_name = "SECS", default_value_t = COMMAND_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Connections served at once; one more is answered `busy` and closed.
    #[arg(long, default_value_t = MAX_CONNS)]
    max_conns: usize,
    /// Connections served at once from one IP address; one more is refused. Default:
    /// an eighth of --max-conns for every address but loopback; given, for every
    /// address.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_conns_per_ip: Option<u64>,
    #[command(flatten)]
    login: LoginArgs,
    /// A logged-in session with no command for this many seconds is closed.
    #[arg(long, value_name = "SECS", default_value_t = IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
    /// Also give commands this variable of the server's environment (repeatable).
    /// Commands otherwise get only HOME, USER, LOGNAME, SHELL, PATH, SOCKLAB_USER and
    /// the client's TERM, LANG and LC_*.
    #[arg(long, value_name = "NAME")]
    pass_env: Vec<String>,
    /// Run even as root: every logged-in user then has a root shell. (Repeating it
    /// is harmless: test harnesses and scripts each add it.)
    #[arg(long, overrides_with = "allow_root")]
    allow_root: bool,
    #[command(flatten)]
    tls: ServerTlsArgs,
}

impl ServerArgs {
    /// Loads the users file and checks the session directory (either failing before
    /// anything listens), then serves until SIGINT or SIGTERM.
    pub fn run(&self) -> Result<()> {
        let account = Account::current()?;
        if account.root {
            if !self.allow_root {
                return Err(Error::Usage(
                    "shell-server is running as root, so every user who logs in would get a root shell; \
                     run it as an ordinary user, or pass --allow-root if that is really meant"
                        .into(),
                ));
            }
            log::warn!("running as root (--allow-root): every logged-in user has a root shell");
            eprintln!(
                "shell-server: WARNING: running as root: every logged-in user has a root shell"
            );
        }
        let config = ServerConfig {
            account,
            pass_env: self.pass_env.clone(),
            users: load_users(&self.users)?,
            workdir: session_root(self.workdir.as_deref())?,
            command_timeout: Duration::from_secs(self.timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            login: self.login.policy(),
            serve: ServeOptions {
                max_conns: self.max_conns,
                max_conns_per_ip: self.max_conns_per_ip.map(|n| n as usize),
                shutdown: Shutdown::on_signals()?,
                ..ServeOptions::default()
            },
            tls: None,
        };
        listen_and_run(
            &self.host,
            self.port,
            &self.tls,
            self.users.parent(),
            config,
        )
    }
}

/// `shell-client`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// Server host name or address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = SHELL_PORT)]
    port: u16,
    /// User to log in as.
    #[arg(long, env = "USER")]
    user: String,
    /// Read the password from this file (its first line). Without it the password
    /// comes from SOCKLAB_PASSWORD, else from a prompt without echo.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Seconds to wait for the connection to be accepted.
    #[arg(long, value_name = "SECS", default_value_t = CONNECT_TIMEOUT.as_secs())]
    connect_timeout: u64,
    /// Run the command (or the login shell) on a remote terminal (a PTY), as `ssh -t`:
    /// for `top`, `vi`, `less`.
    #[arg(short = 't', conflicts_with = "prompt")]
    tty: bool,
    /// The tutorial's `>> ` prompt: one command per line, `exit [N]` to leave.
    #[arg(short = 'T', long)]
    prompt: bool,
    /// At the `>> ` prompt fed a script: run the commands after a failing one too
    /// (the exit status is still non-zero). Without it the script stops there.
    #[arg(long)]
    keep_going: bool,
    /// Do not forward stdin: the command reads end of input at once (ssh -n).
    #[arg(short = 'n')]
    no_stdin: bool,
    /// TLS 1.3, trusting the server by the known-hosts file (asks on a terminal the
    /// first time; SOCKLAB_KNOWN_HOSTS names the file).
    #[arg(long)]
    tls: bool,
    /// Trust exactly the certificate with this fingerprint (implies --tls).
    #[arg(long, value_name = "SHA256:…")]
    fingerprint: Option<String>,
    /// Trust certificates from these CAs, for the host name (PEM; implies --tls).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Trust an unknown server and remember it, as ssh's accept-new (implies --tls).
    #[arg(long)]
    accept_new: bool,
    /// The command to run, after `--`. Without one: a login shell on a remote
    /// terminal when stdin is a terminal, else commands read one per line from stdin.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<String>,
}

impl ClientArgs {
    /// Logs in, runs the command (or the `>> ` loop), and returns the exit code ssh
    /// would: the command's, or 255 when connecting or logging in failed.
    pub fn run(&self) -> u8 {
        socklab_net::cli::init_logging();
        let mut client = match self.log_in() {
            Ok(client) => client,
            Err(Error::Remote {
                code: ErrorCode::TlsRequired,
                ..
            }) => {
                eprintln!("error: the server requires TLS: add --tls");
                return EXIT_CONNECT_FAILED;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_CONNECT_FAILED;
            }
        };
        let mode = match (self.tty, self.prompt) {
            (true, _) => Mode::Pty,
            (_, true) => Mode::Prompt,
            _ => Mode::Auto,
        };
        run_command_line(
            &mut client,
            &self.command,
            mode,
            self.no_stdin,
            self.keep_going,
        )
    }

    /// The password (file, environment or prompt), then the connection and the login.
    fn log_in(&self) -> Result<Client> {
        let prompt = format!("password for {}@{}: ", self.user, self.host);
        let password = client_password(self.password_file.as_deref(), &prompt)?;
        let tls = self.tls || self.fingerprint.is_some() || self.ca.is_some() || self.accept_new;
        let trust = tls
            .then(|| {
                Trust::from_flags(
                    self.fingerprint.as_deref(),
                    self.ca.as_deref(),
                    self.accept_new,
                )
            })
            .transpose()?;
        let stream = crate::tls::connect(
            &self.host,
            self.port,
            Duration::from_secs(self.connect_timeout),
            trust,
        )?;
        Client::login_on(stream, &self.user, &password)
    }
}
