//! What a command starts with: the server account's identity and a clean
//! environment, as sshd gives it, never the server's own environment.

use socklab_proto::{Error, Result};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

/// The default `PATH` of a command, as sshd sets it (root also gets the `sbin`s).
const USER_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
const ROOT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The account the server runs as: every command runs as it.
#[derive(Debug, Clone)]
pub struct Account {
    /// Login name (`USER`, `LOGNAME`).
    pub name: String,
    /// Home directory (`HOME`, and `cd ~`).
    pub home: PathBuf,
    /// Login shell (`SHELL`, and what a PTY session without a command runs).
    pub shell: PathBuf,
    /// Whether it is root.
    pub root: bool,
}

impl Account {
    /// The account of the effective user ID, from the password database.
    pub fn current() -> Result<Account> {
        let uid = nix::unistd::geteuid();
        let user = nix::unistd::User::from_uid(uid)
            .map_err(|e| Error::io("reading the password database", e.into()))?
            .ok_or_else(|| Error::Usage(format!("user ID {uid} has no password entry")))?;
        let shell = if user.shell.as_os_str().is_empty() {
            PathBuf::from("/bin/sh")
        } else {
            user.shell
        };
        Ok(Account {
            name: user.name,
            home: user.dir,
            shell,
            root: uid.is_root(),
        })
    }
}

/// Whether a client may set variable `name` (`LANG`, `LC_*`), as sshd's default
/// `AcceptEnv` allows.
pub(crate) fn client_may_set(name: &str) -> bool {
    name == "LANG"
        || name.strip_prefix("LC_").is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        })
}

/// The whole environment of a command: the account's identity, a default `PATH`,
/// `SOCKLAB_USER` (who logged in), `TERM` on a PTY, the client's `LANG`/`LC_*`, and
/// the server's own value of each `--pass-env` name. Nothing else.
pub(crate) fn command_env(
    account: &Account,
    login: &str,
    term: Option<&str>,
    client: &BTreeMap<String, String>,
    pass_env: &[String],
) -> Result<Vec<(OsString, OsString)>> {
    let mut env: BTreeMap<OsString, OsString> = BTreeMap::new();
    for (name, value) in client {
        if !client_may_set(name) {
            return Err(Error::bad_request(format!(
                "the client may set only LANG and LC_* variables, not {name:?}"
            )));
        }
        if value.contains('\0') {
            return Err(Error::bad_request(format!("{name} contains a NUL byte")));
        }
        env.insert(name.into(), value.into());
    }
    for name in pass_env {
        if let Some(value) = std::env::var_os(name) {
            env.insert(name.into(), value);
        }
    }
    if let Some(term) = term {
        if term.is_empty() || term.contains(['\0', '/']) {
            return Err(Error::bad_request(format!(
                "{term:?} is not a terminal type"
            )));
        }
        env.insert("TERM".into(), term.into());
    }
    let path = if account.root { ROOT_PATH } else { USER_PATH };
    for (k, v) in [
        ("HOME", OsString::from(&account.home)),
        ("USER", account.name.clone().into()),
        ("LOGNAME", account.name.clone().into()),
        ("SHELL", OsString::from(&account.shell)),
        ("PATH", path.into()),
        ("SOCKLAB_USER", login.into()),
    ] {
        env.insert(k.into(), v);
    }
    Ok(env.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_lang_and_lc_names() {
        assert!(client_may_set("LANG"));
        assert!(client_may_set("LC_ALL"));
        assert!(client_may_set("LC_CTYPE"));
        assert!(!client_may_set("LC_"));
        assert!(!client_may_set("PATH"));
        assert!(!client_may_set("LD_PRELOAD"));
        assert!(!client_may_set("LC_x"));
    }
}
