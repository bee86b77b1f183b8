//! The file-transfer replies and trailer. Each body is hashed while it streams
//! (`crate::transfer`), and its md5 follows it in the [`Trailer`].
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
    /// ([`socklab_proto::limits::MAX_HEADER_LEN`]); the list was cut.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_without_truncation_omits_the_field() {
        let json = serde_json::to_string(&Listing::default()).unwrap();
        assert_eq!(json, r#"{"files":[]}"#);
    }
}
