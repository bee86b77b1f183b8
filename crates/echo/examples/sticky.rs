//! 粘包 (sticky packets): why a byte stream needs framing.
//!
//! ```text
//! cargo run -p socklab-echo --example sticky        (or: make example-sticky)
//! ```
//!
//! Part 1 does what the tutorials did: the client makes two quick `send`s, the server
//! makes one `recv(1024)`, and both messages arrive glued together, because TCP
//! delivers bytes, not messages. Part 2 sends the same two messages as frames (a
//! 4-byte big-endian length, then the bytes) and the server reads back exactly two.
//! Everything runs on loopback in one process, with the server on a thread.

use socklab_proto::frame::{read_frame, write_frame};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

fn main() {
    println!("part 1: two sends, one recv(1024), no framing");
    let got = exchange(
        |c| {
            c.write_all(b"hello").unwrap();
            c.write_all(b"world").unwrap();
        },
        |s| {
            // Give both segments time to arrive, as a busy server would.
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

    println!("part 2: the same two messages, framed with a u32 big-endian length");
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
