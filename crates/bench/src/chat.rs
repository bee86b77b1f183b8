//! Load patterns for the UDP chat, and its reference: a raw sendto/recvfrom loop.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How many messages the benchmark's sender keeps in flight: sent, and not yet seen by
/// the first member (or by the raw loop's receiver). Fewer than the server's socket
/// buffer holds (`net.core.rmem_default` is 208 KiB: about 200 small datagrams), so the
/// relay always has work queued and the kernel has nothing to drop.
///
/// A sender that floods as fast as it can measures something else: on a 2-core machine
/// the flood keeps a core busy sending datagrams the kernel then drops at the server's
/// full socket (80% of them, measured), and the relay gets what is left of the other
/// core. Chat clients are people, and a real sender is on another machine.
pub const WINDOW: u64 = 128;

/// A sender that waits this long for the window to open goes on anyway: every message
/// in flight was lost (UDP may drop them), or the receiver is stuck.
pub const WINDOW_STALL: Duration = Duration::from_millis(5);

/// The sender's side of the flow control. Every message carries its number
/// (`message N`); the watched receiver records the highest it has seen, which acks that
/// one and every one before it, as TCP's cumulative ack does. A lost message then costs
/// nothing once a later one arrives, and one that arrives late is not counted twice.
#[derive(Debug)]
struct Window {
    /// One past the highest message number the watched receiver has seen.
    next: AtomicU64,
    /// False once the watched receiver has stopped: nothing will open the window.
    watching: AtomicBool,
    sender: Thread,
}

impl Window {
    /// A window for the calling thread, which will send.
    fn new() -> Arc<Window> {
        Arc::new(Window {
            next: AtomicU64::new(0),
            watching: AtomicBool::new(true),
            sender: std::thread::current(),
        })
    }

    /// Called by the watched receiver with each message's body: records its number
    /// and wakes the sender every quarter window (`unpark` costs no system call when
    /// the sender is not waiting).
    fn saw(&self, body: &[u8]) {
        let Some(n) = message_number(body) else {
            return;
        };
        self.next.fetch_max(n + 1, Ordering::Relaxed);
        if (n + 1) % (WINDOW / 4) == 0 {
            self.sender.unpark();
        }
    }

    /// Called by the watched receiver when it stops.
    fn stopped_watching(&self) {
        self.watching.store(false, Ordering::Relaxed);
        self.sender.unpark();
    }

    /// Called by the sender before message `i`: waits while `WINDOW` messages are in
    /// flight, at most [`WINDOW_STALL`].
    fn wait_for_room(&self, i: u64) {
        let start = Instant::now();
        while i >= self.next.load(Ordering::Relaxed) + WINDOW
            && self.watching.load(Ordering::Relaxed)
            && start.elapsed() < WINDOW_STALL
        {
            std::thread::park_timeout(Duration::from_micros(200));
        }
    }
}

/// The N of a `message N` body, if it is one.
fn message_number(body: &[u8]) -> Option<u64> {
    std::str::from_utf8(body.strip_prefix(b"message ")?)
        .ok()?
        .trim_end()
        .parse()
        .ok()
}

/// What one relay run measured.
#[derive(Debug, Clone, Copy)]
pub struct Relay {
    /// Messages delivered to members per second, all members together.
    pub deliveries_per_sec: f64,
    /// Fraction of expected deliveries that never arrived.
    pub loss: f64,
}

/// A member socket that has joined `server` under `nick` (retrying the join, since UDP
/// may drop it) and drained its welcome.
pub fn join(server: SocketAddr, nick: &str) -> Result<UdpSocket, String> {
    let s = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 65_536];
    for _ in 0..25 {
        // Padded with trailing spaces (which the server trims): it never answers an
        // unknown address with more bytes than it sent, so a tiny join gets no welcome.
        let join = format!("{:<128}", format!("/nick {nick}"));
        s.send_to(join.as_bytes(), server)
            .map_err(|e| e.to_string())?;
        if s.recv_from(&mut buf).is_ok() {
            // Drain the rest of the greeting (welcome, joins of others).
            while s.recv_from(&mut buf).is_ok() {}
            return Ok(s);
        }
    }
    Err(format!("{nick} could not join {server}"))
}

