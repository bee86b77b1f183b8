//! shell-server run as an account that is not root, for what only such an account
//! sees: sudo asks root for no password, so its prompt needs another user.
//!
//! The account is `socklab-sudo`, which scripts/setup.sh makes when it runs as root,
//! with a locked password and one sudoers line. [`Account::unlock`] gives it a fresh
//! random password for one test and locks it again when dropped.

use super::Fixture;
use socklab_testkit::{bin, random_bytes, Cost, Server};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// The system account scripts/setup.sh makes for the sudo test.
pub const SUDO_ACCOUNT: &str = "socklab-sudo";

/// A system account whose password is set for as long as this value lives.
pub struct Account {
    pub name: &'static str,
    pub uid: u32,
    pub gid: u32,
    pub password: String,
}

impl Account {
    /// The account `name` with a new random password, or `None` (with the reason
    /// printed) when the tests do not run as root, which alone can start a server as
    /// another user. As root, a missing account is a failure: setup.sh makes it.
    pub fn unlock(name: &'static str) -> Option<Account> {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: only root can run shell-server as the account {name}");
            return None;
        }
        let id = |flag: &str| -> u32 {
            let out = Command::new("id").args([flag, name]).output().unwrap();
            assert!(
                out.status.success(),
                "no account {name}: run scripts/setup.sh as root (make test does) to make it"
            );
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        let password: String = random_bytes(12)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("chpasswd");
        writeln!(chpasswd.stdin.take().unwrap(), "{name}:{password}").unwrap();
        assert!(chpasswd.wait().unwrap().success(), "chpasswd for {name}");
        Some(Account {
            name,
            uid: id("-u"),
            gid: id("-g"),
            password,
        })
    }

    /// Hands `dir` and everything in it to the account.
    fn give(&self, dir: &Path) {
        std::os::unix::fs::chown(dir, Some(self.uid), Some(self.gid)).unwrap();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                self.give(&path);
            } else {
                std::os::unix::fs::chown(&path, Some(self.uid), Some(self.gid)).unwrap();
            }
        }
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        let locked = Command::new("passwd")
            .args(["-l", self.name])
            .stdout(Stdio::null())
            .status();
        if !matches!(locked, Ok(s) if s.success()) {
            eprintln!("could not lock the password of {} again", self.name);
        }
    }
}

impl Fixture {
    /// Starts shell-server as `account`, with the fixture's files handed to it and the
    /// server binary copied beside them (the build directory may not be readable to
    /// it), plus `extra` flags. No `--allow-root`: the server is not root.
    pub fn start_as(account: &Account, extra: &[&str]) -> Fixture {
        let files = socklab_testkit::Fixture::with_cost(Cost::Cheap);
        let work = files.work();
        let server_bin = files.path("shell-server");
        std::fs::copy(bin("shell-server"), &server_bin).unwrap();
        account.give(files.dir());
        let mut cmd = Command::new(&server_bin);
        cmd.args(["--port", "0", "--login-delay-ms", "50", "--users"])
            .arg(files.users())
            .arg("--workdir")
            .arg(&work)
            .args(extra)
            .stdin(Stdio::null())
            .uid(account.uid)
            .gid(account.gid);
        Fixture {
            server: Server::spawn_with(&mut cmd),
            work,
            files,
        }
    }
}
