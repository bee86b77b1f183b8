//! Load patterns for the remote shell, and its peers: a local `sh -c` and `ncat --exec`.

use socklab_shell::client::Client;
use socklab_testkit::{password, USER};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Logs in once (as testkit's user), then runs `cmd` `count` times on that session;
/// returns each command's time in ms, failing on any non-zero exit.
pub fn exec_loop(port: u16, cmd: &str, count: usize) -> Result<Vec<f64>, String> {
    let mut client = Client::connect("127.0.0.1", port, Duration::from_secs(5), USER, password())
        .map_err(|e| format!("login: {e}"))?;
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
