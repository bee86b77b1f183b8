//! Datagrams in batches: `recvmmsg(2)` to take many at once, `sendmmsg(2)` to send
//! every copy of a broadcast in one call.
//!
//! The obvious relay loop makes one `recvfrom` and then one `sendto` per member for
//! every message. Each `sendto` on loopback delivers the datagram and wakes the
//! member's reader right away, and that reader can preempt the server on its way back
//! from the system call, so the server is switched out once per copy. `sendmmsg`
//! hands the kernel every copy in one call and returns to user space once, and
//! `recvmmsg` drains what queued up meanwhile in one call too
//! (docs/lessons/02-udp-chat.md shows what that changes).
//!
//! Both calls come from the `nix` crate, whose wrappers are safe: socklab forbids
//! `unsafe`, and std has neither call.

use nix::sys::socket::{recvmmsg, sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;

/// Datagrams taken from the socket in one `recvmmsg` call, at most. Each has its own
/// buffer of the full receive size; the kernel only touches the pages a datagram fills.
pub(crate) const RECV_BATCH: usize = 32;

/// Datagrams handed to the kernel in one `sendmmsg` call, at most (a full chat's
/// broadcast is 63 copies).
pub(crate) const SEND_BATCH: usize = 64;

/// One received datagram: who sent it, how many bytes landed in the buffer, and
/// whether the kernel had to cut it because the buffer was too small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram {
    /// The sender's address.
    pub from: SocketAddr,
    /// Bytes written into the buffer.
    pub len: usize,
    /// The datagram was longer than the buffer (`MSG_TRUNC` in `recvmsg`'s flags).
    pub truncated: bool,
}

/// `SockaddrStorage` (what the kernel filled in) as std's address type.
fn to_std(addr: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        Some(SocketAddr::V4(SocketAddrV4::from(*v4)))
    } else {
        addr.as_sockaddr_in6()
            .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
    }
}

/// Receives up to [`RECV_BATCH`] datagrams per call, each into its own buffer.
pub(crate) struct Receiver {
    headers: MultiHeaders<SockaddrStorage>,
    buffers: Vec<Vec<u8>>,
    /// (index into `buffers`, what arrived there).
    received: Vec<(usize, Datagram)>,
}

impl std::fmt::Debug for Receiver {
    // nix's headers have no Debug; what matters is the batch's shape.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("buffers", &self.buffers.len())
            .field("received", &self.received)
            .finish()
    }
}

impl Receiver {
    /// A receiver whose buffers hold `buffer` bytes each: datagrams longer than that
    /// are reported as truncated.
    pub fn new(buffer: usize) -> Self {
        Receiver {
            headers: MultiHeaders::preallocate(RECV_BATCH, None),
            // One `vec!` each, not `vec![buf; n]`: cloning would write every page of
            // every buffer, where a fresh zeroed allocation is only backed by memory
            // once a datagram lands in it.
            buffers: (0..RECV_BATCH).map(|_| vec![0u8; buffer.max(1)]).collect(),
            received: Vec::with_capacity(RECV_BATCH),
        }
    }

    /// Blocks for the first datagram (up to the socket's `SO_RCVTIMEO`, then
    /// `WouldBlock`), then takes whatever else is already queued without waiting
    /// (`MSG_WAITFORONE`). Returns how many datagrams arrived; read them with
    /// [`Receiver::datagrams`].
    pub fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.received.clear();
        let mut slices: Vec<[IoSliceMut<'_>; 1]> = self
            .buffers
            .iter_mut()
            .map(|b| [IoSliceMut::new(b)])
            .collect();
        let results = recvmmsg(
            socket.as_raw_fd(),
            &mut self.headers,
            slices.iter_mut(),
            MsgFlags::MSG_WAITFORONE,
            None,
        )?;
        for (index, msg) in results.enumerate() {
            // A UDP datagram always has a source address; skip one that somehow
            // does not, rather than invent one.
            if let Some(from) = msg.address.as_ref().and_then(to_std) {
                let d = Datagram {
                    from,
                    len: msg.bytes,
                    truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
                };
                self.received.push((index, d));
            }
        }
        Ok(self.received.len())
    }