/// One sender sends `count` messages, as fast as the [`WINDOW`] lets it (or, with
/// `paced` false, as fast as it can), while `members` other members count what the
/// server relays to them, until nothing more arrives for a moment.
pub fn relay(server: SocketAddr, members: usize, count: u64, paced: bool) -> Result<Relay, String> {
    // Nicks unique to this run: members of an earlier run may not have left yet, and a
    // taken nick would not be granted.
    static RUN: AtomicU64 = AtomicU64::new(0);
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    let receivers: Vec<UdpSocket> = (0..members)
        .map(|i| join(server, &format!("r{run}m{i}")))
        .collect::<Result<_, _>>()?;
    let sender_nick = format!("r{run}sender");
    let sender = join(server, &sender_nick)?;
    let prefix = format!("<{sender_nick}> ");
    // Members just joined, so the sender's greeting may hold their join notices.
    let mut buf = [0u8; 2048];
    while sender.recv_from(&mut buf).is_ok() {}
    let got = Arc::new(AtomicU64::new(0));
    let last = Arc::new(AtomicU64::new(0));
    let window = Window::new();
    let start = Instant::now();
    let handles: Vec<_> = receivers
        .into_iter()
        .enumerate()
        .map(|(index, s)| {
            let (got, last, prefix) = (Arc::clone(&got), Arc::clone(&last), prefix.clone());
            // The first member paces the sender.
            let window = (index == 0).then(|| Arc::clone(&window));
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                // Stop after a quiet half second: the sender is done or the rest is lost.
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                while let Ok((n, _)) = s.recv_from(&mut buf) {
                    if let Some(body) = buf[..n].strip_prefix(prefix.as_bytes()) {
                        got.fetch_add(1, Ordering::Relaxed);
                        last.fetch_max(start.elapsed().as_micros() as u64, Ordering::Relaxed);
                        if let Some(w) = &window {
                            w.saw(body);
                        }
                    }
                }
                if let Some(w) = &window {
                    w.stopped_watching();
                }
                // Leave, so the next run starts with an empty chat.
                let _ = s.send_to(b"/quit", server);
            })
        })
        .collect();
    for i in 0..count {
        if paced {
            window.wait_for_room(i);
        }
        // A failed send is counted as loss by the receivers' totals.
        let _ = sender.send_to(format!("message {i}").as_bytes(), server);
    }
    for h in handles {
        h.join().map_err(|_| "receiver panicked".to_string())?;
    }
    let _ = sender.send_to(b"/quit", server);
    let delivered = got.load(Ordering::Relaxed);
    let secs = (last.load(Ordering::Relaxed) as f64 / 1e6).max(1e-6);
    Ok(Relay {
        deliveries_per_sec: delivered as f64 / secs,
        loss: 1.0 - delivered as f64 / (count * members as u64) as f64,
    })
}

/// The reference: one socket sends `count` datagrams straight to another, as fast as
/// the same [`WINDOW`] lets it; datagrams received per second.
pub fn raw_loop(count: u64) -> Result<Relay, String> {
    let rx = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let tx = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let to = rx.local_addr().map_err(|e| e.to_string())?;
    rx.set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(|e| e.to_string())?;
    let window = Window::new();
    let start = Instant::now();
    let receiver = {
        let window = Arc::clone(&window);
        std::thread::spawn(move || {
            let (mut got, mut last) = (0u64, Duration::ZERO);
            let mut buf = [0u8; 2048];
            while let Ok((n, _)) = rx.recv_from(&mut buf) {
                if n > 0 {
                    got += 1;
                    last = start.elapsed();
                    window.saw(&buf[..n]);
                }
            }
            window.stopped_watching();
            (got, last)
        })
    };
    for i in 0..count {
        window.wait_for_room(i);
        let _ = tx.send_to(format!("message {i}").as_bytes(), to);
    }
    let (got, last) = receiver
        .join()
        .map_err(|_| "receiver panicked".to_string())?;
    Ok(Relay {
        deliveries_per_sec: got as f64 / last.as_secs_f64().max(1e-6),
        loss: 1.0 - got as f64 / count as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_numbers_are_read_from_the_bodies_the_sender_sends() {
        assert_eq!(message_number(b"message 0"), Some(0));
        assert_eq!(message_number(b"message 99999\n"), Some(99_999));
        assert_eq!(message_number(b"*** someone joined"), None);
        assert_eq!(message_number(b"message x"), None);
    }

    #[test]
    fn window_opens_on_a_later_message_when_an_earlier_one_was_lost() {
        let w = Window::new();
        // Messages 0..=9 sent; 3 was lost, 9 arrived: everything up to 9 is acked.
        for n in [0, 1, 2, 4, 5, 6, 7, 8, 9] {
            w.saw(format!("message {n}").as_bytes());
        }
        let t = Instant::now();
        w.wait_for_room(10 + WINDOW - 1);
        assert!(t.elapsed() < WINDOW_STALL, "waited {:?}", t.elapsed());
    }

    #[test]
    fn full_window_waits_at_most_the_stall_and_not_at_all_once_nobody_watches() {
        let w = Window::new();
        let t = Instant::now();
        w.wait_for_room(WINDOW);
        let waited = t.elapsed();
        assert!(
            waited >= WINDOW_STALL,
            "a full window did not wait: {waited:?}"
        );
        w.stopped_watching();
        let t = Instant::now();
        w.wait_for_room(10 * WINDOW);
        assert!(
            t.elapsed() < WINDOW_STALL,
            "waited {:?} with nobody watching",
            t.elapsed()
        );
    }
}
