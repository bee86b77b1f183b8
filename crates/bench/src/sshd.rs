//! OpenSSH on loopback, as the peer of the shell and file lessons: the bench starts
//! its own `sshd -D -e -f CONFIG` on a free port, with a host key, a client key and
//! an authorized-keys file made for the run in a temporary directory, and stops it
//! by PID (with the per-connection processes it forked) when the case ends.
//!
//! Clients run with `-F /dev/null` (no user configuration changes what is measured),
//! key authentication, a known-hosts file of the run's own, and `BatchMode` (nothing
//! prompts). Each is started with a cipher of [`CIPHERS`], so the report has a row
//! per cipher and compares socklab with the fastest.

use crate::peers::free_port;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The ciphers tried, each its own row: AES-GCM (fastest where the CPU has AES-NI)
/// and ChaCha20-Poly1305 (OpenSSH's default choice; fastest without AES-NI).
pub const CIPHERS: [&str; 2] = ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"];

/// The short name of a cipher, for row names.
pub fn short(cipher: &str) -> &str {
    cipher.split('@').next().unwrap_or(cipher)
}

/// How long sshd may take to listen.
const START_LIMIT: Duration = Duration::from_secs(5);

/// A running sshd of the bench's own, killed (with what it forked) when dropped.
#[derive(Debug)]
pub struct Sshd {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// `user@127.0.0.1`: the account the bench runs as.
    pub target: String,
    dir: tempfile::TempDir,
}

/// The sshd binary, where Debian's openssh-server puts it.
const SSHD: &str = "/usr/sbin/sshd";

