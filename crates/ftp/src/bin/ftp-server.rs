//! `ftp-server`: the file server of lesson 4.
//!
//! ```text
//! terminal 1$ socklab-passwd --users users.txt alice
//! terminal 1$ ftp-server --root ./files --users users.txt    # listening on 127.0.0.1:7021
//! terminal 2$ ftp-client --user alice ls
//! ```
//!
//! `--read-only` refuses uploads, `--anonymous` lets anyone list and download without
//! logging in. It binds 127.0.0.1 unless `--host` says otherwise, and warns when it
//! does: passwords and files cross the network in clear. SIGINT or SIGTERM stops it
//! gracefully; interrupted uploads stay in ROOT/.socklab-partial for `--resume`.

use clap::Parser;
use socklab_auth::args::LoginArgs;
use socklab_auth::Users;
use socklab_ftp::{prepare, ServerConfig};
use socklab_net::accept::{ServeOptions, Shutdown};
use socklab_net::socket::{announce, bind_addr, tcp_listener, warn_if_exposed, ListenOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// File server: list, stat, get and put the files of one directory, after login.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to bind: 127.0.0.1 (this machine only), 0.0.0.0 (IPv4 LAN) or :: (dual stack).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free one (the `listening on` line says which).
    #[arg(long, default_value_t = socklab_ftp::limits::FTP_PORT)]
    port: u16,
    /// The directory whose files are served (not its subdirectories).
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
    /// The largest upload accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = socklab_ftp::limits::MAX_FILE_SIZE)]
    max_file_size: u64,
    /// Abandon a transfer that moves no byte for this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = socklab_net::limits::STALL_TIMEOUT.as_secs())]
    stall_timeout: u64,
    /// Close a session with no request for this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = socklab_net::limits::IDLE_TIMEOUT.as_secs())]
    idle_timeout: u64,
    #[command(flatten)]
    login: LoginArgs,
    /// Keep interrupted uploads for `put --resume` this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = socklab_ftp::limits::PARTIAL_TTL.as_secs())]
    partial_ttl: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    socklab_net::cli::run_main(|| {
        let users = args.users.as_deref().map(Users::load).transpose()?;
        let mut config = ServerConfig::new(args.root.clone(), users);
        config.anonymous = args.anonymous;
        config.read_only = args.read_only;
        config.max_file_size = args.max_file_size;
        config.stall_timeout = Duration::from_secs(args.stall_timeout.max(1));
        config.idle_timeout = Duration::from_secs(args.idle_timeout.max(1));
        config.partial_ttl = Duration::from_secs(args.partial_ttl);
        config.login = args.login.policy();
        config.serve = ServeOptions {
            max_conns: args.max_conns,
            shutdown: Shutdown::on_signals()?,
            ..ServeOptions::default()
        };
        // Check the configuration and the root before saying we listen.
        let server = prepare(config)?;
        let addr = bind_addr(&args.host, args.port)?;
        let listener = tcp_listener(addr, ListenOptions::default())?;
        let addr = listener
            .local_addr()
            .map_err(|e| socklab_proto::Error::io("reading the bound address", e))?;
        warn_if_exposed(addr, "ftp-server");
        announce(addr);
        server.run(listener)
    })
}
