//! What a UDP socket gives you, and what it does not: boundaries kept, truncation
//! reported, datagrams lost.
//!
//! ```text
//! cargo run -p socklab-chat --example datagrams
//! ```
//!
//! Part 1 sends three datagrams back to back and receives three: UDP keeps message
//! boundaries, so there is no 粘包 and no framing to add (compare the echo lesson's
//! `sticky` example). Part 2 receives a 100-byte datagram into a 64-byte buffer: the
//! kernel cuts it, and `recvmsg` says so with `MSG_TRUNC`, which Python's
//! `recvfrom(64)` never tells you. Part 3 sends 2,000 datagrams at a socket that reads
//! none until the end, with a small receive buffer: the kernel drops what does not fit,
//! and nobody is told. That is loss; over a real network UDP may also duplicate and
//! reorder datagrams, which loopback does not show. The chat lives with all three:
//! a lost message is simply missed, which is why it is a lesson and not a messenger.
//! Everything runs on loopback in one process.

use socket2::SockRef;
use socklab_chat::batch::recv_datagram;
use std::net::UdpSocket;
use std::time::Duration;

fn main() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.connect(receiver.local_addr().unwrap()).unwrap();
    let mut buf = vec![0u8; 64];

    println!("part 1: three sends, then three recv_from calls");
    for word in ["hello", "world", "again"] {
        sender.send(word.as_bytes()).unwrap();
    }
    let mut count = 0;
    while let Ok(d) = recv_datagram(&receiver, &mut buf) {
        println!(
            "  recv_from -> {:?}",
            String::from_utf8_lossy(&buf[..d.len])
        );
        count += 1;
    }
    println!("  {count} datagrams for 3 sends: boundaries kept, no 粘包");

    println!("part 2: a 100-byte datagram into a 64-byte buffer");
    sender.send(&[b'x'; 100]).unwrap();
    let d = recv_datagram(&receiver, &mut buf).unwrap();
    println!(
        "  recv_from -> {} bytes, truncated: {} (the other {} bytes are gone)",
        d.len,
        d.truncated,
        100 - d.len
    );

    println!("part 3: 2000 datagrams of 1000 bytes at a small receive buffer, read later");
    SockRef::from(&receiver)
        .set_recv_buffer_size(16 * 1024)
        .unwrap();
    for i in 0..2000u32 {
        let mut datagram = vec![b'.'; 1000];
        datagram[..4].copy_from_slice(&i.to_be_bytes());
        // send_to on loopback does not block and does not fail when the receiver's
        // queue is full: the datagram is dropped at the receiver.
        let _ = sender.send(&datagram);
    }
    receiver
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut big = vec![0u8; 2048];
    let mut received = 0u32;
    while receiver.recv(&mut big).is_ok() {
        received += 1;
    }
    println!(
        "  received {received} of 2000; {} lost without any error",
        2000 - received
    );
}
