//! Streaming md5: hash bytes as they pass, so a transfer reads its data once.
//!
//! The tutorials put an `md5` field in the header and never checked it; computing it
//! up front would also mean reading the whole file twice. socklab hashes the body as
//! it is copied, through the `Read`/`Write` adaptors below, and sends the digest in a
//! trailer after the body. (The file-transfer crate's `transfer` module runs the same
//! hash on a second thread, so copying and hashing overlap.)
//!
//! md5 finds accidental corruption only. Anyone who can change the data in flight can
//! change the trailer too; see docs/security.md.

use md5::Digest;
/// The md5 state a resume carries over (see [`hash_prefix`]); re-exported so callers
/// can hold one without depending on `md-5` themselves.
pub use md5::Md5;
use std::io::{self, Read, Write};

/// Lower-case hex of an md5 digest, as `md5sum` prints it.
pub fn to_hex(digest: &[u8]) -> String {
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

/// A reader that hashes every byte it hands out.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: Md5,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner` with a fresh hash.
    pub fn new(inner: R) -> Self {
        Self::with_hasher(inner, Md5::new())
    }

    /// Wraps `inner`, continuing a hash that already covers earlier bytes (a resume).
    pub fn with_hasher(inner: R, hasher: Md5) -> Self {
        HashingReader {
            inner,
            hasher,
            count: 0,
        }
    }

    /// Bytes read through this adaptor.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The hex digest of everything hashed, and the inner reader back.
    pub fn finish(self) -> (String, R) {
        (to_hex(&self.hasher.finalize()), self.inner)
    }

    /// The inner reader, for setting options on a socket mid-stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes every byte written through it.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Md5,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner` with a fresh hash.
    pub fn new(inner: W) -> Self {
        Self::with_hasher(inner, Md5::new())
    }

    /// Wraps `inner`, continuing a hash that already covers earlier bytes (a resume).
    pub fn with_hasher(inner: W, hasher: Md5) -> Self {
        HashingWriter {
            inner,
            hasher,
            count: 0,
        }
    }

    /// Bytes written through this adaptor.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The hex digest of everything hashed, and the inner writer back.
    pub fn finish(self) -> (String, W) {
        (to_hex(&self.hasher.finalize()), self.inner)
    }

    /// The inner writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Hash only what the inner writer accepted, so a short write stays in step.
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes the first `len` bytes of `r` (the part of a file a resume keeps), returning
/// the hasher so the transfer can continue it.
pub fn hash_prefix<R: Read>(r: R, len: u64) -> io::Result<Md5> {
    let mut hr = HashingReader::new(r.take(len));
    let copied = io::copy(&mut hr, &mut io::sink())?;
    if copied != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("expected {len} bytes to resume from, found {copied}"),
        ));
    }
    Ok(hr.hasher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_and_writer_hash_what_passes() {
        let data = b"The quick brown fox jumps over the lazy dog";
        let mut r = HashingReader::new(&data[..]);
        let mut w = HashingWriter::new(Vec::new());
        io::copy(&mut r, &mut w).unwrap();
        let (rh, _) = r.finish();
        let (wh, out) = w.finish();
        assert_eq!(rh, "9e107d9d372bb6826bd81d3542a419d6");
        assert_eq!(wh, rh);
        assert_eq!(out, data);
    }

    #[test]
    fn resumed_hash_equals_whole_hash() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let hasher = hash_prefix(&data[..], 4321).unwrap();
        let mut r = HashingReader::with_hasher(&data[4321..], hasher);
        io::copy(&mut r, &mut io::sink()).unwrap();
        assert_eq!(r.finish().0, md5_hex(&data));
    }

    #[test]
    fn hash_prefix_of_short_file_is_an_error() {
        assert!(hash_prefix(&b"abc"[..], 4).is_err());
    }
}
