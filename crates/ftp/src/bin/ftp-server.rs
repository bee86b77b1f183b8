//! `ftp-server`: the file server of lesson 4.
//!
//! ```text
//! terminal 1$ socklab-passwd --users users.txt alice
//! terminal 1$ ftp-server --root ./files --users users.txt    # listening on 127.0.0.1:7021
//! terminal 2$ ftp-client --user alice ls
//! ```
//!
//! `--read-only` refuses uploads, `--anonymous` lets anyone list and download without
//! logging in. It binds 127.0.0.1 unless `--host` says otherwise; beyond loopback it
//! speaks TLS (printing `fingerprint SHA256:…` under `listening on`) unless `--no-tls`,
//! which warns that passwords and files then cross in clear. SIGINT or SIGTERM stops it
//! gracefully; interrupted uploads stay in ROOT/.socklab-partial for `--resume`.
//!
//! Its flags, and what it does with them, are in `socklab_ftp::cli`.

use socklab_ftp::cli::ServerArgs;
use std::process::ExitCode;

fn main() -> ExitCode {
    socklab_net::cli::parse::<ServerArgs>().run()
}
