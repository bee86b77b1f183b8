//! 粘包 (sticky packets): the three causes, each shown, and the framed fix.
//!
//! ```text
//! cargo run -p socklab-echo --example sticky        (or: make example-sticky)
//! ```
//!
//! TCP delivers bytes, not messages, so a `recv` can return part of a message, or the
//! end of one glued to the start of the next. Three things make it happen:
//!
//! 1. Nagle's algorithm: with `TCP_NODELAY` off, the sender's kernel holds small writes
//!    while an earlier segment is unacknowledged and sends them as one segment.
//!    The receiver here delays its ACKs (`TCP_QUICKACK` off), as a receiver with
//!    nothing to answer does, so the holding is visible on loopback.
//! 2. The receive buffer (缓冲区): whatever arrived before the reader calls `recv` waits
//!    there, and one `recv` takes all of it, however many sends it came from.
//! 3. A `recv` shorter than the message: `recv(1024)` of a 1500-byte message returns
//!    1024 bytes, and the next `recv` starts with the other 476.
//!
//! The fix: a 4-byte big-endian length before each message, and exact reads.
//! `examples/ack_handshake.rs` measures the tutorials' other fix, a "ready" reply.
//! Everything runs on loopback in one process, with the server on a thread.

use socket2::SockRef;
use socklab_proto::frame::{read_frame, write_frame};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

/// The small messages of cause 1, written one at a time, `PACE` apart.
const LETTERS: &[u8] = b"abcdefghij";
/// Shorter than the 40 ms a Linux receiver may hold a delayed ACK, longer than a
/// loopback segment takes to arrive: with `TCP_NODELAY` each write is read alone.
const PACE: Duration = Duration::from_millis(2);

fn main() {
    nagle();
    receive_buffer();
    short_recv();
    framed();
}

/// Cause 1: the same ten paced one-byte writes, with Nagle on, then off.
fn nagle() {
    println!(
        "cause 1: Nagle's algorithm (ten 1-byte writes, {PACE:?} apart, a reader that never waits)"
    );
    for nodelay in [false, true] {
        let reads = exchange(
            move |c| {
                c.set_nodelay(nodelay).unwrap();
                for b in LETTERS {
                    c.write_all(&[*b]).unwrap();
                    thread::sleep(PACE);
                }
            },
            |s| {
                let mut out = Vec::new();
                let mut buf = [0u8; 1024];
                loop {
                    // Delay ACKs, as a receiver with no reply to piggyback them on does;
                    // the kernel may turn quick ACKs back on, so ask again after each read.
                    let _ = SockRef::from(&*s).set_quickack(false);
                    let n = s.read(&mut buf).unwrap();
                    if n == 0 {
                        return out;
                    }
                    out.push(buf[..n].to_vec());
                }
            },
        );
        let label = if nodelay {
            "TCP_NODELAY on "
        } else {
            "TCP_NODELAY off"
        };
        let shown: Vec<String> = reads
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect();
        println!(
            "  {label}: {} writes arrived in {} reads: {shown:?}",
            LETTERS.len(),
            reads.len()
        );
    }
    println!("  with Nagle on, writes made while a segment waited for its ACK left together");
}

/// Cause 2: two writes that both sit in the receive buffer before the reader reads.
fn receive_buffer() {
    println!("cause 2: the receive buffer (two sends, TCP_NODELAY on, one recv(1024))");
    let got = exchange(
        |c| {
            c.set_nodelay(true).unwrap();
            c.write_all(b"hello").unwrap();
            c.write_all(b"world").unwrap();
        },
        |s| {
            // A busy server reads late: by then both messages wait in the buffer.
            thread::sleep(Duration::from_millis(200));
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).unwrap();
            vec![buf[..n].to_vec()]
        },
    );
    for m in &got {
        println!("  server recv -> {:?}", String::from_utf8_lossy(m));
    }
    println!(
        "  {} recv for 2 sends: the messages stuck together",
        got.len()
    );
}

/// Cause 3: a message longer than the `recv`, then the next message.
fn short_recv() {
    println!("cause 3: a recv shorter than the message (1500 bytes, then \"next\")");
    let got = exchange(
        |c| {
            c.write_all(&[b'x'; 1500]).unwrap();
            c.write_all(b"next").unwrap();
        },
        |s| {
            thread::sleep(Duration::from_millis(200));
            let mut out = Vec::new();
            let mut buf = [0u8; 1024];
            for _ in 0..2 {
                let n = s.read(&mut buf).unwrap();
                out.push(buf[..n].to_vec());
            }
            out
        },
    );
    for (i, m) in got.iter().enumerate() {
        let tail = String::from_utf8_lossy(&m[m.len().saturating_sub(6)..]).into_owned();
        println!(
            "  recv(1024) #{} -> {} bytes, ending {tail:?}",
            i + 1,
            m.len()
        );
    }
    println!("  the first message was cut at 1024 bytes; its rest came glued to the next one");
}

/// The fix: the same kind of messages as frames, read back apart.
fn framed() {
    println!("the fix: the same two messages, framed with a u32 big-endian length");
    let got = exchange(
        |c| {
            write_frame(c, b"hello", 1024).unwrap();
            write_frame(c, b"world", 1024).unwrap();
        },
        |s| {
            thread::sleep(Duration::from_millis(200));
            let mut out = Vec::new();
            while let Some(m) = read_frame(s, 1024).unwrap() {
                out.push(m);
            }
            out
        },
    );
    for m in &got {
        println!("  server read_frame -> {:?}", String::from_utf8_lossy(m));
    }
    println!(
        "  {} messages for 2 sends: framing keeps them apart",
        got.len()
    );
}

/// Runs `client` against a fresh loopback server that runs `server` on its connection.
fn exchange(
    client: impl FnOnce(&mut TcpStream),
    server: impl FnOnce(&mut TcpStream) -> Vec<Vec<u8>> + Send + 'static,
) -> Vec<Vec<u8>> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        server(&mut s)
    });
    let mut c = TcpStream::connect(addr).unwrap();
    client(&mut c);
    drop(c);
    handle.join().unwrap()
}
