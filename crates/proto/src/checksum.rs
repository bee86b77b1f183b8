//! md5 for the trailer of a transfer: the hasher, its hex form, and the hash of the
//! prefix a resume keeps.
//!
//! The tutorials put an `md5` field in the header and never checked it; computing it
//! up front would also mean reading the whole file twice. socklab hashes the body as
//! it streams (the file-transfer crate's `transfer` module feeds an [`Md5`] on a second
//! thread while it copies) and sends the digest in a trailer after the body, so both
//! ends read the data once.
//!
//! md5 finds accidental corruption only. Anyone who can change the data in flight can
//! change the trailer too; see docs/security.md.

use md5::Digest;
/// The md5 state a transfer or a resume carries (see [`hash_prefix`]); re-exported so
/// callers can hold one without depending on `md-5` themselves.
pub use md5::Md5;
use std::io::{self, Read};

/// Lower-case hex of an md5 digest, as `md5sum` prints it.
fn to_hex(digest: &[u8]) -> String {
    use std::fmt::Write as _;
    digest.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The hex digest of everything `hasher` has seen, as `md5sum` prints it.
pub fn finish_hex(hasher: Md5) -> String {
    to_hex(&hasher.finalize())
}

/// The md5 of a byte slice, in hex.
pub fn md5_hex(data: &[u8]) -> String {
    to_hex(&Md5::digest(data))
}

/// Hashes the first `len` bytes of `r` (the part of a file a resume keeps), returning
/// the hasher so the transfer can continue it.
pub fn hash_prefix<R: Read>(r: R, len: u64) -> io::Result<Md5> {
    let mut hasher = Md5::new();
    let mut r = r.take(len);
    let mut buf = vec![0u8; 64 * 1024];
    let mut copied = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                copied += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if copied != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("expected {len} bytes to resume from, found {copied}"),
        ));
    }
    Ok(hasher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digest_is_what_md5sum_prints() {
        let data = b"The quick brown fox jumps over the lazy dog";
        assert_eq!(md5_hex(data), "9e107d9d372bb6826bd81d3542a419d6");
        let mut hasher = Md5::new();
        hasher.update(&data[..10]);
        hasher.update(&data[10..]);
        assert_eq!(finish_hex(hasher), md5_hex(data));
    }

    #[test]
    fn resumed_hash_equals_whole_hash() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
        let mut hasher = hash_prefix(&data[..], 104_321).unwrap();
        hasher.update(&data[104_321..]);
        assert_eq!(finish_hex(hasher), md5_hex(&data));
    }

    #[test]
    fn hash_prefix_of_short_file_is_an_error() {
        assert!(hash_prefix(&b"abc"[..], 4).is_err());
    }
}
