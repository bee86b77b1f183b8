//! `create_connection`: resolve a name to every address it has, try each in turn.
//!
//! ```text
//! cargo run -p socklab-echo --example create_connection            (name: localhost)
//! cargo run -p socklab-echo --example create_connection -- NAME    (or: make example-create-connection)
//! ```
//!
//! A host name can stand for several addresses: `localhost` is often both `::1` and
//! `127.0.0.1`, a web site has IPv6 and IPv4 addresses and several servers. The
//! tutorials' clients called `connect(("localhost", port))`, which uses only one of
//! them: if the server listens on IPv4 only and the name's first address is `::1`, the
//! client is refused although the server is up. Python's `socket.create_connection`
//! does it right, and so does `socklab_net::socket::connect`: `getaddrinfo` gives the
//! list, each address is tried with a timeout, and the first that answers wins; only
//! if all fail is the last error reported.
//!
//! The example resolves the name, starts a server on its *last* address only, and
//! tries the addresses one by one, printing what each attempt did. If the name has only one
//! address on this machine (see /etc/hosts), `::1` is put in front of the list, as a
//! dual-stack /etc/hosts would, so that the fallback is still shown.

use socket2::{Domain, SockRef, Socket, Type};
use socklab_net::socket::{connect, resolve};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// Per-address connect timeout: without one, an address that drops packets would hold
/// the client for minutes before the next address is tried.
const PER_ADDRESS_TIMEOUT: Duration = Duration::from_secs(2);

fn main() {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "localhost".into());

    // getaddrinfo(name): the resolver's list, in its order of preference.
    let mut ips: Vec<IpAddr> = match resolve(&name, 0) {
        Ok(list) => list.iter().map(SocketAddr::ip).collect(),
        Err(e) => {
            println!("getaddrinfo({name:?}): {e}");
            return;
        }
    };
    println!(
        "getaddrinfo({name:?}) -> {}",
        ips.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    if ips.len() < 2 {
        let extra = IpAddr::V6(Ipv6Addr::LOCALHOST);
        if !ips.contains(&extra) {
            println!(
                "{name} has one address here; putting {extra} first, as a dual-stack \
                 /etc/hosts would list it"
            );
            ips.insert(0, extra);
        }
    }

    // The server listens on the *last* address only, so every address before it
    // fails and the fallback is always shown, whatever order the resolver chose.
    let Some(&live_ip) = ips.last() else {
        println!("{name} has no address");
        return;
    };
    let listener = match TcpListener::bind((live_ip, 0)) {
        Ok(l) => l,
        Err(e) => {
            println!("cannot listen on {live_ip} ({e}): give a name of this machine");
            return;
        }
    };
    let live = listener.local_addr().unwrap();
    let port = live.port();
    println!("server: listening on {live} only");
    // SO_RCVTIMEO on the listener bounds `accept`, so the server thread ends even if
    // a client never comes.
    SockRef::from(&listener)
        .set_read_timeout(Some(PER_ADDRESS_TIMEOUT * 2))
        .unwrap();
    let server = thread::spawn(move || {
        // Two clients connect in this example: the loop below, then net::connect.
        for _ in 0..2 {
            let Ok((mut conn, _)) = listener.accept() else {
                return;
            };
            let mut b = [0u8; 2];
            if conn.read_exact(&mut b).is_ok() {
                let _ = conn.write_all(&b);
            }
        }
    });
    let candidates: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect();

    // Every address but the server's must refuse, not answer for some other program
    // that happens to use the same port: bind (without listening) on each holds it,
    // and a bound socket that does not listen answers a SYN with a reset.
    let _held: Vec<Socket> = candidates
        .iter()
        .filter(|a| **a != live)
        .filter_map(|a| hold(*a))
        .collect();

    let mut connected = None;
    for (i, addr) in candidates.iter().enumerate() {
        let t = Instant::now();
        match TcpStream::connect_timeout(addr, PER_ADDRESS_TIMEOUT) {
            Ok(stream) => {
                println!("try {}: {addr}: connected", i + 1);
                connected = Some(stream);
                break;
            }
            Err(e) => println!(
                "try {}: {addr}: {e} after {} ms (connect_ex would return {}), next address",
                i + 1,
                t.elapsed().as_millis(),
                e.raw_os_error().unwrap_or(-1)
            ),
        }
    }
    match connected {
        Some(mut stream) => {
            stream.write_all(b"hi").unwrap();
            let mut b = [0u8; 2];
            stream.read_exact(&mut b).unwrap();
            println!(
                "connected to {} and echoed {:?}",
                stream.peer_addr().unwrap(),
                String::from_utf8_lossy(&b)
            );
        }
        None => println!("every address failed: the last error is the one to report"),
    }

    // The same in one call: socklab_net::socket::connect is create_connection.
    match connect(&name, port, PER_ADDRESS_TIMEOUT) {
        Ok(mut stream) => {
            stream.write_all(b"ok").unwrap();
            let mut b = [0u8; 2];
            stream.read_exact(&mut b).unwrap();
            println!(
                "net::connect({name:?}, {port}) in one call: connected to {}",
                stream.peer_addr().unwrap()
            );
        }
        Err(e) => println!("net::connect({name:?}, {port}): {e}"),
    }
    server.join().unwrap();
}

/// Binds a socket to `addr` without listening, so nothing else can listen there while
/// the example runs. Returns `None` where that address cannot be bound (no IPv6).
fn hold(addr: SocketAddr) -> Option<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).ok()?;
    if addr.is_ipv6() {
        socket.set_only_v6(true).ok()?;
    }
    socket.bind(&addr.into()).ok()?;
    Some(socket)
}
