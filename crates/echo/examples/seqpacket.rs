//! `SOCK_SEQPACKET`: a connection that keeps message boundaries.
//!
//! ```text
//! cargo run -p socklab-echo --example seqpacket
//! ```
//!
//! One tutorial lists `SOCK_SEQPACKET` as obsolete. It is not: on Linux, an AF_UNIX
//! `SOCK_SEQPACKET` socket is connection-oriented like a stream (`listen`, `accept`,
//! `connect`, EOF when the peer closes) and keeps message boundaries like a datagram
//! socket: each `send` arrives as one `recv`, never glued to the next (no 粘包) and
//! never split. SCTP offers the same type over a network.
//!
//! Both ends run in this process (the client on a thread), on a path in a fresh
//! temporary directory:
//!
//! 1. three `send`s, read after all three have arrived: three `recv`s, `"one"`,
//!    `"two"`, `"three"`; the same three sends over a `SOCK_STREAM` pair come out as
//!    one read of `"onetwothree"`;
//! 2. a 100-byte message read into a 64-byte buffer: the read returns 64 bytes and the
//!    rest of that message is gone (the next read gets the next message);
//!    `recv(MSG_TRUNC)` returns the message's real length, so it can be detected;
//! 3. the client closes: the server's next read returns 0, EOF, as on any connection.
//!
//! The sockets are socket2's (`Type::SEQPACKET`, a `SockAddr::unix` path); the
//! `MSG_TRUNC` read is nix's safe `recv`.

use nix::sys::socket::{recv, MsgFlags};
use socket2::{Domain, SockAddr, Socket, Type};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::Duration;

/// The messages of part 1.
const MESSAGES: [&str; 3] = ["one", "two", "three"];
/// Part 2: a message longer than the buffer it is read into.
const LONG: usize = 100;
const SHORT_BUF: usize = 64;
/// Long enough for every send to have arrived before the server reads.
const SETTLE: Duration = Duration::from_millis(200);
/// Bound on every read, so the example always ends.
const WAIT: Duration = Duration::from_secs(5);

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seqpacket.sock");
    let addr = SockAddr::unix(&path).unwrap();

    let listener = Socket::new(Domain::UNIX, Type::SEQPACKET, None).unwrap();
    listener.bind(&addr).unwrap();
    listener.listen(8).unwrap();
    println!("server: SOCK_SEQPACKET listening on {}", path.display());

    let client = thread::spawn(move || {
        let sock = Socket::new(Domain::UNIX, Type::SEQPACKET, None).unwrap();
        sock.connect(&addr).unwrap();
        for m in MESSAGES {
            sock.send(m.as_bytes()).unwrap();
        }
        thread::sleep(SETTLE * 2);
        sock.send(&[b'x'; LONG]).unwrap();
        sock.send(b"after").unwrap();
        sock.send(&[b'y'; LONG]).unwrap();
        thread::sleep(SETTLE * 2);
        // Dropping the socket closes it: the server reads EOF.
    });

    let (conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    println!("server: accepted a connection (listen/accept, as with TCP)");

    println!("1. three sends, read once they have all arrived");
    thread::sleep(SETTLE);
    let mut buf = [0u8; 1024];
    for _ in MESSAGES {
        let n = (&conn).read(&mut buf).unwrap();
        println!(
            "   seqpacket recv -> {:?}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    println!("   3 recvs for 3 sends: boundaries kept");
    let (mut a, mut b) = UnixStream::pair().unwrap();
    b.set_read_timeout(Some(WAIT)).unwrap();
    for m in MESSAGES {
        a.write_all(m.as_bytes()).unwrap();
    }
    let n = b.read(&mut buf).unwrap();
    println!(
        "   the same over SOCK_STREAM: one read -> {:?} (粘包)",
        String::from_utf8_lossy(&buf[..n])
    );

    println!("2. a {LONG}-byte message, a {SHORT_BUF}-byte buffer");
    thread::sleep(SETTLE * 2);
    let mut short = [0u8; SHORT_BUF];
    let n = (&conn).read(&mut short).unwrap();
    println!(
        "   read returned {n} bytes; the other {} are gone",
        LONG - n
    );
    let n = (&conn).read(&mut buf).unwrap();
    println!(
        "   the next read is the next message: {:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    let n = recv(conn.as_raw_fd(), &mut short, MsgFlags::MSG_TRUNC).unwrap();
    println!(
        "   recv(MSG_TRUNC) into {SHORT_BUF} bytes returned {n}: the message was longer than the buffer"
    );

    println!("3. the client closes");
    client.join().unwrap();
    let n = (&conn).read(&mut buf).unwrap();
    println!("   read returned {n} bytes: EOF, as on any connection");
}
