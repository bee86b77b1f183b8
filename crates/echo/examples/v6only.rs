//! IPV6_V6ONLY: whether an IPv6 listener on `::` also takes IPv4 clients.
//!
//! ```text
//! cargo run -p socklab-echo --example v6only        (or: make example-v6only)
//! ```
//!
//! An `AF_INET6` socket bound to `::` (all IPv6 addresses) can serve IPv4 clients too:
//! they appear as IPv4-mapped addresses, `::ffff:127.0.0.1`. Whether it does is the
//! `IPV6_V6ONLY` option. Linux defaults it to off (dual stack, unless the sysctl
//! `net.ipv6.bindv6only` says otherwise), the BSDs and Windows to on, so a portable
//! server sets it explicitly either way (`socklab_net::socket::tcp_listener`, for `::`).
//!
//! With it off, one socket serves both families. With it on, the IPv4 client is
//! refused, and the IPv4 side of the port stays free for a separate `0.0.0.0`
//! listener: one socket per family, which is what some servers prefer.

use socket2::{Domain, Socket, Type};
use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

/// Connect timeout for the clients: loopback answers at once or refuses at once.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

fn main() {
    // Off first: a dual-stack socket on port 0 gets a port that is free in *both*
    // families, which the "on" half then reuses.
    println!("IPV6_V6ONLY off (dual stack):");
    let listener = match listen_v6(0, false) {
        Ok(l) => l,
        Err(e) => {
            println!("skipping: no IPv6 on this machine ({e})");
            return;
        }
    };
    let port = listener.local_addr().unwrap().port();
    println!("  listening on [::]:{port}");
    try_client(&listener, ([127, 0, 0, 1], port).into(), "IPv4");
    try_client(&listener, (Ipv6Addr::LOCALHOST, port).into(), "IPv6");
    try_ipv4_listener(port);
    drop(listener);

    println!("IPV6_V6ONLY on:");
    let listener = match listen_v6(port, true) {
        Ok(l) => l,
        Err(e) => {
            println!("  cannot bind [::]:{port} again: {e}");
            return;
        }
    };
    println!("  listening on [::]:{port}");
    try_client(&listener, ([127, 0, 0, 1], port).into(), "IPv4");
    try_client(&listener, (Ipv6Addr::LOCALHOST, port).into(), "IPv6");
    try_ipv4_listener(port);
}

/// Tries to bind a separate IPv4 listener on `0.0.0.0:port` beside the IPv6 one.
fn try_ipv4_listener(port: u16) {
    let result = (|| {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        // SO_REUSEADDR, as every server sets it, so that TIME_WAIT entries left by the
        // clients above do not get in the way: only a live listener should.
        socket.set_reuse_address(true)?;
        let addr: SocketAddr = ([0, 0, 0, 0], port).into();
        socket.bind(&addr.into())?;
        socket.listen(16)
    })();
    match result {
        Ok(()) => {
            println!("  a separate IPv4 listener on 0.0.0.0:{port}: bound, the IPv4 side is free")
        }
        Err(e) => println!("  a separate IPv4 listener on 0.0.0.0:{port}: bind failed: {e}"),
    }
}

/// `socket(AF_INET6)`, `SO_REUSEADDR`, `IPV6_V6ONLY`, `bind([::]:port)`, `listen()`.
fn listen_v6(port: u16, v6only: bool) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::IPV6, Type::STREAM, None)?;
    // The "off" half's connections leave TIME_WAIT entries on this port.
    socket.set_reuse_address(true)?;
    socket.set_only_v6(v6only)?;
    let addr: SocketAddr = (Ipv6Addr::UNSPECIFIED, port).into();
    socket.bind(&addr.into())?;
    socket.listen(16)?;
    Ok(socket.into())
}

/// Connects a client to `target`, and if it gets in, shows the address the server's
/// `accept` saw and exchanges a byte.
fn try_client(listener: &TcpListener, target: SocketAddr, family: &str) {
    match TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) {
        Ok(mut client) => {
            let (mut conn, peer) = listener.accept().unwrap();
            let server = thread::spawn(move || {
                let mut b = [0u8; 1];
                conn.read_exact(&mut b).unwrap();
                conn.write_all(&b).unwrap();
            });
            client.write_all(b"x").unwrap();
            let mut b = [0u8; 1];
            client.read_exact(&mut b).unwrap();
            server.join().unwrap();
            println!("  {family} client to {target}: accepted, the server sees it as {peer}");
        }
        Err(e) => println!("  {family} client to {target}: {e}"),
    }
}
