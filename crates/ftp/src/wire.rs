//! The file-transfer replies and trailer, and the one copy loop both ends stream
//! bodies through.
//!
//! ```text
//! get:  -> {"op":"get","name":N,"offset":K}
//!       <- {"ok":true,"name":N,"size":S}  + (S-K) raw bytes + {"md5":"<whole file>"}
//! put:  -> {"op":"put","name":N,"size":S,"resume":R,"overwrite":O}
//!       <- {"ok":true,"offset":K}
//!       -> (S-K) raw bytes + {"md5":"<whole file>"}
//!       <- {"ok":true,"name":N,"size":S,"md5":M}  |  {"ok":false,"code":"checksum_mismatch",…}
//! ```

use serde::{Deserialize, Serialize};
use socklab_proto::{Error, Result};
use std::io::{self, Read, Write};

/// One entry of a `list` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// A single path component (the client validates it again).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, seconds since the Unix epoch.
    pub mtime: u64,
}

/// `{"ok":true,"files":[…]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Listing {
    /// The served files, sorted by name.
    pub files: Vec<FileInfo>,
    /// True when the directory held more files than fit in one header
    /// ([`socklab_proto::MAX_HEADER_LEN`]); the list was cut.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// `{"ok":true,"name":N,"size":S}`: the header before a `get` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetReply {
    /// The name asked for.
    pub name: String,
    /// The whole file's size; the body is `size - offset` bytes.
    pub size: u64,
}

/// `{"ok":true,"offset":K}`: where the uploader must start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutReady {
    /// Bytes the server already holds from an interrupted upload.
    pub offset: u64,
}

/// `{"ok":true,"name":N,"size":S,"md5":M}`: an upload stored under its final name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutDone {
    /// The name it is stored under.
    pub name: String,
    /// Its size.
    pub size: u64,
    /// The md5 the server computed while the bytes arrived.
    pub md5: String,
}

/// The frame after a body: the md5 of the whole file, computed while streaming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trailer {
    /// Lower-case hex md5.
    pub md5: String,
}

/// Copies exactly `len` bytes from `from` to `to` through `buf` (one fixed buffer per
/// transfer, so memory does not grow with the file), calling `progress` after each
/// chunk. A source that ends early is [`Error::UnexpectedEof`]: the caller decides
/// what to keep of what was written.
///
/// `io::copy` would do, but it cannot report progress, and it stops quietly at EOF
/// where we must tell a short body from a complete one.
pub fn copy_exact<R: Read, W: Write>(
    from: &mut R,
    to: &mut W,
    len: u64,
    buf: &mut [u8],
    mut progress: impl FnMut(u64),
    what: &'static str,
) -> Result<()> {
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match from.read(&mut buf[..want]) {
            Ok(0) => return Err(Error::UnexpectedEof(what)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(format!("reading {what}"), e)),
        };
        to.write_all(&buf[..n])
            .map_err(|e| Error::io(format!("writing {what}"), e))?;
        left -= n as u64;
        progress(n as u64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most 3 bytes per call, as a slow socket might.
    struct Dribble<'a>(&'a [u8]);

    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(3).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn copy_exact_copies_exactly_len_bytes_whatever_the_chunking() {
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let mut out = Vec::new();
        let mut seen = 0;
        let mut buf = [0u8; 64];
        copy_exact(
            &mut Dribble(&data),
            &mut out,
            900,
            &mut buf,
            |n| seen += n,
            "test",
        )
        .unwrap();
        assert_eq!(out, &data[..900]);
        assert_eq!(seen, 900);
    }

    #[test]
    fn copy_exact_reports_a_short_source() {
        let mut out = Vec::new();
        let err = copy_exact(
            &mut &b"abc"[..],
            &mut out,
            4,
            &mut [0u8; 8],
            |_| {},
            "the body",
        )
        .unwrap_err();
        assert!(matches!(err, Error::UnexpectedEof("the body")), "{err:?}");
        assert_eq!(out, b"abc");
    }

    #[test]
    fn listing_without_truncation_omits_the_field() {
        let json = serde_json::to_string(&Listing::default()).unwrap();
        assert_eq!(json, r#"{"files":[]}"#);
    }
}
