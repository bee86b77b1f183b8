//! Four ways to wait for data: blocking, with a timeout, non-blocking, and in `poll`.
//!
//! ```text
//! cargo run -p socklab-echo --example blocking      (or: make example-blocking)
//! ```
//!
//! The same client socket reads from a server thread four times, each time set up
//! differently:
//!
//! 1. blocking (Python `settimeout(None)`, the default): `read` sleeps until data comes;
//! 2. with a timeout (`settimeout(0.1)`, Rust `set_read_timeout`): `read` gives up with
//!    an error after 100 ms. Linux reports it as `WouldBlock` (EAGAIN), Windows as
//!    `TimedOut`; code that waits with a timeout must accept both;
//! 3. non-blocking (`setblocking(False)`, `set_nonblocking(true)`): `read` returns
//!    `WouldBlock` at once. Calling it in a loop until data comes, as the tutorials'
//!    clients did, keeps a CPU busy doing nothing;
//! 4. in `poll` (the `select()` of the tutorials, here through the `mio` crate, which
//!    uses epoll on Linux): the thread sleeps until the kernel says the socket is
//!    readable, then reads until `WouldBlock`. This is how one thread serves thousands
//!    of sockets (`echo-server --event-loop`).

use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long the server waits, after the client says "go", before it sends.
const SERVER_DELAY: Duration = Duration::from_millis(200);
/// The read timeout of part 2.
const READ_TIMEOUT: Duration = Duration::from_millis(100);
/// How long part 3 spins on a non-blocking read to show what busy-waiting costs.
const SPIN_FOR: Duration = Duration::from_millis(50);
/// Upper bound on any wait in `poll`, so the example always ends.
const POLL_LIMIT: Duration = Duration::from_secs(5);

/// What the client asks the server thread to do next.
enum Cue {
    /// Wait `SERVER_DELAY`, then send these bytes.
    SendLater(&'static [u8]),
    /// Wait `SERVER_DELAY`, then close the connection.
    CloseLater,
}

fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (cue, cues) = mpsc::channel::<Cue>();
    let server = thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        for c in cues {
            thread::sleep(SERVER_DELAY);
            match c {
                Cue::SendLater(bytes) => conn.write_all(bytes).unwrap(),
                Cue::CloseLater => return,
            }
        }
    });

    let mut stream = TcpStream::connect(addr).unwrap();
    println!(
        "client socket: fileno() = {} (the descriptor poll will watch)",
        stream.as_raw_fd()
    );
    let mut buf = [0u8; 64];

    // 1. Blocking: the default.
    println!(
        "1. blocking: gettimeout() = {:?}, the server sends in {} ms",
        stream.read_timeout().unwrap(),
        SERVER_DELAY.as_millis()
    );
    cue.send(Cue::SendLater(b"hello")).unwrap();
    let t = Instant::now();
    let n = stream.read(&mut buf).unwrap();
    println!(
        "   blocking read slept {} ms, then got {:?}",
        t.elapsed().as_millis(),
        String::from_utf8_lossy(&buf[..n])
    );

    // 2. A timeout: nothing is sent this time.
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    println!(
        "2. timeout: settimeout -> gettimeout() = {:?}, the server sends nothing",
        stream.read_timeout().unwrap()
    );
    let t = Instant::now();
    match stream.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => println!(
            "   timeout read gave up after {} ms: Err({:?}) ({e})",
            t.elapsed().as_millis(),
            e.kind()
        ),
        other => println!("   timeout read: unexpected {other:?}"),
    }
    stream.set_read_timeout(None).unwrap();

    // 3. Non-blocking: never sleeps.
    stream.set_nonblocking(true).unwrap();
    println!("3. non-blocking: setblocking(False), the server sends nothing");
    let t = Instant::now();
    match stream.read(&mut buf) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => println!(
            "   non-blocking read returned in {} us: Err(WouldBlock), no data yet",
            t.elapsed().as_micros()
        ),
        other => println!("   non-blocking read: unexpected {other:?}"),
    }
    let t = Instant::now();
    let mut spins = 0u64;
    while t.elapsed() < SPIN_FOR {
        if stream.read(&mut buf).is_ok() {
            break;
        }
        spins += 1;
    }
    println!(
        "   retrying it in a loop for {} ms made {spins} read calls, all WouldBlock: \
         busy-waiting burns a CPU",
        SPIN_FOR.as_millis()
    );

    // 4. Waiting in poll: sleep until the kernel says "readable", then drain.
    let mut stream = MioStream::from_std(stream);
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(8);
    poll.registry()
        .register(&mut stream, Token(0), Interest::READABLE)
        .unwrap();
    println!(
        "4. poll: registered the socket for READABLE, the server sends in {} ms",
        SERVER_DELAY.as_millis()
    );
    cue.send(Cue::SendLater(b"world")).unwrap();
    let t = Instant::now();
    let got = wait_and_drain(&mut poll, &mut events, &mut stream);
    println!(
        "   poll slept {} ms until readable; read until WouldBlock got {:?}: drained, back to poll",
        t.elapsed().as_millis(),
        String::from_utf8_lossy(&got.data)
    );
    cue.send(Cue::CloseLater).unwrap();
    let got = wait_and_drain(&mut poll, &mut events, &mut stream);
    if got.eof {
        println!("   poll woke again and read returned 0 bytes: EOF, the server closed");
    } else {
        println!("   poll: expected EOF, got {:?}", got.data);
    }
    server.join().unwrap();
}

/// What one readiness event yielded.
struct Drained {
    data: Vec<u8>,
    eof: bool,
}

/// Waits in `poll` until the socket is readable, then reads until `WouldBlock` (the
/// rule with edge-triggered readiness: an event says "something changed", and only a
/// `WouldBlock` proves there is nothing left). Bounded by `POLL_LIMIT`.
fn wait_and_drain(poll: &mut Poll, events: &mut Events, stream: &mut MioStream) -> Drained {
    let deadline = Instant::now() + POLL_LIMIT;
    let mut out = Drained {
        data: Vec::new(),
        eof: false,
    };
    let mut buf = [0u8; 64];
    while Instant::now() < deadline {
        poll.poll(
            events,
            Some(deadline.saturating_duration_since(Instant::now())),
        )
        .unwrap();
        // A wake-up may be spurious: if the first read says WouldBlock, poll again.
        loop {
            match stream.read(&mut buf) {
                Ok(0) => {
                    out.eof = true;
                    return out;
                }
                Ok(n) => out.data.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    println!("   read failed: {e}");
                    out.eof = true;
                    return out;
                }
            }
        }
        if !out.data.is_empty() {
            return out;
        }
    }
    out
}
