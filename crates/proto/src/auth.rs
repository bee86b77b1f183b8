//! Login: an argon2id users file and the server's side of `{"op":"login"}`.
//!
//! The tutorials' "ssh" ran whatever arrived; their login exercise compared a
//! plaintext password from a dict. Here:
//!
//! - the users file holds one `name:$argon2id$…` line per user, never a password;
//! - verification is argon2's, whose final comparison is constant-time;
//! - an unknown user is checked against a dummy hash, so it costs the same time as a
//!   wrong password and gets the same reply: timing does not reveal who exists;
//! - a password over [`MAX_PASSWORD_LEN`] bytes is refused without hashing;
//! - each failure is answered after [`LOGIN_FAILURE_DELAY`], the
//!   [`MAX_LOGIN_FAILURES`]th closes the connection, and the whole login must finish
//!   within a total deadline ([`LOGIN_DEADLINE`]);
//! - nothing but login is accepted before login (`auth_required`).
//!
//! Passwords still cross the network in clear: use loopback or an ssh tunnel.

use crate::deadline::{DeadlineStream, SetReadTimeout};
use crate::error::{Error, ErrorCode, Result};
use crate::limits::{
    LOGIN_DEADLINE, LOGIN_FAILURE_DELAY, MAX_CONCURRENT_HASHES, MAX_LOGIN_FAILURES,
    MAX_PASSWORD_LEN,
};
use crate::msg::{read_request, write_error, write_failure, write_ok, Empty, Request};
use argon2::password_hash::Output;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The longest user name.
pub const MAX_USERNAME_LEN: usize = 32;

/// Hashes a password with argon2id and a random salt, in PHC string form
/// (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`).
pub fn hash_password(password: &str) -> Result<String> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(Error::Other(format!(
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
pub fn validate_username(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_USERNAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Other(format!(
            "invalid user name {:?}: use 1 to {MAX_USERNAME_LEN} letters, digits, '.', '_' or '-'",
            name
        )))
    }
}

/// The users file, loaded.
#[derive(Debug, Clone, Default)]
pub struct Users {
    hashes: BTreeMap<String, String>,
}

impl Users {
    /// Reads `name:$argon2id$…` lines; blank lines and `#` comments are skipped. Any
    /// other line is an error naming its number, so a typo is not a silent lock-out.
    pub fn load(path: &Path) -> Result<Users> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::UsersFile {
            path: path.display().to_string(),
            reason: format!(
                "{e} (create it with: socklab-passwd --users {} NAME)",
                path.display()
            ),
        })?;
        Self::parse(&text).map_err(|reason| Error::UsersFile {
            path: path.display().to_string(),
            reason,
        })
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
        Ok(Users { hashes })
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
            Some(h) => (h.as_str(), true),
            None => (dummy_hash(), false),
        };
        verify_on_pool(hash, password) && known
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
        Users::parse(&old).map_err(|reason| Error::UsersFile {
            path: path.display().to_string(),
            reason,
        })?;
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

/// Checks `password` against the PHC string `hash`, hashing into `memory` (argon2's
/// working blocks, reused from one verification to the next) and comparing the
/// result in constant time (`Output`'s equality is constant-time).
fn verify_hash(hash: &str, password: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        Params::try_from(&parsed),
        Algorithm::try_from(parsed.algorithm),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    memory.resize(params.block_count(), Block::default());
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    if argon
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..])
        .is_err()
    {
        return false;
    }
    Output::new(&out).is_ok_and(|got| got == expected)
}

/// One verification for the hashing pool.
struct HashJob {
    hash: String,
    password: String,
    answer: SyncSender<bool>,
}