impl Sshd {
    /// Makes the keys and the configuration, and starts sshd on a free port (trying a
    /// few, since a port picked free may be taken before sshd binds it). An `Err`
    /// says why OpenSSH cannot be measured here (not installed, refused to start).
    pub fn start() -> Result<Sshd, String> {
        if !Path::new(SSHD).is_file() {
            return Err(format!(
                "{SSHD} is missing (BENCH=1 scripts/setup.sh installs openssh-server)"
            ));
        }
        let dir = tempfile::tempdir().map_err(|e| format!("sshd dir: {e}"))?;
        for (name, _) in [("host_key", ()), ("client_key", ())] {
            crate::openssh::run(
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                    .arg(dir.path().join(name)),
            )?;
        }
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .map_err(|e| format!("authorized_keys: {e}"))?;
        // sshd refuses to start without its privilege-separation directory, which
        // Debian makes at boot (tmpfiles) and the bench's fresh machine may lack.
        if rustix::process::geteuid().is_root() {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let user = current_user();
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let config = dir.path().join("sshd_config");
            std::fs::write(&config, config_text(dir.path(), port))
                .map_err(|e| format!("sshd_config: {e}"))?;
            let log = std::fs::File::create(dir.path().join("sshd.log"))
                .map_err(|e| format!("sshd.log: {e}"))?;
            let mut child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .map_err(|e| format!("cannot start {SSHD}: {e}"))?;
            let start = Instant::now();
            while start.elapsed() < START_LIMIT {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(Sshd {
                        child,
                        port,
                        target: format!("{user}@127.0.0.1"),
                        dir,
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            last = std::fs::read_to_string(dir.path().join("sshd.log")).unwrap_or_default();
        }
        Err(format!("sshd did not start listening: {}", last.trim()))
    }

    /// Its process id (its CPU time, and that of the connections it reaped, is
    /// metered).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The run's temporary directory (keys, configuration, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The options every client gets: no user configuration, the run's key and
    /// known-hosts file, no prompts, and `cipher` when given.
    fn common(&self, cipher: Option<&str>) -> Vec<String> {
        let mut v: Vec<String> = [
            "-F",
            "/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend([
            "-o".into(),
            format!(
                "UserKnownHostsFile={}",
                self.dir().join("known_hosts").display()
            ),
            "-i".into(),
            self.dir().join("client_key").display().to_string(),
        ]);
        if let Some(c) = cipher {
            v.extend(["-c".into(), c.into()]);
        }
        v
    }

    /// `ssh [options] -p PORT` (the target and command are the caller's to add).
    pub fn ssh(&self, cipher: Option<&str>) -> Command {
        let mut c = Command::new("ssh");
        c.args(self.common(cipher))
            .args(["-p", &self.port.to_string()]);
        c
    }

    /// `scp [options] -P PORT` (OpenSSH 9's scp speaks the SFTP protocol; `-O` the
    /// old scp protocol).
    pub fn scp(&self, cipher: Option<&str>) -> Command {
        let mut c = Command::new("scp");
        c.args(self.common(cipher))
            .args(["-q", "-P", &self.port.to_string()]);
        c
    }

    /// `sftp [options] -P PORT -b BATCH TARGET`: runs the commands in `batch`.
    pub fn sftp(&self, cipher: Option<&str>, batch: &Path) -> Command {
        let mut c = Command::new("sftp");
        c.args(self.common(cipher))
            .args(["-q", "-P", &self.port.to_string(), "-b"])
            .arg(batch)
            .arg(&self.target);
        c
    }

    /// `TARGET:PATH`, for scp.
    pub fn remote(&self, path: &Path) -> String {
        format!("{}:{}", self.target, path.display())
    }

    /// Opens a ControlMaster connection (`ssh -M -N`), which later `ssh` commands
    /// given [`Master::ssh`] reuse instead of connecting and authenticating again.
    pub fn master(&self, cipher: Option<&str>) -> Result<Master<'_>, String> {
        let socket = self
            .dir()
            .join(format!("ctl-{}", cipher.map_or("default", short)));
        let child = self
            .ssh(cipher)
            .args(["-M", "-N", "-o", "ControlPersist=no", "-S"])
            .arg(&socket)
            .arg(&self.target)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("ssh -M: {e}"))?;
        let master = Master {
            sshd: self,
            child,
            socket,
        };
        let up = socklab_testkit::wait_until(Duration::from_secs(10), || {
            master
                .ssh_plain()
                .args(["-O", "check", &self.target])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if up {
            Ok(master)
        } else {
            Err("ssh ControlMaster did not come up".into())
        }
    }

    /// The sshd processes serving connections (children of the listener), by PID.
    fn connections(&self) -> Vec<i32> {
        crate::peers::children_of(self.pid())
    }
}

impl Drop for Sshd {
    /// Stops sshd and every connection it still serves (each is a session leader of
    /// its own, so not in sshd's process group), by PID.
    fn drop(&mut self) {
        let children = self.connections();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in children {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// A ControlMaster connection, closed when dropped.
#[derive(Debug)]
pub struct Master<'a> {
    sshd: &'a Sshd,
    child: Child,
    socket: PathBuf,
}

impl Master<'_> {
    fn ssh_plain(&self) -> Command {
        let mut c = self.sshd.ssh(None);
        c.args(["-o", "ControlMaster=no", "-S"]).arg(&self.socket);
        c
    }

    /// `ssh -S SOCKET TARGET` (the command is the caller's to add): a session over the
    /// kept connection.
    pub fn ssh(&self) -> Command {
        let mut c = self.ssh_plain();
        c.arg(&self.sshd.target);
        c
    }
}

impl Drop for Master<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// sshd's configuration: loopback only, the run's keys, key authentication only,
/// root allowed (CI runs as root), no PAM (its session setup is the system's, not
/// the peer's), no banner or last-login lookup, and Debian's sftp server.
///
/// `SetEnv SHLVL=1`: sshd runs a remote command as `$SHELL -c CMD`, and Debian's bash
/// reads the account's `~/.bashrc` when it sees it was started by sshd at shell
/// level 1. A developer's `.bashrc` can cost more than ssh itself (one that runs
/// `pyenv init` added about 0.3 s to every command here), and it is the account's
/// cost, not OpenSSH's; shell-server's `/bin/sh -c` reads no startup file either.
/// At level 2 bash skips it, as it does for any non-interactive `bash -c`.
fn config_text(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "Port {port}\n\
         ListenAddress 127.0.0.1\n\
         HostKey {d}/host_key\n\
         AuthorizedKeysFile {d}/authorized_keys\n\
         PidFile none\n\
         PermitRootLogin yes\n\
         UsePAM no\n\
         StrictModes no\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         UseDNS no\n\
         PrintMotd no\n\
         PrintLastLog no\n\
         X11Forwarding no\n\
         MaxStartups 100\n\
         MaxSessions 100\n\
         SetEnv SHLVL=1\n\
         Subsystem sftp /usr/lib/openssh/sftp-server\n"
    )
}

/// The login name of the user the bench runs as.
fn current_user() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|u| !u.is_empty())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "root".into())
}
