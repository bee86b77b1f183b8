//! The library driven directly, for what the binaries cannot show: a receive buffer
//! smaller than a datagram, where truncation must be detected rather than cut.

use socklab_chat::batch::recv_datagram;
use socklab_chat::server::{run, ServerConfig};
use std::net::UdpSocket;
use std::time::Duration;

fn socket_pair() -> (UdpSocket, UdpSocket) {
    let server = socklab_net::socket::udp_socket("127.0.0.1:0".parse().unwrap()).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.connect(server.local_addr().unwrap()).unwrap();
    (server, client)
}

#[test]
fn recv_datagram_reports_truncation_and_keeps_boundaries() {
    let (server, client) = socket_pair();
    server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Two sends are two receives: UDP keeps message boundaries, no 粘包.
    client.send(b"first").unwrap();
    client.send(&[b'x'; 100]).unwrap();
    client.send(b"third").unwrap();
    let mut buf = vec![0u8; 64];
    let d = recv_datagram(&server, &mut buf).unwrap();
    assert_eq!((&buf[..d.len], d.truncated), (&b"first"[..], false));
    let d = recv_datagram(&server, &mut buf).unwrap();
    assert_eq!(
        (d.len, d.truncated),
        (64, true),
        "a 100-byte datagram into 64 bytes"
    );
    // The cut end is gone for good: the next receive is the next datagram.
    let d = recv_datagram(&server, &mut buf).unwrap();
    assert_eq!((&buf[..d.len], d.truncated), (&b"third"[..], false));
    assert_eq!(d.from, client.local_addr().unwrap());
}

#[test]
fn truncated_datagram_is_refused_with_the_error_line() {
    let (server, client) = socket_pair();
    let config = ServerConfig {
        recv_buffer: 1000,
        max_message: 2048,
        ..ServerConfig::default()
    };
    let stop = config.shutdown.clone();
    let handle = std::thread::spawn(move || run(server, config));
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client
        .send(format!("{:<128}", "/nick t").as_bytes())
        .unwrap();
    let mut buf = [0u8; 65_536];
    let n = client.recv(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"*** welcome, t"));
    // 1,500 bytes is under --max-message but over the buffer: cut by the kernel, and
    // detected, so it is refused rather than relayed cut.
    client.send(&[b'a'; 1500]).unwrap();
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"error: message too long (max 2048 bytes)\n");
    client.send(b"/ping").unwrap();
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"/pong\n");
    stop.trigger();
    handle.join().unwrap().unwrap();
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"*** the server is shutting down\n");
}
