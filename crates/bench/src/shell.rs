//! Load patterns for the remote shell, and its peers: a local `sh -c` and `ncat --exec`
//! (OpenSSH's are in `openssh.rs`).

use socklab_net::limits::HANDSHAKE_TIMEOUT;
use socklab_net::tls::{self, ClientOptions, MaybeTls, Service, Trust};
use socklab_shell::client::Client;
use socklab_testkit::{password, USER};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Connects to the shell server on `port` and logs in as testkit's user, over TLS
/// pinned to fingerprint `tls` when given.
pub fn log_in(port: u16, tls: Option<&str>) -> Result<Client, String> {
    let stream = socklab_net::socket::connect("127.0.0.1", port, Duration::from_secs(5))
        .map_err(|e| format!("connect: {e}"))?;
    let stream = match tls {
        None => MaybeTls::Plain(stream),
        Some(fp) => {
            let opts = ClientOptions {
                service: Service::Shell,
                trust: Trust::Fingerprint(fp.to_owned()),
                handshake_timeout: HANDSHAKE_TIMEOUT,
            };
            MaybeTls::Tls(
                tls::client::connect(stream, "127.0.0.1", port, &opts)
                    .map_err(|e| format!("TLS: {e}"))?,
            )
        }
    };
    Client::login_on(stream, USER, password()).map_err(|e| format!("login: {e}"))
}

/// Logs in once (as testkit's user, over TLS pinned to `tls` when given), then runs
/// `cmd` `count` times on that session; returns each command's time in ms, failing
/// on any non-zero exit.
pub fn exec_loop(
    port: u16,
    tls: Option<&str>,
    cmd: &str,
    count: usize,
) -> Result<Vec<f64>, String> {
    let mut client = log_in(port, tls)?;
    let mut times = Vec::with_capacity(count);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    for i in 0..count {
        let t = Instant::now();
        let status = client
            .exec(cmd, &mut out, &mut err)
            .map_err(|e| format!("exec #{i}: {e}"))?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        if status.local_code() != 0 {
            return Err(format!(
                "exec #{i} of {cmd:?} ended with {}",
                status.local_code()
            ));
        }
        out.clear();
        err.clear();
    }
    Ok(times)
}

/// `sh -c CMD` run locally `count` times: the floor for running a command.
pub fn local_sh(cmd: &str, count: usize) -> Result<Vec<f64>, String> {
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let t = Instant::now();
        let status = Command::new("/bin/sh")
            .args(["-c", cmd])
            .stdin(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        if !status.success() {
            return Err(format!("sh -c {cmd:?} failed"));
        }
    }
    Ok(times)
}

/// One connection per command to `ncat --exec` on `port`: connect, read to EOF.
pub fn ncat_exec(port: u16, count: usize) -> Result<Vec<f64>, String> {
    let mut times = Vec::with_capacity(count);
    let mut sink = Vec::new();
    for i in 0..count {
        let t = Instant::now();
        let mut s =
            TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect #{i}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let _ = s.write_all(b"");
        s.read_to_end(&mut sink)
            .map_err(|e| format!("read #{i}: {e}"))?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        sink.clear();
    }
    Ok(times)
}

/// `shell-client --port PORT --user USER --password-file FILE [--fingerprint FP]`
/// (the release binary, as a user runs it); the caller adds `-t`, `--` and the
/// command.
pub fn client_command(port: u16, password_file: &Path, tls: Option<&str>) -> Command {
    let mut c = Command::new(socklab_testkit::bin("shell-client"));
    c.args(["--port", &port.to_string(), "--user", USER])
        .arg("--password-file")
        .arg(password_file)
        .env("RUST_LOG", "warn");
    if let Some(fp) = tls {
        c.args(["--fingerprint", fp]);
    }
    c
}

/// A fresh `shell-client … -- true`: connect, log in, run `true`, exit. ms.
pub fn fresh_true(port: u16, password_file: &Path, tls: Option<&str>) -> Result<f64, String> {
    let mut c = client_command(port, password_file, tls);
    c.args(["-n", "--", "true"]);
    let t = Instant::now();
    crate::openssh::run(&mut c)?;
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

/// `count` commands `cmd` run one after another by `make()`'s command (a fresh
/// process each): ms each.
pub fn spawn_loop(mut make: impl FnMut() -> Command, count: usize) -> Result<Vec<f64>, String> {
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let mut c = make();
        let t = Instant::now();
        crate::openssh::run(&mut c)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(times)
}
