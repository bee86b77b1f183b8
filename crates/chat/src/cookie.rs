//! Join cookies: how the server learns that a new address is real before it makes it a
//! member.
//!
//! Anyone can write a victim's address as the source of a UDP datagram. If one such
//! datagram made that address a member, every broadcast, and every spoofed `/who`,
//! would go to the victim: the chat would be an amplifier aimed at it. So beyond
//! loopback a new address is first sent a cookie, `*** to join, type: /join TOKEN`,
//! and joins only by sending the token back, which only a peer that really receives at
//! that address can do. DTLS (`HelloVerifyRequest`) and QUIC (`Retry`) do the same.
//!
//! The token is stateless: the first 16 bytes of HMAC-SHA256 under a key drawn at
//! start, over the address and the current [`COOKIE_SLOT`]. The server keeps nothing
//! per stranger, so a flood of strangers costs it no memory; a token is good for the
//! slot it was made in and the next one.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// How long one time slot of the cookies lasts; a token works for one to two slots.
pub(crate) const COOKIE_SLOT: Duration = Duration::from_secs(30);

/// Bytes of the MAC kept in a token (shown as twice as many hex digits).
const TOKEN_BYTES: usize = 16;

/// The prefix of the line that hands a stranger its token; chat-client looks for it.
pub const CHALLENGE: &str = "*** to join, type: /join ";

/// The server's cookie key and clock.
pub struct Cookies {
    key: [u8; 32],
    start: Instant,
}

impl std::fmt::Debug for Cookies {
    // The key stays out of every log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cookies").finish_non_exhaustive()
    }
}

impl Cookies {
    /// A fresh random key from the operating system: tokens from an earlier run of the
    /// server are worthless.
    pub fn new(now: Instant) -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Cookies { key, start: now }
    }

    fn slot(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_secs() / COOKIE_SLOT.as_secs()
    }

    fn mac(&self, addr: SocketAddr, slot: u64) -> Hmac<Sha256> {
        // The key is 32 bytes, a length HMAC takes.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(&slot.to_be_bytes());
        // The canonical IP, so that a dual-stack socket's ::ffff:a.b.c.d and a.b.c.d
        // are one address.
        match addr.ip().to_canonical() {
            IpAddr::V4(ip) => mac.update(&ip.octets()),
            IpAddr::V6(ip) => mac.update(&ip.octets()),
        }
        mac.update(&addr.port().to_be_bytes());
        mac
    }

    /// The token for `addr` now.
    pub fn token(&self, addr: SocketAddr, now: Instant) -> String {
        let tag = self.mac(addr, self.slot(now)).finalize().into_bytes();
        tag[..TOKEN_BYTES]
            .iter()
            .fold(String::with_capacity(2 * TOKEN_BYTES), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    }

    /// True when `token` is what [`Cookies::token`] gave `addr` in this slot or the one
    /// before. The comparison takes the same time wherever the first wrong digit is.
    pub fn verify(&self, addr: SocketAddr, token: &str, now: Instant) -> bool {
        let Some(bytes) = decode_hex(token) else {
            return false;
        };
        let slot = self.slot(now);
        [Some(slot), slot.checked_sub(1)]
            .into_iter()
            .flatten()
            .any(|s| self.mac(addr, s).verify_truncated_left(&bytes).is_ok())
    }
}

/// `TOKEN_BYTES` bytes from their hex digits, or `None`.
fn decode_hex(token: &str) -> Option<Vec<u8>> {
    if token.len() != 2 * TOKEN_BYTES || !token.is_ascii() {
        return None;
    }
    (0..TOKEN_BYTES)
        .map(|i| u8::from_str_radix(&token[2 * i..2 * i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_works_for_its_address_in_its_slot_and_the_next_only() {
        let t0 = Instant::now();
        let cookies = Cookies::new(t0);
        let a: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let b: SocketAddr = "192.0.2.1:5001".parse().unwrap();
        let token = cookies.token(a, t0);
        assert_eq!(token.len(), 32);
        assert!(cookies.verify(a, &token, t0));
        assert!(cookies.verify(a, &token, t0 + COOKIE_SLOT));
        assert!(!cookies.verify(a, &token, t0 + 2 * COOKIE_SLOT));
        assert!(!cookies.verify(b, &token, t0), "another port");
        assert!(!cookies.verify(a, &token[..31], t0));
        assert!(!cookies.verify(a, &"0".repeat(32), t0));
        let mapped: SocketAddr = "[::ffff:192.0.2.1]:5000".parse().unwrap();
        assert!(cookies.verify(mapped, &token, t0), "dual-stack spelling");
        assert!(!Cookies::new(t0).verify(a, &token, t0), "another key");
    }
}