/// Verifies on one of [`MAX_CONCURRENT_HASHES`] dedicated threads and waits for the
/// answer.
///
/// Why a pool rather than hashing on the connection's own thread: each argon2id
/// verification needs 19 MiB of working memory. Allocated and freed per login on a
/// thread per connection, glibc's malloc kept those blocks in per-thread arenas, and
/// 50 clients logging in at once left the server at 840 MiB (measured by `make
/// stress`). Each pool thread allocates its blocks once and reuses them, so hashing
/// memory is bounded by the pool size; other logins queue. A production server would
/// do the same, or verify in a separate process.
fn verify_on_pool(hash: &str, password: &str) -> bool {
    static POOL: OnceLock<Mutex<Sender<HashJob>>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let (tx, rx) = channel::<HashJob>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..MAX_CONCURRENT_HASHES {
            let rx = Arc::clone(&rx);
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || hash_worker(&rx));
            if let Err(e) = spawned {
                log::error!("cannot start a password-hashing thread: {e}");
            }
        }
        Mutex::new(tx)
    });
    let (answer, result) = sync_channel(1);
    let job = HashJob {
        hash: hash.to_owned(),
        password: password.to_owned(),
        answer,
    };
    let sent = pool.lock().map(|tx| tx.send(job).is_ok()).unwrap_or(false);
    if !sent {
        // No pool (threads could not start): verify here rather than lock everyone out.
        return verify_hash(hash, password, &mut Vec::new());
    }
    result.recv().unwrap_or(false)
}

fn hash_worker(jobs: &Mutex<Receiver<HashJob>>) {
    let mut memory = Vec::new();
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let ok = verify_hash(&job.hash, &job.password, &mut memory);
        let _ = job.answer.send(ok);
    }
}

/// A hash of a random password nobody knows, made once per process.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = SaltString::generate(&mut OsRng);
        hash_password(random.as_str()).unwrap_or_default()
    })
}

/// How strict the server's login is. The defaults are the documented limits; tests
/// shorten them.
#[derive(Debug, Clone)]
pub struct LoginPolicy {
    /// The whole login must be done within this time from accept.
    pub deadline: Duration,
    /// Failures before the connection is closed.
    pub max_failures: u32,
    /// Wait before answering a failure.
    pub failure_delay: Duration,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            deadline: LOGIN_DEADLINE,
            max_failures: MAX_LOGIN_FAILURES,
            failure_delay: LOGIN_FAILURE_DELAY,
        }
    }
}

/// Runs the server side of login on a fresh connection from `peer` (its address, for
/// the log). Returns the user name once a login succeeds; any error means the caller
/// should close the connection (the peer has already been told why, where it could be).
pub fn server_login<S>(
    stream: &mut S,
    peer: &str,
    users: &Users,
    policy: &LoginPolicy,
) -> Result<String>
where
    S: Read + Write + SetReadTimeout,
{
    let deadline = Instant::now() + policy.deadline;
    let mut failures = 0;
    loop {
        let request = {
            let mut timed = DeadlineStream::new(stream, deadline);
            read_request(&mut timed)
        };
        let request = match request {
            Ok(Some(r)) => r,
            Ok(None) => return Err(Error::UnexpectedEof("login")),
            Err(Error::Timeout(_)) => {
                let secs = policy.deadline.as_secs_f64();
                let _ = write_failure(
                    stream,
                    ErrorCode::Timeout,
                    &format!("no login within {secs} s; closing"),
                );
                return Err(Error::Timeout(format!("waiting {secs} s for a login")));
            }
            Err(e) => {
                let _ = write_error(stream, &e);
                return Err(e);
            }
        };
        let (user, password) = match request {
            Request::Login { user, password } => (user, password),
            other => {
                log::info!("{peer}: refused {:?} before login", op_name(&other));
                write_error(stream, &Error::AuthRequired)?;
                continue;
            }
        };
        if answer_login(stream, peer, users, &user, password, &mut failures, policy)? {
            return Ok(user);
        }
    }
}

