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
use socklab_proto::{Error, Result};
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
    /// Run even as root: every logged-in user then has a root shell.
    #[arg(long)]
    allow_root: bool,
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
                shutdown: Shutdown::on_signals()?,
                ..ServeOptions::default()
            },
        };
        listen_and_run(&self.host, self.port, config)
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
    /// Do not forward stdin: the command reads end of input at once (ssh -n).
    #[arg(short = 'n')]
    no_stdin: bool,
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
        run_command_line(&mut client, &self.command, mode, self.no_stdin)
    }

    /// The password (file, environment or prompt), then the connection and the login.
    fn log_in(&self) -> Result<Client> {
        let prompt = format!("password for {}@{}: ", self.user, self.host);
        let password = client_password(self.password_file.as_deref(), &prompt)?;
        Client::connect(
            &self.host,
            self.port,
            Duration::from_secs(self.connect_timeout),
            &self.user,
            &password,
        )
    }
}
