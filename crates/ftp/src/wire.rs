//! The file-transfer replies and trailer. Each body is hashed while it streams
//! (`crate::transfer`), and its md5 follows it in the [`Trailer`].
//!
//! ```text
//! get:  -> {"op":"get","path":P,"offset":K,"md5":"<md5 of the K bytes held>"}
//!       <- {"ok":true,"name":N,"size":S}  + (S-K) raw bytes + {"md5":"<whole file>"}
//! put:  -> {"op":"put","path":P,"size":S,"resume":R,"overwrite":O,"mtime":T}
//!       <- {"ok":true,"offset":K,"md5":"<md5 of the K bytes held>"}
//!       -> (S-K) raw bytes + {"md5":"<whole file>"}
//!       <- {"ok":true,"name":N,"size":S,"md5":M}  |  {"ok":false,"code":"checksum_mismatch",…}
//! ```

use serde::{Deserialize, Serialize};

/// What an entry is. Symlinks are listed, never followed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A regular file.
    #[default]
    File,
    /// A directory.
    Dir,
    /// A symbolic link (the server neither follows nor serves it).
    Symlink,
}

/// One entry of a `list` reply, or a `stat` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// In a listing a single path component, in a `stat` reply the path asked about
    /// (the client validates it again).
    pub name: String,
    /// File, directory or symlink; absent (a file) from servers before paths.
    #[serde(default)]
    pub kind: Kind,
    /// Size in bytes (0 for a directory or a symlink).
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

/// `{"ok":true,"offset":K,"md5":M}`: where the uploader must start. A resumed upload's
/// reply carries the md5 of the `K` bytes held, so the client compares its own prefix
/// before it sends more (and stops with `checksum_mismatch` if the local file changed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutReady {
    /// Bytes the server already holds from an interrupted upload.
    pub offset: u64,
    /// Their md5; absent when `offset` is 0 (or from servers before this check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
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