/// Answers one login request from `peer`: `ok` if the password is right, or, after
/// `policy.failure_delay`, `auth_failed`; a failure is logged with the peer's address,
/// which is what an operator (or fail2ban) needs. Returns whether it succeeded. The
/// `policy.max_failures`th failure in a row is `Err(AuthFailed)`: close the connection.
/// [`server_login`] uses it before anything else is allowed; a server that lets
/// anonymous sessions log in later (ftp) uses it mid-session.
pub fn answer_login<S: Write>(
    stream: &mut S,
    peer: &str,
    users: &Users,
    user: &str,
    password: String,
    failures: &mut u32,
    policy: &LoginPolicy,
) -> Result<bool> {
    // Refuse an oversized password without hashing it; it still counts as a failure
    // and still waits, so it is no faster than a wrong password.
    let ok = password.len() <= MAX_PASSWORD_LEN && users.verify(user, &password);
    drop(password);
    if ok {
        write_ok(stream, &Empty {})?;
        return Ok(true);
    }
    *failures += 1;
    log::warn!(
        "{peer}: failed login for user {user:?} ({failures}/{})",
        policy.max_failures
    );
    std::thread::sleep(policy.failure_delay);
    write_error(stream, &Error::AuthFailed)?;
    if *failures >= policy.max_failures {
        return Err(Error::AuthFailed);
    }
    Ok(false)
}

/// Runs the client side of login. `Ok(())` once the server accepted it.
pub fn client_login<S: Read + Write>(stream: &mut S, user: &str, password: &str) -> Result<()> {
    crate::msg::write_header(
        stream,
        &Request::Login {
            user: user.to_owned(),
            password: password.to_owned(),
        },
    )?;
    crate::msg::read_reply::<_, Empty>(stream).map(|_| ())
}

fn op_name(r: &Request) -> &'static str {
    match r {
        Request::Login { .. } => "login",
        Request::Exec { .. } => "exec",
        Request::List => "list",
        Request::Stat { .. } => "stat",
        Request::Get { .. } => "get",
        Request::Put { .. } => "put",
    }
}

/// Where a client's password comes from, in order: a file, the `SOCKLAB_PASSWORD`
/// environment variable, or a prompt on the terminal without echo.
pub fn client_password(password_file: Option<&Path>, prompt: &str) -> Result<String> {
    if let Some(path) = password_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading password file {}", path.display()), e))?;
        // The first line, as the flag's help says, without its line ending.
        let first = text.lines().next().unwrap_or("").trim_end_matches('\r');
        if first.is_empty() {
            return Err(Error::Other(format!(
                "password file {} has no password on its first line",
                path.display()
            )));
        }
        return Ok(first.to_owned());
    }
    if let Ok(pw) = std::env::var("SOCKLAB_PASSWORD") {
        return Ok(pw);
    }
    rpassword::prompt_password(prompt).map_err(|e| {
        Error::Other(format!(
            "cannot read a password from the terminal ({e}); use --password-file or SOCKLAB_PASSWORD"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_gives_its_first_line_and_an_empty_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "first line\r\nsecond line\n").unwrap();
        assert_eq!(client_password(Some(&path), "").unwrap(), "first line");
        std::fs::write(&path, "").unwrap();
        let e = client_password(Some(&path), "").unwrap_err().to_string();
        assert!(e.contains("has no password on its first line"), "{e}");
        std::fs::write(&path, "\nsecret on line two\n").unwrap();
        assert!(client_password(Some(&path), "").is_err());
    }

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
        assert_eq!(params(dummy_hash()), params(&real));
        assert!(
            !Users::default().verify("nobody", ""),
            "empty password matched the dummy"
        );
    }

    #[test]
    fn rejects_usernames_that_could_break_the_file() {
        for bad in ["", "a:b", "a b", "a\nb", &"x".repeat(33)] {
            assert!(validate_username(bad).is_err(), "{bad:?}");
        }
        validate_username("alice.smith-2_x").unwrap();
    }
}

#[cfg(test)]
mod login_tests {
    use super::*;
    use crate::frame::write_frame;
    use crate::msg::{read_reply, write_header};
    use std::io;

