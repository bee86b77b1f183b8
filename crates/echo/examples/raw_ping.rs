//! SOCK_RAW: "ping 127.0.0.1" with a raw socket, building the ICMP packet by hand.
//!
//! ```text
//! sudo cargo run -p socklab-echo --example raw_ping   (or, as root: make example-raw-ping)
//! cargo run -p socklab-echo --example raw_ping -- 127.0.0.2
//! ```
//!
//! A stream or datagram socket hands the kernel data and lets it write the TCP or UDP
//! header. A raw socket (`socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)`) hands it a whole
//! ICMP message, header and checksum included, and receives every ICMP packet the
//! host gets, with its IP header in front. Because it can forge packets and read
//! other programs' traffic, Linux allows it only with CAP_NET_RAW (root has it).
//! Without it this example says so and exits 0; with it, it sends one echo request,
//! waits for the reply, and checks its checksum.

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{ErrorKind, Read};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

/// ICMP message types (RFC 792).
const ECHO_REPLY: u8 = 0;
const ECHO_REQUEST: u8 = 8;
/// How long to wait for the reply before saying none came.
const WAIT: Duration = Duration::from_secs(2);
/// The bytes the echo request carries; the reply must carry them back.
const PAYLOAD: &[u8] = b"socklab raw ping";

fn main() {
    let target: Ipv4Addr = match std::env::args().nth(1) {
        Some(a) => a.parse().unwrap_or_else(|e| {
            eprintln!("raw_ping: {a:?} is not an IPv4 address: {e}");
            std::process::exit(2)
        }),
        None => Ipv4Addr::LOCALHOST,
    };
    let socket = match Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)) {
        Ok(s) => s,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            explain_not_permitted(&e);
            return;
        }
        Err(e) => {
            eprintln!("raw_ping: socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) failed: {e}");
            std::process::exit(1)
        }
    };
    println!("socket(AF_INET, SOCK_RAW, IPPROTO_ICMP): allowed (this process has CAP_NET_RAW)");
    socket.set_read_timeout(Some(WAIT)).unwrap();

    // Linux ping uses its process id as the identifier; the kernel does not check it,
    // it only lets this program tell its replies from other pings'.
    let id = (std::process::id() & 0xffff) as u16;
    let seq = 1u16;
    let request = echo_message(ECHO_REQUEST, id, seq, PAYLOAD);
    println!(
        "sending an echo request to {target}: type 8, id {id}, seq {seq}, {} bytes, checksum 0x{:04x}",
        request.len(),
        u16::from_be_bytes([request[2], request[3]])
    );
    let dest = SockAddr::from(SocketAddr::V4(SocketAddrV4::new(target, 0)));
    let start = Instant::now();
    socket.send_to(&request, &dest).unwrap();

    let mut buf = [0u8; 1500];
    let mut seen = 0;
    loop {
        let n = match (&socket).read(&mut buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                println!("no echo reply within {WAIT:?} ({seen} other ICMP packets seen): is net.ipv4.icmp_echo_ignore_all set?");
                return;
            }
            Err(e) => {
                eprintln!("raw_ping: recv failed: {e}");
                std::process::exit(1)
            }
        };
        // A raw IPv4 socket receives the IP header too; its length is in the low
        // nibble of the first byte, in 32-bit words.
        let ihl = usize::from(buf[0] & 0x0f) * 4;
        if n < ihl + 8 {
            continue;
        }
        let (ip, icmp) = (&buf[..ihl], &buf[ihl..n]);
        let from = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
        let kind = icmp[0];
        let (rid, rseq) = (
            u16::from_be_bytes([icmp[4], icmp[5]]),
            u16::from_be_bytes([icmp[6], icmp[7]]),
        );
        if kind == ECHO_REQUEST && rid == id {
            // On loopback the raw socket also sees its own request go by.
            println!(
                "saw our own echo request pass on loopback (a raw socket sees every ICMP packet)"
            );
            continue;
        }
        if kind != ECHO_REPLY || rid != id || rseq != seq {
            seen += 1;
            continue;
        }
        let ok = checksum(icmp) == 0;
        println!(
            "echo reply from {from}: type 0, id {rid}, seq {rseq}, ttl {}, {} bytes of ICMP after a {ihl}-byte IP header, \
             checksum {}, payload {}, in {} us",
            ip[8],
            icmp.len(),
            if ok { "ok" } else { "WRONG" },
            if &icmp[8..] == PAYLOAD { "echoed back intact" } else { "CHANGED" },
            start.elapsed().as_micros()
        );
        return;
    }
}

/// An ICMP echo message: type, code 0, checksum, identifier, sequence, payload.
fn echo_message(kind: u8, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![kind, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(payload);
    let sum = checksum(&m);
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    m
}

/// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum
/// of the 16-bit big-endian words, an odd last byte padded with zero. Over a message
/// that already carries its checksum it is 0, which is how the reply is checked.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn explain_not_permitted(e: &std::io::Error) {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    println!("socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) was refused: {e}");
    println!("not permitted: a raw socket needs CAP_NET_RAW (run as root, or `sudo setcap cap_net_raw+ep` on the binary),");
    println!("because it can forge any ICMP packet and read every one the host receives.");
    println!("The ping(8) on this machine is either setuid/setcap, or uses an unprivileged ICMP datagram");
    println!("socket (SOCK_DGRAM, IPPROTO_ICMP), allowed to the groups in net.ipv4.ping_group_range (here: {range}).");
}
