//! Any datagram as a join to a chat server that verifies joins (`--verify-join`): decoded
//! and parsed as the server does, then its token checked against the address's cookie.
//! No panic, and no token is accepted but the one the server issued to that address
//! (hex digits in either case), nor for another address.
#![no_main]
use libfuzzer_sys::fuzz_target;
use socklab_chat::cookie::Cookies;
use socklab_chat::protocol::{decode, parse, trim_end, Command};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

/// One key and one instant for the whole run, so a token the fuzzer learns stays valid.
fn cookies() -> &'static (Cookies, Instant) {
    static C: OnceLock<(Cookies, Instant)> = OnceLock::new();
    C.get_or_init(|| {
        let now = Instant::now();
        (Cookies::new(now), now)
    })
}

fuzz_target!(|data: &[u8]| {
    let (cookies, now) = cookies();
    let addr: SocketAddr = "192.0.2.7:40000".parse().unwrap();
    let other: SocketAddr = "192.0.2.8:40000".parse().unwrap();
    let text = decode(trim_end(data));
    let Command::Join { token, nick } = parse(&text) else {
        return;
    };
    assert!(!token.contains(char::is_whitespace), "{token:?}");
    if let Some(nick) = &nick {
        assert!(!nick.is_empty() && !nick.contains(char::is_whitespace), "{nick:?}");
    }
    if cookies.verify(addr, &token, *now) {
        assert_eq!(token.to_ascii_lowercase(), cookies.token(addr, *now));
        assert!(!cookies.verify(other, &token, *now), "one token for two addresses");
    }
    // The real token verifies, in the slot it was issued in.
    let real = cookies.token(addr, *now);
    assert!(cookies.verify(addr, &real, *now));
});
