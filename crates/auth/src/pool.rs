//! Verifying passwords on a small pool of threads, at a bounded memory cost.

use crate::limits::MAX_CONCURRENT_HASHES;
use argon2::password_hash::Output;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher, Version};
use std::collections::HashMap;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};

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

/// The threads that verify passwords: [`MAX_CONCURRENT_HASHES`] of them, started on
/// the first verification.
///
/// Why a pool rather than hashing on the connection's own thread: each argon2id
/// verification needs 19 MiB of working memory. Allocated and freed per login on a
/// thread per connection, the allocator keeps those blocks in per-thread arenas, so
/// the server's memory grows with the number of clients that ever logged in at once
/// (docs/security.md has the figures). Each pool thread allocates its blocks once and
/// reuses them, so hashing memory is bounded by the pool size; other logins queue,
/// within their login deadline.
#[derive(Debug, Default)]
pub(crate) struct HashPool {
    jobs: OnceLock<Sender<HashJob>>,
}

impl HashPool {
    /// Checks `password` against the PHC string `hash` on a pool thread, and waits.
    pub(crate) fn verify(&self, hash: &str, password: &str) -> bool {
        let jobs = self.jobs.get_or_init(start_workers);
        let (answer, result) = sync_channel(1);
        let job = HashJob {
            hash: hash.to_owned(),
            password: password.to_owned(),
            answer,
        };
        if jobs.send(job).is_err() {
            // No pool (its threads could not start): verify here rather than lock
            // everyone out.
            return verify_hash(hash, password, &mut Vec::new());
        }
        result.recv().unwrap_or(false)
    }
}

impl std::fmt::Debug for HashJob {
    // Hand-written so that a password never reaches a log line through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashJob")
    }
}

fn start_workers() -> Sender<HashJob> {
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
    tx
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

/// A hash of a random password nobody knows, with the argon2 parameters of `like` (a
/// hash from the users file) or argon2's defaults without one: an unknown user is
/// verified against it, so it costs what a wrong password for a known user costs,
/// whatever parameters the users file was written with. Made once per parameter set
/// per process.
pub(crate) fn dummy_hash(like: Option<&str>) -> String {
    type Costs = (u32, u32, u32, Option<usize>);
    static DUMMIES: OnceLock<Mutex<HashMap<Costs, String>>> = OnceLock::new();
    let params = like
        .and_then(|h| PasswordHash::new(h).ok())
        .and_then(|h| Params::try_from(&h).ok())
        .unwrap_or_default();
    let key = (
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        params.output_len(),
    );
    let mut dummies = DUMMIES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    dummies
        .entry(key)
        .or_insert_with(|| {
            let salt = SaltString::generate(&mut OsRng);
            let secret = SaltString::generate(&mut OsRng);
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(secret.as_str().as_bytes(), &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
        .clone()
}
