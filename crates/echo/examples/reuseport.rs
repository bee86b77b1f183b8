//! SO_REUSEPORT: two live listeners on one port, and the kernel sharing clients
//! between them.
//!
//! ```text
//! cargo run -p socklab-echo --example reuseport     (or: make example-reuseport)
//! ```
//!
//! `SO_REUSEADDR` (the `reuseaddr` example) is about *restarting*: binding a port whose
//! old connections sit in TIME_WAIT. It does not let two running servers listen on the
//! same port on Linux. `SO_REUSEPORT` does: every socket that sets it before `bind`
//! (and belongs to the same user) may bind the same address and port, and the kernel
//! spreads incoming connections over them by a hash of each client's address and port.
//! Servers use it to run one accept queue per thread or process, or to start a new
//! version of a server beside the old one before stopping it.
//!
//! The example binds a port twice: first without the option (the second bind fails),
//! then with it on both sockets, connects a number of clients and counts how many each
//! listener accepted.

use socket2::{Domain, SockRef, Socket, Type};
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

/// Clients connected to the shared port.
const CLIENTS: usize = 20;
/// How long a listener waits for one more connection before it stops counting.
const ACCEPT_WAIT: Duration = Duration::from_millis(500);

fn main() {
    println!("SO_REUSEPORT off:");
    let first = bind(0, false).unwrap();
    let port = first.local_addr().unwrap().port();
    println!("  listener A bound 127.0.0.1:{port}");
    match bind(port, false) {
        Ok(_) => println!("  listener B on the same port: bound (unexpected)"),
        Err(e) => println!("  listener B on the same port: bind failed: {e}"),
    }
    drop(first);

    println!("SO_REUSEPORT on (both sockets):");
    let a = bind(0, true).unwrap();
    let port = a.local_addr().unwrap().port();
    println!("  listener A bound 127.0.0.1:{port}");
    let b = match bind(port, true) {
        Ok(b) => {
            println!("  listener B on the same port: bound, both are listening");
            b
        }
        Err(e) => {
            println!("  listener B on the same port: bind failed: {e}");
            return;
        }
    };
    // Each client gets its own ephemeral source port, so the hash differs per client.
    // The kernel picks a listener during the handshake, so the clients can connect
    // before anyone accepts: each waits in the accept queue of the listener it got.
    let clients: Vec<TcpStream> = (0..CLIENTS)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    let counters = [a, b].map(|l| thread::spawn(move || count_accepts(&l)));
    let [a, b] = counters.map(|t| t.join().unwrap());
    println!(
        "  {} clients connected: listener A accepted {a}, listener B accepted {b}",
        clients.len()
    );
    if a > 0 && b > 0 {
        println!("  the kernel shared the connections between both listeners");
    } else {
        println!("  one listener got every connection this time (the hash is per client)");
    }
}

/// `socket()`, `SO_REUSEPORT` or not, `bind(127.0.0.1:port)`, `listen()`.
fn bind(port: u16, reuse_port: bool) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_port(reuse_port)?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    Ok(socket.into())
}

/// Accepts until no connection has come for `ACCEPT_WAIT`, and returns how many came.
fn count_accepts(listener: &TcpListener) -> usize {
    // SO_RCVTIMEO on a listener bounds `accept` on Linux.
    SockRef::from(listener)
        .set_read_timeout(Some(ACCEPT_WAIT))
        .unwrap();
    let mut n = 0;
    while n < CLIENTS {
        match listener.accept() {
            Ok(_) => n += 1,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                println!("  accept failed: {e}");
                break;
            }
        }
    }
    n
}
