//! Login attempts limited per address, across all of its connections.
//!
//! The delay after a failed login and the three failures per connection slow one
//! connection; an attacker opens a hundred. So each address also has a turn: its
//! attempts are spaced [`GUESS_INTERVAL`] apart once a burst of [`GUESS_BURST`] is
//! spent, however many connections carry them, and an attempt waits for its turn before
//! its password is hashed. This is the generic cell rate algorithm (a token bucket kept
//! as one time per address): `next` is when the address's bucket will be full again.
//!
//! An address is its IP, and for IPv6 its /64: one host is given a whole /64 and can
//! pick any address in it.

use crate::limits::{GUESS_BURST, GUESS_INTERVAL, MAX_GUESS_ADDRESSES, MAX_GUESS_WAIT};
use socklab_net::Connection;
use socklab_proto::{Error, ErrorCode, Result};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The turns of every address that tried to log in lately. Clones share one table, so
/// a server's connections, each with its own copy of the policy, see each other's
/// attempts.
#[derive(Debug, Clone)]
pub struct Guesses {
    next: Arc<Mutex<HashMap<String, Instant>>>,
    burst: u32,
    interval: Duration,
}

impl Default for Guesses {
    fn default() -> Self {
        Guesses::new(GUESS_BURST, GUESS_INTERVAL)
    }
}

impl Guesses {
    /// `burst` attempts at once per address, then one per `interval`.
    pub fn new(burst: u32, interval: Duration) -> Self {
        Guesses {
            next: Arc::new(Mutex::new(HashMap::new())),
            burst: burst.max(1),
            interval,
        }
    }

    fn table(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        // The table is a cache of times; one a panicking thread left is still usable.
        self.next.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the next turn of `peer`'s address before a login attempt is hashed;
    /// a turn too far off is refused on `conn` with `busy`, and is the error returned
    /// (close the connection).
    pub(crate) fn wait_turn<S: Read + Write + AsFd>(
        &self,
        conn: &mut Connection<S>,
        peer: &str,
    ) -> Result<()> {
        match self.reserve(peer, Instant::now()) {
            Ok(wait) if wait.is_zero() => Ok(()),
            Ok(wait) => {
                log::info!("{peer}: login attempt waits {wait:?} for its address's turn");
                std::thread::sleep(wait);
                Ok(())
            }
            Err(wait) => {
                log::warn!("{peer}: login refused, too many attempts from its address");
                let refusal = Error::refused(
                    ErrorCode::Busy,
                    format!(
                        "too many failed logins from your address; try again in {} s",
                        wait.as_secs() + 1
                    ),
                );
                conn.send_error(&refusal)?;
                Err(refusal)
            }
        }
    }

    /// Takes the next turn of `peer`'s address for one attempt: `Ok(wait)` to wait
    /// before hashing, or `Err(wait)` when the turn is more than [`MAX_GUESS_WAIT`]
    /// away (no turn taken: refuse the attempt).
    fn reserve(&self, peer: &str, now: Instant) -> Result<Duration, Duration> {
        let key = address_of(peer);
        let tolerance = self.interval * (self.burst - 1);
        let mut table = self.table();
        let next = table.get(&key).copied().unwrap_or(now).max(now);
        let start = now.max(next.checked_sub(tolerance).unwrap_or(now));
        let wait = start - now;
        if wait > MAX_GUESS_WAIT {
            return Err(wait);
        }
        if !table.contains_key(&key) && table.len() >= MAX_GUESS_ADDRESSES {
            make_room(&mut table, now);
        }
        table.insert(key, next + self.interval);
        Ok(wait)
    }

    /// Gives back the turn a successful login took: only failures slow an address.
    pub(crate) fn refund(&self, peer: &str) {
        let key = address_of(peer);
        let mut table = self.table();
        if let Some(next) = table.get_mut(&key) {
            if let Some(earlier) = next.checked_sub(self.interval) {
                *next = earlier;
            }
        }
    }
}

/// Forgets the addresses whose bucket is full again, and if none is, the one whose
/// bucket fills soonest.
fn make_room(table: &mut HashMap<String, Instant>, now: Instant) {
    table.retain(|_, next| *next > now);
    if table.len() >= MAX_GUESS_ADDRESSES {
        if let Some(key) = table
            .iter()
            .min_by_key(|(_, t)| **t)
            .map(|(k, _)| k.clone())
        {
            table.remove(&key);
        }
    }
}

/// The address `peer` (`ip:port` as the servers write it) counts as: its IP, the /64
/// of an IPv6 one; otherwise the text before any `#`, so that every Unix-socket peer
/// (`unix#1`, `unix#2`…, all on this machine) is one address.
fn address_of(peer: &str) -> String {
    match peer.parse::<SocketAddr>().map(|a| a.ip().to_canonical()) {
        Ok(IpAddr::V4(ip)) => ip.to_string(),
        Ok(IpAddr::V6(ip)) => {
            let s = ip.segments();
            format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        Err(_) => peer.split('#').next().unwrap_or(peer).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_turn_per_interval_shared_by_every_port() {
        let g = Guesses::new(3, Duration::from_secs(1));
        let t0 = Instant::now();
        for port in 1..=3 {
            assert_eq!(
                g.reserve(&format!("192.0.2.1:{port}"), t0),
                Ok(Duration::ZERO)
            );
        }
        assert_eq!(g.reserve("192.0.2.1:4", t0), Ok(Duration::from_secs(1)));
        assert_eq!(g.reserve("192.0.2.1:5", t0), Ok(Duration::from_secs(2)));
        // Another address is not slowed.
        assert_eq!(g.reserve("192.0.2.2:1", t0), Ok(Duration::ZERO));
        // Far ahead: refused, and no turn taken.
        for _ in 0..8 {
            let _ = g.reserve("192.0.2.1:6", t0);
        }
        let far = g.reserve("192.0.2.1:7", t0);
        assert!(far.is_err(), "{far:?}");
        assert_eq!(g.reserve("192.0.2.1:7", t0), far);
    }

    #[test]
    fn a_success_gives_its_turn_back() {
        let g = Guesses::new(1, Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(g.reserve("192.0.2.1:1", t0), Ok(Duration::ZERO));
        g.refund("192.0.2.1:1");
        assert_eq!(g.reserve("192.0.2.1:2", t0), Ok(Duration::ZERO));
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(address_of("[2001:db8:1:2:3:4:5:6]:22"), "2001:db8:1:2::/64");
        assert_eq!(address_of("[::ffff:192.0.2.1]:22"), "192.0.2.1");
        assert_eq!(address_of("192.0.2.1:22"), "192.0.2.1");
        assert_eq!(address_of("test peer"), "test peer");
        assert_eq!(address_of("unix#7"), address_of("unix#8"));
    }
}
