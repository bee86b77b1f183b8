//! Remote paths: relative, `/`-separated, every component one safe name.
//!
//! A path from the network is split here, and only here, before any lookup: it may not
//! be absolute, may not hold an empty, `.` or `..` component, and each component obeys
//! `socklab_proto::names::validate_name`. Depth and length are capped
//! ([`MAX_PATH_DEPTH`], [`MAX_PATH_LEN`]). Both ends check, with the same function, so a
//! hostile server cannot make the client write outside its target either.
//!
//! This is a syntax check only. What a valid path leads to (a symlink, a directory
//! that is not there) is decided by the server while it walks the path through its
//! root, one `openat` per component (`crate::store`).

use crate::limits::{MAX_PATH_DEPTH, MAX_PATH_LEN};
use socklab_proto::names::{escape, validate_name};
use socklab_proto::{Error, Result};

/// Splits a remote path into its components, or refuses it with `invalid_name`.
pub fn split_path(path: &str) -> Result<Vec<&str>> {
    let refuse = |reason: &'static str| {
        Err(Error::InvalidName {
            name: escape(path),
            reason,
        })
    };
    if path.is_empty() {
        return refuse("it is empty");
    }
    if path.len() > MAX_PATH_LEN {
        return refuse("it is longer than 4096 bytes");
    }
    if path.starts_with('/') {
        return refuse("it is absolute (paths are relative to the served directory)");
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() > MAX_PATH_DEPTH {
        return refuse("it has more than 64 components");
    }
    for part in &parts {
        if part.is_empty() {
            return refuse("it has an empty component (`//` or a trailing `/`)");
        }
        if *part == ".." {
            return refuse("it has a `..` component");
        }
        if let Err(Error::InvalidName { reason, .. }) = validate_name(part) {
            return refuse(reason);
        }
    }
    Ok(parts)
}

/// Checks a remote path without keeping its parts.
pub fn validate_path(path: &str) -> Result<()> {
    split_path(path).map(drop)
}

/// `dir` and `name` joined, for a path built from a listing.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir == "." {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_hostile_paths() {
        let deep = vec!["a"; MAX_PATH_DEPTH + 1].join("/");
        let long = vec!["a".repeat(200); 21].join("/");
        for path in [
            "",
            "/",
            "/etc/passwd",
            "..",
            "../x",
            "a/../b",
            "a/..",
            "a//b",
            "a/",
            "./a",
            "a/./b",
            "a\\b",
            "a/\0",
            "a/\n",
            "a/\x1b[2J",
            &deep,
            &long,
        ] {
            match split_path(path) {
                Err(Error::InvalidName { .. }) => {}
                other => panic!("{path:?} was not refused: {other:?}"),
            }
        }
    }

    #[test]
    fn accepts_relative_paths() {
        let deepest = vec!["a"; MAX_PATH_DEPTH].join("/");
        for (path, n) in [
            ("a", 1),
            ("数据/报告 1.txt", 2),
            (".hidden/..foo", 2),
            (&deepest, MAX_PATH_DEPTH),
        ] {
            assert_eq!(split_path(path).unwrap().len(), n, "{path}");
        }
    }
}
