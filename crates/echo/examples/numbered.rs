//! The numbered stream: the server sends `i = 1` … `i = 9` and closes; the client
//! reads until end of file.
//!
//! ```text
//! cargo run -p socklab-echo --example numbered      (or: make example-numbered)
//! ```
//!
//! The tutorial's client did not know when the server was done, so it called
//! `recv(2048)`, and on every empty answer slept a second, counted, and gave up after
//! four of them: at least four seconds wasted, and lines lost if the server was slower
//! than that. Its server also sent the numbers with no separator, so the client printed
//! `i = 1i = 2…` glued together (see the `sticky` example).
//!
//! The fix needs no timing at all. The server ends every line with `\n` and closes the
//! connection when it has sent the last one; the client reads line by line, and a
//! `read` that returns 0 bytes is end of file: the peer closed, nothing more will come.
//! Everything runs on loopback in one process, with the server on a thread.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Instant;

/// How many numbered lines the server sends, as in the tutorial.
const LINES: u32 = 9;

fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = listener.local_addr().unwrap();
    println!("server: listening on {server_addr}");

    let server = thread::spawn(move || {
        let (mut conn, peer) = listener.accept().unwrap();
        println!("server: accepted {peer}, sending {LINES} lines");
        for i in 1..=LINES {
            // One write per line is fine: the reader splits on '\n', not on writes.
            conn.write_all(format!("i = {i}\n").as_bytes()).unwrap();
        }
        // Closing the connection is the "end of data" signal: `shutdown(SHUT_WR)` sends
        // the FIN now, and dropping `conn` at the end of this closure closes the
        // descriptor. The tutorial closed the *listening* socket instead and left the
        // connection to the garbage collector, so when the client saw EOF was luck.
        conn.shutdown(Shutdown::Write).unwrap();
        println!("server: sent {LINES} lines and closed the connection");
    });

    let started = Instant::now();
    let stream = TcpStream::connect(server_addr).unwrap();
    println!(
        "client: connected from {} to {} (getsockname / getpeername)",
        stream.local_addr().unwrap(),
        stream.peer_addr().unwrap()
    );
    let mut reader = BufReader::new(stream);
    let mut count = 0;
    let mut line = String::new();
    loop {
        line.clear();
        // read_line returns Ok(0) only at end of file: the server has closed.
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {
                count += 1;
                println!("client: {}", line.trim_end());
            }
            Err(e) => {
                println!("client: read failed: {e}");
                break;
            }
        }
    }
    server.join().unwrap();
    println!(
        "client: EOF after {count} lines, in {} ms: no sleeping, no polling, nothing lost",
        started.elapsed().as_millis()
    );
}
