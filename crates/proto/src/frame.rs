//! Length-prefixed framing: the fix for 粘包 (sticky packets).
//!
//! TCP is a byte stream. Two `send`s may arrive in one `recv`, and one `send` may be
//! split over many, so a reader needs to know where a message ends. The tutorials
//! assumed `recv(1024)` returns exactly one message, and packed the length with
//! `struct.pack('i', n)`, whose byte order and size depend on the machine.
//!
//! A socklab frame is:
//!
//! ```text
//! +----------------+----------------------+
//! | LEN: u32, BE   | LEN bytes of payload |
//! +----------------+----------------------+
//! ```
//!
//! `LEN` is big-endian (network byte order) and is checked against a limit before any
//! memory is allocated for the payload. A clean EOF before the first byte of `LEN`
//! means the peer closed between frames; an EOF anywhere else is an error.

use crate::error::{Error, Result};
use byteorder::{BigEndian, ByteOrder};
use std::io::{self, Read, Write};

/// Bytes in the length prefix.
pub const LEN_PREFIX: usize = 4;

/// Writes one frame: the big-endian length, then the payload, in one `write_all`
/// so a small frame leaves in one segment.
pub fn write_frame<W: Write>(w: &mut W, payload: &[u8], max: usize) -> Result<()> {
    if payload.len() > max {
        return Err(Error::HeaderTooLarge {
            len: payload.len() as u64,
            max,
        });
    }
    let mut buf = Vec::with_capacity(LEN_PREFIX + payload.len());
    buf.extend_from_slice(&[0; LEN_PREFIX]);
    // The check above bounds the length by `max`, which callers keep far below u32::MAX.
    BigEndian::write_u32(&mut buf[..LEN_PREFIX], payload.len() as u32);
    buf.extend_from_slice(payload);
    w.write_all(&buf)
        .map_err(|e| Error::io("sending a frame", e))
}

/// Reads one frame of at most `max` payload bytes.
///
/// Returns `Ok(None)` when the peer closed cleanly before a new frame began.
pub fn read_frame<R: Read>(r: &mut R, max: usize) -> Result<Option<Vec<u8>>> {
    let mut len_buf = [0u8; LEN_PREFIX];
    match read_full(r, &mut len_buf).map_err(|e| Error::io("reading a frame length", e))? {
        0 => return Ok(None),
        LEN_PREFIX => {}
        _ => return Err(Error::UnexpectedEof("a frame length")),
    }
    let len = BigEndian::read_u32(&len_buf);
    // Check before allocating: a hostile peer's `FF FF FF FF` must cost nothing.
    if len as u64 > max as u64 {
        return Err(Error::HeaderTooLarge {
            len: len.into(),
            max,
        });
    }
    let mut payload = vec![0u8; len as usize];
    match read_full(r, &mut payload).map_err(|e| Error::io("reading a frame", e))? {
        n if n == payload.len() => Ok(Some(payload)),
        _ => Err(Error::UnexpectedEof("a frame")),
    }
}

