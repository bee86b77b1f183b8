//! The users file: one `name:$argon2id$…` line per user, never a password.
//!
//! The tutorials' login exercise compared a plaintext password from a dict. Here the
//! file holds argon2id hashes in PHC form, is written atomically with mode 0600, and
//! any line that is not a valid entry is an error naming its number, so a typo is not
//! a silent lock-out.

use crate::limits::{MAX_PASSWORD_LEN, MAX_USERNAME_LEN};
use crate::pool::{dummy_hash, HashPool};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use socklab_proto::{Error, Result};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// Hashes a password with argon2id and a random salt, in PHC string form
/// (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`).
pub(crate) fn hash_password(password: &str) -> Result<String> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(Error::Usage(format!(
            "password is longer than {MAX_PASSWORD_LEN} bytes"
        )));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Other(format!("hashing the password: {e}")))
}

/// A user name is 1 to 32 of `A-Z a-z 0-9 . _ -`, so it can never break the users
/// file's `name:hash` lines or a log line.
fn validate_username(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_USERNAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "invalid user name {:?}: use 1 to {MAX_USERNAME_LEN} letters, digits, '.', '_' or '-'",
            name
        )))
    }
}

/// The users file, loaded.
///
/// Clones share one password-hashing pool, so a server that hands a clone to each
/// connection still hashes at most [`crate::limits::MAX_CONCURRENT_HASHES`] passwords
/// at once.
#[derive(Debug, Clone, Default)]
pub struct Users {
    hashes: BTreeMap<String, String>,
    pool: Arc<HashPool>,
}

impl Users {
    /// Reads `name:$argon2id$…` lines; blank lines and `#` comments are skipped. Any
    /// other line is an error naming its number, so a typo is not a silent lock-out.
    pub fn load(path: &Path) -> Result<Users> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            users_file_error(
                path,
                format!(
                    "{e} (create it with: socklab-passwd --users {} NAME)",
                    path.display()
                ),
            )
        })?;
        Self::parse(&text).map_err(|reason| users_file_error(path, reason))
    }

    /// Parses the text of a users file.
    pub fn parse(text: &str) -> std::result::Result<Users, String> {
        let mut hashes = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, hash) = line
                .split_once(':')
                .ok_or_else(|| format!("line {}: expected name:$argon2id$…", i + 1))?;
            validate_username(name).map_err(|e| format!("line {}: {e}", i + 1))?;
            let parsed = PasswordHash::new(hash)
                .map_err(|e| format!("line {}: not a password hash: {e}", i + 1))?;
            if parsed.algorithm.as_str() != "argon2id" {
                return Err(format!(
                    "line {}: hash algorithm {} is not argon2id",
                    i + 1,
                    parsed.algorithm
                ));
            }
            hashes.insert(name.to_owned(), hash.to_owned());
        }
        Ok(Users {
            hashes,
            pool: Arc::default(),
        })
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// True when the file has no users: nobody can log in.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Checks a password. An unknown user is verified against a dummy hash, so both
    /// failures take the same time.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let (hash, known) = match self.hashes.get(user) {
            Some(h) => (h.clone(), true),
            None => (
                dummy_hash(self.hashes.values().next().map(String::as_str)),
                false,
            ),
        };
        self.pool.verify(&hash, password) && known
    }

    /// Adds or replaces `name` in the users file at `path`, atomically (a temp file
    /// renamed over it), readable by its owner only. Returns true when `name` was
    /// already there (its password was replaced), false when it was added.
    pub fn set_password(path: &Path, name: &str, password: &str) -> Result<bool> {
        validate_username(name)?;
        let hash = hash_password(password)?;
        let old = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        // Validate what is there, so we never rewrite a file we do not understand.
        Users::parse(&old).map_err(|reason| users_file_error(path, reason))?;
        let mut out = String::new();
        let mut replaced = false;
        for line in old.lines() {
            if line.trim().split_once(':').map(|(n, _)| n) == Some(name) {
                out.push_str(&format!("{name}:{hash}\n"));
                replaced = true;
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        if !replaced {
            out.push_str(&format!("{name}:{hash}\n"));
        }
        write_private_file(path, out.as_bytes())?;
        Ok(replaced)
    }
}

/// A users file that cannot be used: the user's to fix.
fn users_file_error(path: &Path, reason: String) -> Error {
    Error::Usage(format!("users file {}: {reason}", path.display()))
}

/// Writes `data` to `path` through a temp file in the same directory, mode 0600.
fn write_private_file(path: &Path, data: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("users"),
        std::process::id()
    ));
    let ctx = |what: &str| format!("{what} {}", tmp.display());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io(ctx("creating"), e))?;
    f.write_all(data)
        .map_err(|e| Error::io(ctx("writing"), e))?;
    f.sync_all().map_err(|e| Error::io(ctx("syncing"), e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(format!("replacing {}", path.display()), e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHash;

    #[test]
    fn stores_argon2id_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        assert!(!Users::set_password(&path, "alice", "correct horse").unwrap());
        assert!(!Users::set_password(&path, "bob", "battery").unwrap());
        assert!(
            Users::set_password(&path, "alice", "staple").unwrap(),
            "alice was there already"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("staple") && !text.contains("battery"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.lines().all(|l| l.contains(":$argon2id$")), "{text}");
        let users = Users::load(&path).unwrap();
        assert!(users.verify("alice", "staple"));
        assert!(!users.verify("alice", "correct horse"));
        assert!(users.verify("bob", "battery"));
        assert!(!users.verify("carol", "battery"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn rejects_bad_lines_with_their_number() {
        let err = Users::parse("# users\n\nalice:plaintext\n").unwrap_err();
        assert!(err.starts_with("line 3:"), "{err}");
        let err =
            Users::parse("bad name:$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA\n").unwrap_err();
        assert!(err.contains("invalid user name"), "{err}");
    }

    #[test]
    fn dummy_hash_costs_the_same_as_a_real_one() {
        // An unknown user must take as long as a wrong password: the dummy hash must
        // use the same algorithm and the same memory, time and parallelism costs.
        let real = hash_password("some password").unwrap();
        let params = |h: &str| {
            let parsed = PasswordHash::new(h).unwrap();
            (
                parsed.algorithm.to_string(),
                parsed.version,
                parsed.params.to_string(),
            )
        };
        assert_eq!(params(&dummy_hash(None)), params(&real));
        assert!(
            !Users::default().verify("nobody", ""),
            "empty password matched the dummy"
        );
    }

    #[test]
    fn dummy_hash_takes_the_users_files_own_parameters() {
        // A users file written with other costs than argon2's defaults: an unknown user
        // must cost what a known one costs there, or the time of a refusal tells
        // whether the name exists.
        let salt = SaltString::generate(&mut OsRng);
        let cheap = argon2::Params::new(8, 1, 1, None).unwrap();
        let hash = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, cheap)
            .hash_password(b"right", &salt)
            .unwrap()
            .to_string();
        let users = Users::parse(&format!("alice:{hash}\n")).unwrap();
        let params = |h: &str| PasswordHash::new(h).unwrap().params.to_string();
        assert_eq!(params(&dummy_hash(Some(&hash))), params(&hash));
        assert!(
            !users.verify("mallory", "right"),
            "an unknown user logged in"
        );
        assert!(users.verify("alice", "right"));
    }

    #[test]
    fn rejects_usernames_that_could_break_the_file() {
        for bad in ["", "a:b", "a b", "a\nb", &"x".repeat(33)] {
            assert!(validate_username(bad).is_err(), "{bad:?}");
        }
        validate_username("alice.smith-2_x").unwrap();
    }
}
