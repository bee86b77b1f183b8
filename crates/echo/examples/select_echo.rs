//! `select`: one thread serving several echo clients, and why `fileno()` matters.
//!
//! ```text
//! cargo run -p socklab-echo --example select_echo
//! ```
//!
//! The tutorials list `fileno()` as "useful for `select.select()`" and stop there. This
//! example is that `select` server. The kernel knows a socket by its file descriptor,
//! the small integer `fileno()` returns (`as_raw_fd()` / `as_fd()` in Rust), and
//! `select(2)` takes a bit set of descriptors, sleeps until one of them can be read,
//! and hands the set back with only the ready ones left. One thread then serves every
//! client: accept when the listener is ready, read and echo when a connection is.
//!
//! The server uses nix's safe `select` wrapper; several client threads connect, send a
//! few lines each, check every echo, and leave. Everything runs in one process on
//! loopback and ends by itself. What it shows about `select`:
//!
//! - the set is rewritten by each call, so it is built again before every call, and
//!   the kernel scans every descriptor in it each time: the cost grows with the number
//!   of connections, not with the number that are ready;
//! - a descriptor must be below `FD_SETSIZE` (1024): nix's `FdSet::insert` panics
//!   rather than write past the set, as C's `FD_SET` silently would;
//! - `poll(2)` takes a list instead of a bit set (no 1024 limit, still a scan per
//!   call: the shell server uses it); `epoll(7)` keeps the interest list in the kernel
//!   and returns only the ready ones (`echo-server --event-loop`, through mio).
//!
//! Readiness means "a read will not block", not "a whole line is here": the server
//! echoes whatever one read returned, as the real echo server does.

use nix::sys::select::{select, FdSet, FD_SETSIZE};
use nix::sys::time::{TimeVal, TimeValLike};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::thread;
use std::time::Duration;

/// Clients started at once.
const CLIENTS: usize = 5;
/// Lines each client sends.
const LINES: usize = 3;
/// The longest one `select` may sleep; the loop gives up after `MAX_WAKEUPS` of them.
const SELECT_TIMEOUT_SECS: i64 = 5;
/// Bound on the server loop, so the example always ends.
const MAX_WAKEUPS: usize = 1_000;

fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    println!(
        "server: listening on {addr}, listener fileno() = {}; FD_SETSIZE = {FD_SETSIZE}",
        listener.as_raw_fd()
    );

    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| thread::spawn(move || client(i, addr)))
        .collect();

    let stats = serve(&listener);

    let mut matched = 0;
    for c in clients {
        matched += c.join().unwrap();
    }
    println!(
        "server: {} clients served from one thread in {} select calls; the largest set held {} descriptors, the most ready at once {}",
        stats.served, stats.wakeups, stats.largest_set, stats.most_ready
    );
    println!("clients: {matched} of {} echoes matched", CLIENTS * LINES);
    assert_eq!(matched, CLIENTS * LINES, "an echo came back wrong");
    println!("select rescans all {} descriptors on every call; poll takes a list (no 1024 limit); epoll keeps the list in the kernel: echo-server --event-loop", stats.largest_set);
}

#[derive(Debug, Default)]
struct Stats {
    served: usize,
    wakeups: usize,
    largest_set: usize,
    most_ready: usize,
}

/// The select loop: until every client has come and gone.
fn serve(listener: &TcpListener) -> Stats {
    let mut conns: Vec<TcpStream> = Vec::new();
    let mut stats = Stats::default();
    let mut buf = [0u8; 4096];
    while stats.served < CLIENTS && stats.wakeups < MAX_WAKEUPS {
        // Build the set again: select overwrote the last one with the ready subset.
        let ready: Vec<RawFd> = {
            let mut set = FdSet::new();
            set.insert(listener.as_fd());
            for c in &conns {
                set.insert(c.as_fd());
            }
            stats.largest_set = stats.largest_set.max(conns.len() + 1);
            let mut timeout = TimeVal::seconds(SELECT_TIMEOUT_SECS);
            let n = select(None, &mut set, None, None, &mut timeout).unwrap();
            stats.wakeups += 1;
            if n == 0 {
                println!("server: nothing ready for {SELECT_TIMEOUT_SECS} s");
                continue;
            }
            stats.most_ready = stats.most_ready.max(n as usize);
            set.fds(None).map(|fd| fd.as_raw_fd()).collect()
        };
        if ready.contains(&listener.as_raw_fd()) {
            let (conn, peer) = listener.accept().unwrap();
            println!(
                "server: select says the listener is readable: accepted {peer} as fileno() {}",
                conn.as_raw_fd()
            );
            conns.push(conn);
        }
        let before = conns.len();
        conns.retain_mut(|conn| {
            if !ready.contains(&conn.as_raw_fd()) {
                return true;
            }
            // Readable: this read returns at once, with data or with 0 (EOF).
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => false,
                // A blocking write: fine here, where every client reads its echo. A
                // real server also waits for writability (the event loop does).
                Ok(n) => conn.write_all(&buf[..n]).is_ok(),
            }
        });
        stats.served += before - conns.len();
    }
    stats
}

/// One client: send `LINES` lines, read each echo back exactly, count the matches.
fn client(i: usize, addr: std::net::SocketAddr) -> usize {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut matched = 0;
    for j in 0..LINES {
        let line = format!("client {i} line {j}\n");
        s.write_all(line.as_bytes()).unwrap();
        let mut back = vec![0u8; line.len()];
        s.read_exact(&mut back).unwrap();
        matched += usize::from(back == line.as_bytes());
        thread::sleep(Duration::from_millis(10 * (i as u64 + 1)));
    }
    matched
}
