//! SO_REUSEADDR: restarting a server while its old connections sit in TIME_WAIT.
//!
//! ```text
//! cargo run -p socklab-echo --example reuseaddr     (or: make example-reuseaddr)
//! ```
//!
//! The side of a TCP connection that closes first keeps it in TIME_WAIT for a while
//! (60 s on Linux) so that late packets of the old connection cannot be mistaken for a
//! new one. A server that closes its clients and then restarts finds its port still
//! "in use". This example runs a server, lets it close a connection first, stops it,
//! and tries to bind the same port again: without SO_REUSEADDR, then with it.
//!
//! On Linux the old socket must have had SO_REUSEADDR too (the TIME_WAIT entry keeps
//! the option of the socket it came from), which is why a server sets it every run.

use socket2::{Domain, Socket, Type};
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};

fn main() {
    for reuse in [false, true] {
        println!("SO_REUSEADDR {}:", if reuse { "on" } else { "off" });
        let port = run_and_stop_server(reuse);
        println!("  first run served a client on port {port}, closed it first, and stopped");
        match bind(port, reuse) {
            Ok(_) => println!("  restart on port {port}: bound"),
            Err(e) => println!("  restart on port {port}: bind failed: {e}"),
        }
    }
}

/// Binds and listens on 127.0.0.1:`port` (0 = any), setting SO_REUSEADDR or not.
fn bind(port: u16, reuse: bool) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(reuse)?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    socket.bind(&addr.into())?;
    socket.listen(16)?;
    Ok(socket.into())
}

/// One server run: accept a client, close the connection from the server side (so
/// the server's end goes to TIME_WAIT), and stop. Returns the port.
fn run_and_stop_server(reuse: bool) -> u16 {
    let listener = bind(0, reuse).unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server_side, _) = listener.accept().unwrap();
    drop(server_side); // The server closes first: its side enters TIME_WAIT.
    let _ = client.read(&mut [0u8; 1]); // The client sees EOF and closes too.
    drop(client);
    drop(listener);
    port
}
