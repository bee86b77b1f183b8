//! The tutorials' other fix for 粘包: send the size, wait for "ready", then the data.
//!
//! ```text
//! cargo run -p socklab-echo --example ack_handshake   (or: make example-ack-handshake)
//! ```
//!
//! The "ssh" and "ftp" tutorials send the size as decimal text, `recv(1024)` it on the
//! other side, answer `ready`, and only then send the data, so that the size cannot
//! arrive glued to the data. Part 1 measures what that costs against a 4-byte length
//! prefix (messages per second on loopback; one round trip per message against none),
//! and the handshake again with Nagle's algorithm on, as the tutorials leave it.
//! Part 2 shows it failing when the size and the data arrive in one segment anyway:
//! from a sender that does not wait, from a proxy that joins segments, or, with
//! Nagle's algorithm, from the next message's size queued behind the data.
//! Everything runs on loopback in one process, with the receiver on a thread.

use socklab_proto::frame::{read_frame, write_frame};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// Bytes of data in each measured message.
const PAYLOAD: usize = 64;
/// Messages sent with the handshake: one round trip each.
const ACK_MESSAGES: usize = 2_000;
/// Messages sent with the handshake and Nagle on, as the tutorials leave it: each may
/// wait for a delayed ACK, so far fewer fit in the same time.
const NAGLE_MESSAGES: usize = 25;
/// Messages sent framed: no round trip, so many more in the same time.
const FRAMED_MESSAGES: usize = 20_000;
/// How long the receiver of part 2 waits for data that will never come.
const GIVE_UP: Duration = Duration::from_millis(500);

fn main() {
    println!(
        "part 1: {PAYLOAD}-byte messages on loopback, one sender, one receiver, TCP_NODELAY on unless said"
    );
    let ack = rate(
        "ack handshake (size, \"ready\", data)",
        ACK_MESSAGES,
        true,
        ack_sender,
        ack_receiver,
    );
    rate(
        "ack handshake, TCP_NODELAY off (the tutorials' default)",
        NAGLE_MESSAGES,
        false,
        ack_sender,
        ack_receiver,
    );
    let framed = rate(
        "length framing (u32 + data)",
        FRAMED_MESSAGES,
        true,
        framed_sender,
        framed_receiver,
    );
    println!(
        "  framing moved {:.0}x the messages per second: the handshake waits a round trip per message",
        framed / ack
    );

    println!("part 2: the size and the data in one segment");
    for data in ["hello world", "12345"] {
        let wire = format!("{}{data}", data.len());
        println!(
            "  sender writes {wire:?} at once (size {} + data {data:?})",
            data.len()
        );
        println!("    receiver: {}", tutorial_receiver(wire.into_bytes()));
    }
    println!("  the handshake only works while every size travels alone; a length prefix never needs it to");
}

/// Runs `sender` and `receiver` over a fresh loopback connection and prints the rate.
fn rate(
    label: &str,
    count: usize,
    nodelay: bool,
    sender: fn(&mut TcpStream, usize),
    receiver: fn(&mut TcpStream, usize) -> usize,
) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_nodelay(nodelay).unwrap();
        receiver(&mut s, count)
    });
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_nodelay(nodelay).unwrap();
    let start = Instant::now();
    sender(&mut c, count);
    let got = handle.join().unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(got, count, "{label}: messages lost");
    let per_sec = count as f64 / secs;
    println!(
        "  {label}: {count} messages in {:.0} ms = {per_sec:.0} messages/s",
        secs * 1000.0
    );
    per_sec
}

fn ack_sender(c: &mut TcpStream, count: usize) {
    let data = [b'x'; PAYLOAD];
    let mut ready = [0u8; 16];
    for _ in 0..count {
        c.write_all(PAYLOAD.to_string().as_bytes()).unwrap();
        let n = c.read(&mut ready).unwrap();
        assert_eq!(&ready[..n], b"ready");
        c.write_all(&data).unwrap();
    }
}

/// The handshake done carefully: it reads exactly the announced size, so what is
/// measured is the round trip, not a bug.
fn ack_receiver(s: &mut TcpStream, count: usize) -> usize {
    let mut buf = [0u8; 1024];
    let mut data = vec![0u8; PAYLOAD];
    for i in 0..count {
        let n = s.read(&mut buf).unwrap();
        let size: usize = std::str::from_utf8(&buf[..n]).unwrap().parse().unwrap();
        assert_eq!(size, PAYLOAD, "message {i}");
        s.write_all(b"ready").unwrap();
        s.read_exact(&mut data).unwrap();
    }
    count
}

fn framed_sender(c: &mut TcpStream, count: usize) {
    let data = [b'x'; PAYLOAD];
    for _ in 0..count {
        write_frame(c, &data, PAYLOAD).unwrap();
    }
}

fn framed_receiver(s: &mut TcpStream, count: usize) -> usize {
    let mut got = 0;
    while got < count {
        match read_frame(s, PAYLOAD).unwrap() {
            Some(m) if m.len() == PAYLOAD => got += 1,
            other => panic!("frame {got}: {other:?}"),
        }
    }
    got
}

/// The tutorial's receiver: `size = int(recv(1024))`, send "ready", then `recv` until
/// `size` bytes came. Returns what happened to it, in words.
fn tutorial_receiver(wire: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let sender = thread::spawn(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(&wire).unwrap();
        // Answer "ready" with nothing: the data has already been sent. Keep the
        // connection open until the receiver gives up, as a live peer would.
        let mut ready = [0u8; 16];
        let _ = c.read(&mut ready);
        let _ = c.read(&mut ready);
    });
    let (mut s, _) = listener.accept().unwrap();
    // Let the whole write arrive before the first recv, as on a busy receiver.
    thread::sleep(Duration::from_millis(100));
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    let outcome = match text.parse::<usize>() {
        Err(e) => format!(
            "recv(1024) -> {text:?}; int() of it fails ({e}): FAILED, the data came with the size"
        ),
        Ok(size) => {
            s.write_all(b"ready").unwrap();
            s.set_read_timeout(Some(GIVE_UP)).unwrap();
            let mut got = 0;
            loop {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        break
                    }
                    Err(e) => panic!("read: {e}"),
                }
            }
            format!(
                "recv(1024) -> {text:?}, read as size {size}; sent \"ready\"; {got} of {size} bytes \
                 came in {GIVE_UP:?}: FAILED, the size swallowed the data and the receiver waits forever"
            )
        }
    };
    drop(s);
    sender.join().unwrap();
    outcome
}
