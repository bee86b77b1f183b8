//! AF_UNIX: stream and datagram sockets named by a path, and `socketpair`.
//!
//! ```text
//! cargo run -p socklab-echo --example unix          (or: make example-unix)
//! ```
//!
//! Unix-domain sockets connect processes on the same machine. They use the same calls
//! as TCP and UDP (`bind`, `listen`, `accept`, `connect`, `recvfrom`, `sendto`), but the
//! address is a path in the file system instead of an IP address and port, and nothing
//! crosses a network card. Three parts:
//!
//! 1. **stream** (`SOCK_STREAM`, like TCP): a server binds a path and echoes a line.
//!    The path is a file that outlives the socket: binding it again fails until it is
//!    removed, the AF_UNIX version of "Address already in use". The tutorial never
//!    removed it, so its server failed on every second start;
//! 2. **datagram** (`SOCK_DGRAM`, like UDP, but reliable and in order): three sends
//!    arrive as three messages. A client that wants replies must bind a path of its
//!    own, or the server has no address to `sendto`;
//! 3. **socketpair**: two connected sockets without any path or listener, one for each
//!    of two threads (or a parent and the child it forks).
//!
//! The paths live in a fresh temporary directory, removed at the end.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::Path;
use std::thread;
use std::time::Duration;

/// Messages the datagram client sends; each must arrive on its own.
const DATAGRAMS: [&str; 3] = ["one", "two", "three"];
/// Largest datagram the example expects (a real server sizes this from its protocol).
const MAX_DATAGRAM: usize = 2048;
/// Bound on every wait, so the example always ends.
const WAIT: Duration = Duration::from_secs(5);

fn main() {
    let dir = tempfile::tempdir().unwrap();
    stream(&dir.path().join("echo.sock"));
    datagram(dir.path());
    pair();
}

/// Part 1: a stream server on a path, and what the path left behind means.
fn stream(path: &Path) {
    println!("1. AF_UNIX stream");
    let listener = UnixListener::bind(path).unwrap();
    let is_socket = std::fs::metadata(path).unwrap().file_type().is_socket();
    println!(
        "   server bound {} (a file of type socket: {is_socket})",
        path.display()
    );
    let server = thread::spawn(move || {
        let (conn, peer) = listener.accept().unwrap();
        // A client that did not bind has no name: the server cannot tell clients
        // apart by address, only by connection.
        println!("   server accepted a client whose address is {peer:?}");
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        (&conn).write_all(line.as_bytes()).unwrap();
        // `listener` is dropped here: the socket closes, but the file stays.
    });
    let mut client = UnixStream::connect(path).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    client.write_all(b"hello over a path\n").unwrap();
    let mut reply = String::new();
    BufReader::new(&client).read_line(&mut reply).unwrap();
    println!("   client got {:?}", reply.trim_end());
    server.join().unwrap();

    println!("   server closed; the file still exists: {}", path.exists());
    match UnixListener::bind(path) {
        Ok(_) => println!("   binding the same path again: bound"),
        Err(e) => println!("   binding the same path again: {e}"),
    }
    std::fs::remove_file(path).unwrap();
    match UnixListener::bind(path) {
        Ok(_) => println!("   after removing the file: bound again"),
        Err(e) => println!("   after removing the file: {e}"),
    }
    let _ = std::fs::remove_file(path);
}

/// Part 2: datagrams keep their boundaries, and replies need a bound client.
fn datagram(dir: &Path) {
    println!("2. AF_UNIX datagram");
    let server_path = dir.join("server.dgram");
    let client_path = dir.join("client.dgram");
    let server = UnixDatagram::bind(&server_path).unwrap();
    server.set_read_timeout(Some(WAIT)).unwrap();
    let client = UnixDatagram::bind(&client_path).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    for m in DATAGRAMS {
        client.send_to(m.as_bytes(), &server_path).unwrap();
    }
    println!("   client sent {} datagrams", DATAGRAMS.len());
    let mut buf = [0u8; MAX_DATAGRAM];
    for _ in DATAGRAMS {
        let (n, from) = server.recv_from(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        println!(
            "   server recvfrom -> {text:?} from {}",
            from.as_pathname()
                .map_or("(unnamed)".into(), |p| p.display().to_string())
        );
        if let Some(p) = from.as_pathname() {
            server.send_to(text.to_uppercase().as_bytes(), p).unwrap();
        }
    }
    let mut replies = Vec::new();
    for _ in DATAGRAMS {
        let n = client.recv(&mut buf).unwrap();
        replies.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    println!("   client got {} replies: {replies:?}", replies.len());

    let unbound = UnixDatagram::unbound().unwrap();
    unbound.send_to(b"who am I?", &server_path).unwrap();
    let (_, from) = server.recv_from(&mut buf).unwrap();
    println!(
        "   an unbound client's datagram comes from {}: nowhere to send a reply",
        from.as_pathname()
            .map_or("(unnamed)".into(), |p| p.display().to_string())
    );
}

/// Part 3: socketpair between two threads.
fn pair() {
    println!("3. socketpair");
    let (mut parent, mut child) = UnixStream::pair().unwrap();
    parent.set_read_timeout(Some(WAIT)).unwrap();
    let worker = thread::spawn(move || {
        let mut buf = [0u8; 4];
        child.read_exact(&mut buf).unwrap();
        println!(
            "   worker thread read {:?}, answers pong",
            String::from_utf8_lossy(&buf)
        );
        child.write_all(b"pong").unwrap();
        // Dropping `child` closes its end: the parent reads EOF next.
    });
    parent.write_all(b"ping").unwrap();
    let mut reply = String::new();
    parent.read_to_string(&mut reply).unwrap();
    worker.join().unwrap();
    println!("   main thread read {reply:?}, then EOF: no path, no listener, no port");
}
