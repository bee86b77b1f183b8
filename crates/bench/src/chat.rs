//! Load patterns for the UDP chat, and its ceiling: a raw sendto/recvfrom loop.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
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

/// A sender that waits this long for the window to open assumes the message that
/// would open it was lost (UDP may drop it), and goes on.
pub const WINDOW_STALL: Duration = Duration::from_millis(5);

/// The sender's side of the flow control: how many messages the watched receiver has
/// seen, and the sender to wake when it has seen more.
#[derive(Debug)]
struct Window {
    seen: AtomicU64,
    sender: Thread,
}

impl Window {
    /// A window for the calling thread, which will send.
    fn new() -> Arc<Window> {
        Arc::new(Window {
            seen: AtomicU64::new(0),
            sender: std::thread::current(),
        })
    }

    /// Called by the watched receiver for each message: wakes the sender every quarter
    /// window (`unpark` costs no system call when the sender is not waiting).
    fn saw_one(&self) {
        let seen = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if seen % (WINDOW / 4) == 0 {
            self.sender.unpark();
        }
    }

    /// Called by the sender before message `i`: waits while `WINDOW` messages are in
    /// flight. `forgiven` counts messages given up as lost, so one lost datagram costs
    /// one [`WINDOW_STALL`] and does not shrink the window for the rest of the run.
    fn wait_for_room(&self, i: u64, forgiven: &mut u64) {
        let start = Instant::now();
        loop {
            let acked = self.seen.load(Ordering::Relaxed) + *forgiven;
            if i < acked + WINDOW {
                return;
            }
            if start.elapsed() > WINDOW_STALL {
                *forgiven += i + 1 - (acked + WINDOW);
                return;
            }
            std::thread::park_timeout(Duration::from_micros(200));
        }
    }
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
                    if buf[..n].starts_with(prefix.as_bytes()) {
                        got.fetch_add(1, Ordering::Relaxed);
                        last.fetch_max(start.elapsed().as_micros() as u64, Ordering::Relaxed);
                        if let Some(w) = &window {
                            w.saw_one();
                        }
                    }
                }
                // Leave, so the next run starts with an empty chat.
                let _ = s.send_to(b"/quit", server);
            })
        })
        .collect();
    let mut forgiven = 0;
    for i in 0..count {
        if paced {
            window.wait_for_room(i, &mut forgiven);
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

/// The ceiling: one socket sends `count` datagrams straight to another, as fast as the
/// same [`WINDOW`] lets it; datagrams received per second.
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
                    window.saw_one();
                }
            }
            (got, last)
        })
    };
    let mut forgiven = 0;
    for i in 0..count {
        window.wait_for_room(i, &mut forgiven);
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
