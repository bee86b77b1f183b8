//! The file server's requests: today's `list`/`stat`/`get`/`put` with paths, and
//! `mkdir`, `delete`, `rename`.
//!
//! They are read here, not as `socklab_proto::Request`, because only the file server
//! knows these shapes; `login` and `exec` keep the shared shape so a client of either
//! server is answered the same way. `"name"` is still accepted where `"path"` is now
//! expected: an old client's one-component name is a one-component path.

use serde::{Deserialize, Serialize};

/// One request to the file server. Unknown fields are refused, as in
/// `socklab_proto::Request`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum FtpRequest {
    /// Log in (an anonymous session that wants to write).
    Login {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// A shell command: refused, the file server runs none.
    Exec {
        /// Ignored.
        cmd: String,
    },
    /// The entries of a directory (the root when `path` is absent).
    List {
        /// A directory under the root.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
    },
    /// Kind, size and mtime of one entry.
    Stat {
        /// The entry.
        #[serde(alias = "name")]
        path: String,
    },
    /// Download a file from `offset` on.
    Get {
        /// The file.
        #[serde(alias = "name")]
        path: String,
        /// Where to start; non-zero when resuming.
        #[serde(default)]
        offset: u64,
        /// With a non-zero offset: the md5 of the `offset` bytes the client holds. The
        /// server compares its own prefix before it sends a byte more.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        md5: Option<String>,
    },
    /// Upload a file of `size` bytes.
    Put {
        /// Where it goes; its directory must exist.
        #[serde(alias = "name")]
        path: String,
        /// The whole file's size.
        size: u64,
        /// Continue this user's interrupted upload of the same path and size.
        #[serde(default)]
        resume: bool,
        /// Replace an existing file.
        #[serde(default)]
        overwrite: bool,
        /// The modification time to give the stored file, seconds since the epoch.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mtime: Option<u64>,
        /// The body and its trailer follow this request at once, without waiting for
        /// a ready reply; the one reply comes after the trailer. At most
        /// [`crate::limits::MAX_EAGER_PUT`] bytes, never a resume. A refusal reads and
        /// throws away the body first, so a pipelining client stays in step.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        eager: bool,
    },
    /// Make a directory (and, with `parents`, the ones above it).
    Mkdir {
        /// The new directory.
        path: String,
        /// Make missing parents; an existing directory is then no error.
        #[serde(default)]
        parents: bool,
        /// Give the directory this modification time, seconds since the epoch (made
        /// or already there): a tree upload sends it once the directory's files are
        /// written, since each write into a directory changes its mtime.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mtime: Option<u64>,
    },
    /// Delete a file, a symlink, or an empty directory.
    Delete {
        /// What to delete.
        path: String,
    },
    /// Move an entry within the root.
    Rename {
        /// What to move.
        from: String,
        /// Where to.
        to: String,
        /// Replace an existing file at `to`.
        #[serde(default)]
        overwrite: bool,
    },
}

impl FtpRequest {
    /// Whether the request changes the served tree (refused to anonymous and
    /// `--read-only` sessions).
    pub fn writes(&self) -> bool {
        matches!(
            self,
            FtpRequest::Put { .. }
                | FtpRequest::Mkdir { .. }
                | FtpRequest::Delete { .. }
                | FtpRequest::Rename { .. }
        )
    }
}

impl std::fmt::Debug for FtpRequest {
    // Hand-written so that a password never reaches a log line through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FtpRequest::Login { user, .. } => f
                .debug_struct("Login")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            other => {
                let json = serde_json::to_string(other).map_err(|_| std::fmt::Error)?;
                f.write_str(&json)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> std::result::Result<FtpRequest, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn name_is_still_accepted_as_a_one_component_path() {
        assert_eq!(
            parse(r#"{"op":"get","name":"a.bin","offset":3}"#).unwrap(),
            FtpRequest::Get {
                path: "a.bin".into(),
                offset: 3,
                md5: None
            }
        );
        assert_eq!(
            parse(r#"{"op":"put","path":"d/a","size":1}"#).unwrap(),
            FtpRequest::Put {
                path: "d/a".into(),
                size: 1,
                resume: false,
                overwrite: false,
                mtime: None,
                eager: false
            }
        );
        assert_eq!(
            parse(r#"{"op":"list"}"#).unwrap(),
            FtpRequest::List { path: None }
        );
    }

    #[test]
    fn new_ops_parse_and_unknown_fields_are_refused() {
        assert_eq!(
            parse(r#"{"op":"rename","from":"a","to":"d/a"}"#).unwrap(),
            FtpRequest::Rename {
                from: "a".into(),
                to: "d/a".into(),
                overwrite: false
            }
        );
        assert!(parse(r#"{"op":"mkdir","path":"d","parents":true}"#)
            .unwrap()
            .writes());
        assert!(parse(r#"{"op":"delete","path":"d","force":true}"#).is_err());
        assert!(parse(r#"{"op":"rename","from":"a"}"#).is_err());
        assert!(parse(r#"{"op":"chmod","path":"a"}"#).is_err());
    }
}