    /// The datagrams of the last [`Receiver::recv`], each with its bytes.
    pub fn datagrams(&self) -> impl Iterator<Item = (Datagram, &[u8])> {
        self.received
            .iter()
            .map(|(i, d)| (*d, &self.buffers[*i][..d.len]))
    }
}

/// Datagrams waiting to be sent, and the one `sendmmsg` call that sends them.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// Each distinct payload once: a broadcast's copies share one.
    payloads: Vec<Vec<u8>>,
    /// (index into `payloads`, destination).
    sends: Vec<(usize, SocketAddr)>,
}

impl Outbox {
    /// Queues `payload` for every address in `to`.
    pub fn push(&mut self, payload: Vec<u8>, to: impl IntoIterator<Item = SocketAddr>) {
        let index = self.payloads.len();
        let before = self.sends.len();
        self.sends.extend(to.into_iter().map(|addr| (index, addr)));
        if self.sends.len() > before {
            self.payloads.push(payload);
        }
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.sends.is_empty()
    }

    /// Sends everything queued, [`SEND_BATCH`] datagrams per `sendmmsg`. A datagram
    /// the kernel refuses is logged and skipped: UDP promises no delivery, and one bad
    /// destination must not stop the copies to the others. Returns how many were sent.
    pub fn flush(&mut self, socket: &UdpSocket) -> usize {
        if self.is_empty() {
            return 0;
        }
        // nix's headers hold raw pointers, so they are not `Send` and cannot live in
        // the room the console thread shares: two small allocations per flush.
        let mut headers = MultiHeaders::preallocate(self.sends.len().min(SEND_BATCH), None);
        let mut sent = 0;
        let mut next = 0;
        // Each pass sends at least one datagram or skips one, so this ends.
        while next < self.sends.len() {
            let batch = &self.sends[next..self.sends.len().min(next + SEND_BATCH)];
            let slices: Vec<[IoSlice<'_>; 1]> = batch
                .iter()
                .map(|(i, _)| [IoSlice::new(&self.payloads[*i])])
                .collect();
            let addrs: Vec<Option<SockaddrStorage>> = batch
                .iter()
                .map(|(_, a)| Some(SockaddrStorage::from(*a)))
                .collect();
            match sendmmsg(
                socket.as_raw_fd(),
                &mut headers,
                &slices,
                &addrs,
                [],
                MsgFlags::empty(),
            ) {
                // sendmmsg stops at the first datagram that fails and reports the
                // ones before it; the next pass then meets that failure itself.
                // Counting walks nix's result iterator, which also reads the
                // preallocated address slots that only recvmmsg fills: harmless
                // bytes here, but a soundness wart in nix 0.29 we note rather than
                // work around (docs/lessons/02-udp-chat.md).
                Ok(results) => {
                    let n = results.count().max(1);
                    sent += n;
                    next += n;
                }
                Err(e) => {
                    let to = batch[0].1;
                    let to = SocketAddr::new(to.ip().to_canonical(), to.port());
                    log::warn!("{to}: sendmmsg: {e}");
                    next += 1;
                }
            }
        }
        self.payloads.clear();
        self.sends.clear();
        sent
    }
}

/// Receives one datagram into `buf` with a single `recvmsg(2)`, and tells whether it
/// was truncated.
///
/// Python's `recvfrom(1024)` silently drops the end of a longer datagram: the rest is
/// gone for good, and nothing says so. `recvmsg` reports it with `MSG_TRUNC` in the
/// returned flags. This is the one-datagram form of what the server's `Receiver` does
/// in batches; `examples/datagrams.rs` uses it.
pub fn recv_datagram(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Datagram> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = nix::sys::socket::recvmsg::<SockaddrStorage>(
        socket.as_raw_fd(),
        &mut iov,
        None,
        MsgFlags::empty(),
    )?;
    let from = msg.address.as_ref().and_then(to_std).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "datagram without a source address",
        )
    })?;
    Ok(Datagram {
        from,
        len: msg.bytes,
        truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn socket() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    #[test]
    fn receiver_takes_a_queued_batch_in_one_call_and_flags_truncation() {
        let (rx, tx) = (socket(), socket());
        let to = rx.local_addr().unwrap();
        for i in 0..RECV_BATCH + 3 {
            tx.send_to(format!("message {i:02}").as_bytes(), to)
                .unwrap();
        }
        tx.send_to(&[b'x'; 100], to).unwrap();
        let mut r = Receiver::new(64);
        // Loopback queues synchronously: all 36 are waiting, and one call takes 32.
        assert_eq!(r.recv(&rx).unwrap(), RECV_BATCH);
        let first: Vec<String> = r
            .datagrams()
            .map(|(d, bytes)| {
                assert_eq!(d.from, tx.local_addr().unwrap());
                assert!(!d.truncated);
                String::from_utf8(bytes.to_vec()).unwrap()
            })
            .collect();
        assert_eq!(first[0], "message 00");
        assert_eq!(
            first[RECV_BATCH - 1],
            format!("message {:02}", RECV_BATCH - 1)
        );
        assert_eq!(r.recv(&rx).unwrap(), 4);
        let last: Vec<(Datagram, Vec<u8>)> = r.datagrams().map(|(d, b)| (d, b.to_vec())).collect();
        assert_eq!(
            last[2].1,
            format!("message {:02}", RECV_BATCH + 2).as_bytes()
        );
        assert!(
            last[3].0.truncated,
            "a 100-byte datagram in a 64-byte buffer"
        );
        assert_eq!(last[3].0.len, 64);
    }

    #[test]
    fn outbox_sends_every_copy_and_skips_a_destination_the_kernel_refuses() {
        let members: Vec<UdpSocket> = (0..3).map(|_| socket()).collect();
        let tx = socket();
        let mut out = Outbox::default();
        let mut to: Vec<SocketAddr> = members.iter().map(|m| m.local_addr().unwrap()).collect();
        // Port 0 cannot be sent to (EINVAL): it must not stop the others.
        to.insert(1, "127.0.0.1:0".parse().unwrap());
        out.push(b"hello all".to_vec(), to.clone());
        out.push(b"just you".to_vec(), [to[0]]);
        out.push(b"nobody".to_vec(), []);
        assert_eq!(out.sends.len(), 5);
        assert_eq!(out.flush(&tx), 4);
        assert!(out.is_empty());
        let mut buf = [0u8; 64];
        for (i, m) in members.iter().enumerate() {
            let (n, _) = m.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"hello all", "member {i}");
        }
        let (n, _) = members[0].recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"just you");
    }

    #[test]
    fn outbox_sends_more_than_one_batch_with_a_refused_destination_at_the_seam() {
        let member = socket();
        let tx = socket();
        let good = member.local_addr().unwrap();
        let bad: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut out = Outbox::default();
        // 64 good, then a bad one at index 64 (the first of the second batch), then
        // 10 more good: 74 must arrive.
        for i in 0..SEND_BATCH {
            out.push(format!("{i}").into_bytes(), [good]);
        }
        out.push(b"never".to_vec(), [bad]);
        for i in SEND_BATCH..SEND_BATCH + 10 {
            out.push(format!("{i}").into_bytes(), [good]);
        }
        assert_eq!(out.flush(&tx), SEND_BATCH + 10);
        let mut buf = [0u8; 16];
        for i in 0..SEND_BATCH + 10 {
            let (n, _) = member.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], format!("{i}").as_bytes(), "datagram {i}");
        }
    }

    #[test]
    fn recv_datagram_reports_truncation() {
        let (rx, tx) = (socket(), socket());
        tx.send_to(&[7u8; 100], rx.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 10];
        let d = recv_datagram(&rx, &mut buf).unwrap();
        assert!(d.truncated);
        assert_eq!(d.len, 10);
    }
}
