//! `listen(backlog)`: what happens to clients while a one-at-a-time server is busy.
//!
//! ```text
//! cargo run -p socklab-echo --example backlog       (or: make example-backlog)
//! ```
//!
//! The tutorials' servers were iterative: `accept` one client, serve it to the end,
//! then `accept` the next. They said `listen(5)` "allows 5 connections", which is not
//! what it does. The kernel completes TCP handshakes on its own and keeps them in an
//! accept queue until the program calls `accept`; the backlog is the length of that
//! queue. This example runs the real echo server in its `--iterative` mode with a
//! backlog of 1 (as `echo-server --iterative --backlog 1` does), keeps it busy with
//! one client, and then connects more:
//!
//! - the first ones **connect at once** even though nobody accepts them: they wait in
//!   the queue, and what they send is buffered but not answered;
//! - once the queue is full, Linux **drops** the next SYN instead of refusing it, so
//!   that client's `connect` hangs (and would retry for about two minutes): here a
//!   short connect timeout shows it. `net.ipv4.tcp_abort_on_overflow = 1` makes the
//!   kernel send a reset instead, and the client sees "connection refused";
//! - when the busy client leaves, the server accepts the queued ones in order.
//!
//! A production server does not make clients queue: it serves each on a thread or in
//! an event loop (the default and `--event-loop` modes of `echo-server`).

use socklab_echo::{run, ServerConfig};
use socklab_net::accept::{ServeOptions, Shutdown};
use socklab_net::socket::{tcp_listener, ListenOptions};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

/// The `listen(2)` backlog: tiny, so that it fills with a handful of clients.
const BACKLOG: i32 = 1;
/// Clients tried while the server is busy (bounded, so the example always ends).
const MAX_WAITING: usize = 5;
/// Stop trying once this many clients have timed out: the point is made.
const MAX_TIMEOUTS: usize = 2;
/// A queued connect completes in microseconds on loopback; a dropped SYN would be
/// retried after one second, so half a second tells the two apart.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a queued client waits for a reply that will not come.
const NO_REPLY_WAIT: Duration = Duration::from_millis(300);
/// How long a client waits for a reply that will come.
const REPLY_WAIT: Duration = Duration::from_secs(5);

fn main() {
    let listener = tcp_listener(
        "127.0.0.1:0".parse().unwrap(),
        ListenOptions {
            backlog: BACKLOG,
            reuse_addr: true,
        },
    )
    .unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let config = ServerConfig {
        serve: ServeOptions {
            iterative: true,
            shutdown: shutdown.clone(),
            ..ServeOptions::default()
        },
        ..ServerConfig::default()
    };
    let server = thread::spawn(move || run(listener, config));
    println!("echo server --iterative on {addr}, listen(backlog = {BACKLOG})");

    let mut busy = TcpStream::connect(addr).unwrap();
    let reply = echo(&mut busy, "client 1", REPLY_WAIT).unwrap();
    println!("client 1: connected and echoed {reply:?}; it stays, so the server is busy");

    let mut queued = Vec::new();
    let mut timed_out = 0;
    for n in 2..2 + MAX_WAITING {
        if timed_out == MAX_TIMEOUTS {
            break;
        }
        let t = Instant::now();
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => {
                println!(
                    "client {n}: connected in {} ms: queued in the backlog, not accepted",
                    t.elapsed().as_millis()
                );
                queued.push((n, stream));
            }
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                timed_out += 1;
                println!(
                    "client {n}: connect timed out after {} ms: the queue is full and the \
                     kernel dropped the SYN",
                    CONNECT_TIMEOUT.as_millis()
                );
            }
            Err(e) => println!("client {n}: connect failed: {e}"),
        }
    }
    // Linux lets the queue hold backlog + 1 connections; other systems differ
    // (classic BSD allowed about 1.5 x backlog), so never rely on the exact number.
    println!(
        "{} clients queued with backlog {BACKLOG} (Linux queues backlog + 1), {timed_out} timed out",
        queued.len()
    );

    if let Some((n, stream)) = queued.first_mut() {
        let who = format!("client {n}");
        match echo(stream, &who, NO_REPLY_WAIT) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                println!(
                    "{who}: sent a line, no reply within {} ms: the kernel took the bytes, \
                     but nobody has accepted the connection",
                    NO_REPLY_WAIT.as_millis()
                );
            }
            other => println!("{who}: expected no reply yet, got {other:?}"),
        }
    }

    drop(busy);
    println!("client 1: closed; the iterative server accepts the next in the queue");
    for (i, (n, mut stream)) in queued.into_iter().enumerate() {
        let who = format!("client {n}");
        // The first queued client already sent its line: it only reads the reply.
        let result = if i == 0 {
            read_reply(&mut stream, who.len(), REPLY_WAIT)
        } else {
            echo(&mut stream, &who, REPLY_WAIT)
        };
        match result {
            Ok(reply) => println!("{who}: served after waiting in the queue, echoed {reply:?}"),
            Err(e) => println!("{who}: not served: {e}"),
        }
        // Dropping the stream closes it, and the server moves on to the next.
    }

    if timed_out > 0 {
        let mut late = TcpStream::connect_timeout(&addr, REPLY_WAIT).unwrap();
        match echo(&mut late, "a timed-out client", REPLY_WAIT) {
            Ok(reply) => println!(
                "a client that timed out tries again: connected and echoed {reply:?} at once"
            ),
            Err(e) => println!("a client that timed out tries again: {e}"),
        }
    }

    println!(
        "this machine: net.core.somaxconn = {} (the cap on any backlog), \
         net.ipv4.tcp_abort_on_overflow = {} (0: drop SYNs, clients hang and retry; \
         1: reset, clients see \"connection refused\")",
        sysctl("net/core/somaxconn"),
        sysctl("net/ipv4/tcp_abort_on_overflow")
    );
    shutdown.trigger();
    server.join().unwrap().unwrap();
}

/// Sends `line` and reads back as many bytes, waiting at most `wait`.
fn echo(stream: &mut TcpStream, line: &str, wait: Duration) -> std::io::Result<String> {
    stream.write_all(line.as_bytes())?;
    read_reply(stream, line.len(), wait)
}

/// Reads exactly `len` bytes of reply, waiting at most `wait` for them.
fn read_reply(stream: &mut TcpStream, len: usize, wait: Duration) -> std::io::Result<String> {
    stream.set_read_timeout(Some(wait))?;
    let mut buf = vec![0u8; len];
    stream.read_exact(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Reads a value under /proc/sys, or says why it could not.
fn sysctl(path: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{path}"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}