    /// A scripted peer: reads from `input`, collects what the server writes.
    struct Peer {
        input: io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Peer {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Peer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl SetReadTimeout for Peer {
        fn set_read_timeout(&self, _: Option<Duration>) -> io::Result<()> {
            Ok(())
        }
    }

    /// alice / "pw", with tiny argon2 parameters (the fuzz target uses the same).
    const USERS: &str = "alice:$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$oLR5MAEGfpggpujVlakg8jrOLGnE2ouxEqlNfMbANDc\n";

    fn fast() -> LoginPolicy {
        LoginPolicy {
            failure_delay: Duration::ZERO,
            ..LoginPolicy::default()
        }
    }

    fn login(user: &str, password: &str) -> Vec<u8> {
        let mut wire = Vec::new();
        write_header(
            &mut wire,
            &Request::Login {
                user: user.into(),
                password: password.into(),
            },
        )
        .unwrap();
        wire
    }

    fn run(input: Vec<u8>) -> (Result<String>, Vec<Result<Empty>>) {
        let users = Users::parse(USERS).unwrap();
        let mut peer = Peer {
            input: io::Cursor::new(input),
            output: Vec::new(),
        };
        let result = server_login(&mut peer, "test peer", &users, &fast());
        let mut replies = Vec::new();
        let mut r = peer.output.as_slice();
        while !r.is_empty() {
            replies.push(read_reply::<_, Empty>(&mut r));
        }
        (result, replies)
    }

    #[test]
    fn wrong_password_then_right_one_logs_in() {
        let input = [login("alice", "nope"), login("alice", "pw")].concat();
        let (result, replies) = run(input);
        assert_eq!(result.unwrap(), "alice");
        assert!(
            matches!(
                replies[0],
                Err(Error::Remote {
                    code: ErrorCode::AuthFailed,
                    ..
                })
            ),
            "{replies:?}"
        );
        assert!(replies[1].is_ok());
    }

    #[test]
    fn third_failure_closes_and_fourth_try_is_never_read() {
        let input = [
            login("alice", "a"),
            login("bob", "b"),
            login("alice", "c"),
            login("alice", "pw"),
        ]
        .concat();
        let (result, replies) = run(input);
        assert!(matches!(result, Err(Error::AuthFailed)), "{result:?}");
        assert_eq!(replies.len(), 3, "{replies:?}");
    }

    #[test]
    fn unknown_user_gets_the_same_reply_as_a_wrong_password() {
        let (_, unknown) = run(login("mallory", "pw"));
        let (_, wrong) = run(login("alice", "wrong"));
        assert_eq!(format!("{:?}", unknown[0]), format!("{:?}", wrong[0]));
    }

    #[test]
    fn oversized_password_is_refused() {
        let (result, replies) = run(login("alice", &"p".repeat(MAX_PASSWORD_LEN + 1)));
        assert!(result.is_err());
        assert!(matches!(
            replies[0],
            Err(Error::Remote {
                code: ErrorCode::AuthFailed,
                ..
            })
        ));
    }

    #[test]
    fn other_requests_before_login_get_auth_required() {
        let mut input = Vec::new();
        write_header(&mut input, &Request::Exec { cmd: "id".into() }).unwrap();
        input.extend(login("alice", "pw"));
        let (result, replies) = run(input);
        assert!(
            matches!(
                replies[0],
                Err(Error::Remote {
                    code: ErrorCode::AuthRequired,
                    ..
                })
            ),
            "{replies:?}"
        );
        assert_eq!(result.unwrap(), "alice");
    }

    #[test]
    fn malformed_header_gets_bad_request_and_ends_login() {
        let mut input = Vec::new();
        write_frame(&mut input, b"[1,2,3]", 100).unwrap();
        let (result, replies) = run(input);
        assert!(matches!(result, Err(Error::BadHeader(_))), "{result:?}");
        assert!(matches!(
            replies[0],
            Err(Error::Remote {
                code: ErrorCode::BadRequest,
                ..
            })
        ));
    }
}
