//! The one way tests and benchmarks make a users file: a directory holding `users`
//! (one user, [`USER`], whose password is [`password()`]), `password` (that password,
//! for a client's `--password-file`), and the directories the servers are given.

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The user every fixture's users file holds.
pub const USER: &str = "alice";

/// [`USER`]'s password in every fixture of this process: random, made on first use.
/// Known to the test, which logs in with it by hand or through a client; unknown to
/// anyone else on the machine, who could otherwise log in to a test's shell-server on
/// loopback and run commands as whoever runs the tests.
pub fn password() -> &'static str {
    static PASSWORD: OnceLock<String> = OnceLock::new();
    PASSWORD.get_or_init(|| {
        let hex: String = crate::random_bytes(12)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("pw-{hex}")
    })
}

/// How costly the argon2id hashes of a users file are to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// m=8 KiB, t=1, p=1, the least argon2 allows: a login is nearly free, so a suite
    /// that logs in hundreds of times stays fast. The servers read the parameters
    /// from each hash, so they accept it as they accept any argon2id PHC string.
    Cheap,
    /// What `socklab-passwd` writes (`socklab_auth::Users::set_password`, the argon2
    /// crate's defaults): for the benchmarks, whose figures include real logins, and for
    /// a test that wants the users file exactly as a user's would be.
    Real,
}

/// Writes a users file at `path` holding each `(name, password)` of `users`, hashed
/// with argon2id at `cost` and a random salt. Panics on any failure: this is test
/// support.
pub fn write_users(path: &Path, users: &[(&str, &str)], cost: Cost) {
    match cost {
        Cost::Cheap => {
            let params = Params::new(
                Params::MIN_M_COST,
                Params::MIN_T_COST,
                Params::MIN_P_COST,
                None,
            )
            .expect("the minimum argon2 parameters are valid");
            let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
            let text: String = users
                .iter()
                .map(|(name, password)| {
                    let salt = SaltString::generate(&mut OsRng);
                    let hash = argon
                        .hash_password(password.as_bytes(), &salt)
                        .unwrap_or_else(|e| panic!("hashing the password of {name}: {e}"));
                    format!("{name}:{hash}\n")
                })
                .collect();
            std::fs::write(path, text)
                .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        }
        Cost::Real => {
            for (name, password) in users {
                socklab_auth::Users::set_password(path, name, password)
                    .unwrap_or_else(|e| panic!("adding {name} to {}: {e}", path.display()));
            }
        }
    }
}

/// A directory with `users` ([`USER`] with [`password()`]) and `password` in it. Made
/// in a new temp directory (removed on drop) or in one the caller holds.
#[derive(Debug)]
pub struct Fixture {
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    /// A new temp directory whose users file is hashed at [`Cost::Cheap`].
    pub fn new() -> Fixture {
        Self::with_cost(Cost::Cheap)
    }

    /// A new temp directory whose users file is hashed at `cost`.
    pub fn with_cost(cost: Cost) -> Fixture {
        let temp = tempfile::tempdir().expect("a temp directory");
        let mut fx = Self::in_dir(temp.path(), cost);
        fx._temp = Some(temp);
        fx
    }

    /// The files in `dir`, which the caller creates and removes (the benchmarks use a
    /// directory on tmpfs).
    pub fn in_dir(dir: &Path, cost: Cost) -> Fixture {
        // Canonical, so that paths the servers print (a shell's `pwd`) compare equal.
        let dir = dir
            .canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        write_users(&dir.join("users"), &[(USER, password())], cost);
        let file = dir.join("password");
        std::fs::write(&file, format!("{}\n", password()))
            .unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
        Fixture { dir, _temp: None }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `rel` inside the directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// The users file, for a server's `--users`.
    pub fn users(&self) -> PathBuf {
        self.path("users")
    }

    /// The file holding [`password()`], for a client's `--password-file`.
    pub fn password_file(&self) -> PathBuf {
        self.path("password")
    }

    /// `work/`, shell-server's `--workdir`, created on first use.
    pub fn work(&self) -> PathBuf {
        self.subdir("work")
    }

    /// `root/`, the directory ftp-server serves, created on first use.
    pub fn root(&self) -> PathBuf {
        self.subdir("root")
    }

    fn subdir(&self, name: &str) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socklab_auth::Users;

    #[test]
    fn a_cheap_fixture_holds_alice_with_the_least_argon2id_cost() {
        let fx = Fixture::new();
        let text = std::fs::read_to_string(fx.users()).unwrap();
        assert!(
            text.starts_with("alice:$argon2id$v=19$m=8,t=1,p=1$") && !text.contains(password()),
            "{text}"
        );
        let users = Users::load(&fx.users()).unwrap();
        assert!(users.verify(USER, password()));
        assert!(!users.verify(USER, "wrong"));
        assert_eq!(
            std::fs::read_to_string(fx.password_file()).unwrap(),
            format!("{}\n", password())
        );
    }

    #[test]
    fn every_user_gets_its_own_salt_at_either_cost() {
        let dir = tempfile::tempdir().unwrap();
        for cost in [Cost::Cheap, Cost::Real] {
            let path = dir.path().join(format!("{cost:?}"));
            write_users(
                &path,
                &[("bob", "same secret"), ("eve", "same secret")],
                cost,
            );
            let text = std::fs::read_to_string(&path).unwrap();
            let hashes: Vec<&str> = text
                .lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(_, h)| h)
                .collect();
            assert_eq!(hashes.len(), 2, "{text}");
            assert_ne!(hashes[0], hashes[1], "{text}");
            assert_eq!(
                hashes[0].contains("m=8,t=1,p=1"),
                cost == Cost::Cheap,
                "{text}"
            );
            let users = Users::load(&path).unwrap();
            assert!(users.verify("bob", "same secret") && users.verify("eve", "same secret"));
        }
    }
}
