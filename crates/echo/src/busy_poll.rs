//! Busy polling, off unless asked for (`echo-server --busy-poll-us MICROS`): spin for
//! a connection's next message for a moment before sleeping.
//!
//! A blocking `read` that finds nothing puts the thread to sleep, and the next message
//! has to wake it. Waking a thread on another core can cost more than the rest of a
//! loopback round trip, most of all in a virtual machine, where the other virtual CPU
//! is halted and must be woken by an inter-processor interrupt through the host. A
//! client that sends its next request as soon as it has read the reply leaves only a
//! short gap, so with a budget set the server tries a non-blocking
//! `recv(MSG_DONTWAIT)` in a loop for up to that budget after each reply, and only
//! then blocks. The price is up to the budget in CPU time per reply. What it buys and
//! costs on a real machine is measured in docs/benchmarks.md and lesson 1's "Busy
//! polling (opt-in)".
//!
//! Three bounds keep the spinning from hurting anyone else:
//!
//! - At most one thread per spare core spins at a time (none on a 1-core machine):
//!   the others sleep in `read` as usual, so 1,000 connections cost no more CPU than
//!   one.
//! - It spins only when a connection has just been served (after a reply, or right
//!   after it was accepted): an idle server, and a quiet connection, never spin.
//! - The spin is bounded by `--busy-poll-us`, at most
//!   [`MAX_BUSY_POLL`](crate::limits::MAX_BUSY_POLL); the idle timeout (`SO_RCVTIMEO`)
//!   starts when the spin ends.
//!
//! Linux has the same idea built in (`SO_BUSY_POLL`, the `net.core.busy_read`
//! sysctl), but only for network cards with NAPI polling, not for loopback. A
//! production server with a latency budget would pin its threads to cores, or use
//! `io_uring` with `SQPOLL`, instead of spinning in user space.

use nix::errno::Errno;
use nix::sys::socket::{recv, MsgFlags};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Threads spinning right now, across every connection of this process.
static SPINNING: AtomicUsize = AtomicUsize::new(0);

/// One spinner per spare core: a spinner must never take the core that the thread it
/// waits for needs to run on, so a one-core machine (or one that cannot tell) never
/// spins.
pub fn max_spinners() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get().saturating_sub(1))
            .unwrap_or(0)
    })
}

/// A claim on one of the `max_spinners` slots, given back when dropped.
struct SpinSlot;

impl SpinSlot {
    fn claim() -> Option<SpinSlot> {
        SPINNING
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max_spinners()).then_some(n + 1)
            })
            .ok()
            .map(|_| SpinSlot)
    }
}

impl Drop for SpinSlot {
    fn drop(&mut self) {
        SPINNING.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `read`, but first spin for up to `budget` with `recv(MSG_DONTWAIT)` if a spin slot
/// is free. A zero budget is a plain blocking `read`. Errors are `read`'s own.
pub fn read<S: Read + AsRawFd>(
    stream: &mut S,
    buf: &mut [u8],
    budget: Duration,
) -> io::Result<usize> {
    if !budget.is_zero() {
        if let Some(_slot) = SpinSlot::claim() {
            let start = Instant::now();
            while start.elapsed() < budget {
                match recv(stream.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT) {
                    Ok(n) => return Ok(n),
                    Err(Errno::EAGAIN | Errno::EINTR) => std::thread::yield_now(),
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    stream.read(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::sync::Mutex;

    /// The spin slots are process-wide; the tests that count them take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        (a, b)
    }

    #[test]
    fn returns_data_that_arrives_while_spinning_or_after() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let (mut a, mut b) = pair();
        let mut buf = [0u8; 16];
        a.write_all(b"now").unwrap();
        let n = read(&mut b, &mut buf, Duration::from_millis(50)).unwrap();
        assert_eq!(&buf[..n], b"now");
        // Nothing arrives within the budget: the read falls back to blocking.
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            a.write_all(b"later").unwrap();
            a
        });
        let n = read(&mut b, &mut buf, Duration::from_micros(100)).unwrap();
        assert_eq!(&buf[..n], b"later");
        drop(writer.join().unwrap());
        assert_eq!(
            read(&mut b, &mut buf, Duration::from_micros(100)).unwrap(),
            0
        );
        assert_eq!(
            SPINNING.load(Ordering::Acquire),
            0,
            "a spin slot was not given back"
        );
    }

    #[test]
    fn never_more_spinners_than_slots() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let slots: Vec<_> = (0..max_spinners() + 3)
            .filter_map(|_| SpinSlot::claim())
            .collect();
        assert_eq!(slots.len(), max_spinners());
        drop(slots);
        assert_eq!(SpinSlot::claim().is_some(), max_spinners() > 0);
    }
}