/// Fills `buf` as far as the stream allows and returns how many bytes it got: less
/// than `buf.len()` only at EOF. Unlike `read_exact`, it tells "nothing at all" (a
/// clean close) from "part of it" (a peer that died mid-message).
pub fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_HEADER_LEN;
    use proptest::prelude::*;
    use std::io::Cursor;

    fn encode(payloads: &[Vec<u8>]) -> Vec<u8> {
        let mut wire = Vec::new();
        for p in payloads {
            write_frame(&mut wire, p, MAX_HEADER_LEN).unwrap();
        }
        wire
    }

    /// A reader that hands out the wire in the chunk sizes it is given, like TCP may.
    struct Chunked {
        data: Vec<u8>,
        pos: usize,
        sizes: Vec<usize>,
        next: usize,
    }

    impl Read for Chunked {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let want = self
                .sizes
                .get(self.next)
                .copied()
                .unwrap_or(usize::MAX)
                .max(1);
            self.next += 1;
            let n = want.min(buf.len()).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn decode_all<R: Read>(r: &mut R) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(p) = read_frame(r, MAX_HEADER_LEN).unwrap() {
            out.push(p);
        }
        out
    }

    #[test]
    fn writes_length_big_endian_before_payload() {
        let wire = encode(&[br#"{"op":"list"}"#.to_vec()]);
        assert_eq!(&wire[..4], &[0, 0, 0, 0x0d], "wire was {wire:02x?}");
        assert_eq!(&wire[4..], br#"{"op":"list"}"#);
    }

    #[test]
    fn decodes_frames_delivered_one_byte_at_a_time() {
        let frames = vec![b"hello".to_vec(), Vec::new(), b"world!".to_vec()];
        let data = encode(&frames);
        let mut r = Chunked {
            sizes: vec![1; data.len()],
            data,
            pos: 0,
            next: 0,
        };
        assert_eq!(decode_all(&mut r), frames);
    }

    #[test]
    fn decodes_ten_thousand_frames_from_one_write() {
        let frames: Vec<Vec<u8>> = (0..10_000)
            .map(|i| format!("frame {i}").into_bytes())
            .collect();
        let wire = encode(&frames);
        let decoded = decode_all(&mut Cursor::new(wire));
        assert_eq!(decoded.len(), 10_000);
        assert_eq!(decoded, frames);
    }

    #[test]
    fn rejects_header_longer_than_limit_without_allocating() {
        // If the length were trusted, these would try to allocate up to 4 GiB. The
        // test would then abort or take seconds; it must fail fast with a typed error.
        for len in [MAX_HEADER_LEN as u32 + 1, 0x8000_0000, 0xFFFF_FFFF] {
            let mut wire = len.to_be_bytes().to_vec();
            wire.extend_from_slice(b"{}");
            match read_frame(&mut Cursor::new(wire), MAX_HEADER_LEN) {
                Err(Error::HeaderTooLarge { len: got, max }) => {
                    assert_eq!(got, u64::from(len));
                    assert_eq!(max, MAX_HEADER_LEN);
                }
                other => panic!("length {len:#x}: expected HeaderTooLarge, got {other:?}"),
            }
        }
    }

    #[test]
    fn accepts_header_exactly_at_limit() {
        let payload = vec![b'x'; MAX_HEADER_LEN];
        let wire = encode(std::slice::from_ref(&payload));
        assert_eq!(
            read_frame(&mut Cursor::new(wire), MAX_HEADER_LEN).unwrap(),
            Some(payload)
        );
    }

    #[test]
    fn refuses_to_write_frame_over_limit() {
        let err = write_frame(&mut Vec::new(), &[0; 10], 9).unwrap_err();
        assert!(
            matches!(err, Error::HeaderTooLarge { len: 10, max: 9 }),
            "{err:?}"
        );
    }

    #[test]
    fn clean_eof_between_frames_is_none() {
        assert_eq!(read_frame(&mut Cursor::new(Vec::new()), 16).unwrap(), None);
    }

    #[test]
    fn eof_inside_length_is_an_error() {
        for cut in 1..LEN_PREFIX {
            let err = read_frame(&mut Cursor::new(vec![0u8; cut]), 16).unwrap_err();
            assert!(
                matches!(err, Error::UnexpectedEof("a frame length")),
                "cut {cut}: {err:?}"
            );
        }
    }

    #[test]
    fn eof_inside_payload_is_an_error() {
        let mut wire = encode(&[b"0123456789".to_vec()]);
        wire.truncate(LEN_PREFIX + 5);
        let err = read_frame(&mut Cursor::new(wire), 16).unwrap_err();
        assert!(matches!(err, Error::UnexpectedEof("a frame")), "{err:?}");
    }

    proptest! {
        #[test]
        fn round_trips_through_arbitrary_chunking(
            frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
            sizes in proptest::collection::vec(1usize..64, 0..200),
        ) {
            let data = encode(&frames);
            let mut r = Chunked { data, pos: 0, sizes, next: 0 };
            prop_assert_eq!(decode_all(&mut r), frames);
        }
    }
}
