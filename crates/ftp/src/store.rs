//! The served directory, as a capability: every lookup, open, create, rename and
//! delete goes through one `cap_std::fs::Dir` opened at start.
//!
//! The tutorials wrote `open(os.path.join(dir, filename), 'wb')` with the name the
//! peer sent: `../../.bashrc` walked out of the directory. The lesson before this one
//! checked where a symlink led and then opened it by name: between the check and the
//! open, a local user who could write the root swapped the link, and the server read a
//! file only its own user could read. Here no check is separate from its open:
//!
//! - a path is split and checked as syntax first (`crate::paths`);
//! - it is then walked one component at a time from the root's descriptor, each
//!   directory opened with `O_NOFOLLOW | O_DIRECTORY` (`open_dir_nofollow`), the last
//!   component opened with `O_NOFOLLOW`: a symlink anywhere on the way fails the open
//!   itself, and what was opened is what is served. Symlinks are listed (`"kind":
//!   "symlink"`) but never followed; a get of one is `forbidden`;
//! - what the open returned is checked with `fstat` on the descriptor: only a regular
//!   file with one link is served (a hard link could name a file from a directory the
//!   client may not read), and special files are opened `O_NONBLOCK`, so a FIFO
//!   cannot hold the thread, then refused;
//! - uploads go through the partial area (`upload`), which the server owns.
//!
//! cap-std resolves every path beneath the directory it was given (with `openat2`'s
//! `RESOLVE_BENEATH` where the kernel has it), so even a path this module did not
//! walk itself could not leave the root.

mod upload;

pub(crate) use upload::Upload;

use crate::paths::split_path;
use crate::wire::{FileInfo, Kind};
use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::MetadataExt;
use cap_std::fs::{Dir, Metadata, OpenOptions, OpenOptionsExt};
use socklab_proto::names::{escape, validate_name};
use socklab_proto::{Error, ErrorCode, Result};
use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

/// The hidden directory inside the root where uploads are written before they are
/// complete. It is never listed or served, and no path may enter it.
pub(crate) const PARTIAL_DIR: &str = ".socklab-partial";

/// The served directory.
#[derive(Debug)]
pub(crate) struct Root {
    /// The path it was opened from, for log lines only: nothing is looked up by it.
    shown: PathBuf,
    dir: Dir,
    partial: Dir,
    /// The paths being uploaded now, whoever uploads them.
    uploading: Mutex<HashSet<String>>,
}

impl Root {
    /// Opens `dir` for serving, once; checks (or makes) the partial area and deletes
    /// what a previous run left there that is no longer worth keeping.
    pub(crate) fn open(dir: &Path, partial_ttl: Duration) -> Result<Root> {
        let root = Dir::open_ambient_dir(dir, cap_std::ambient_authority())
            .map_err(|e| Error::io(format!("opening the served directory {}", dir.display()), e))?;
        let partial = upload::open_partial_area(&root, dir)?;
        let root = Root {
            shown: dir.to_owned(),
            dir: root,
            partial,
            uploading: Mutex::new(HashSet::new()),
        };
        root.clean(partial_ttl);
        Ok(root)
    }

    /// The served directory, as it was named on the command line.
    pub(crate) fn dir(&self) -> &Path {
        &self.shown
    }

    /// Walks to the directory that holds the last component of `path`: each
    /// component opened from the one before without following a symlink. Returns
    /// that directory and the last component.
    fn parent<'p>(&self, path: &'p str) -> Result<(Dir, &'p str)> {
        let parts = split_path(path)?;
        if parts[0] == PARTIAL_DIR {
            return Err(not_found(path));
        }
        let (last, dirs) = parts.split_last().ok_or_else(|| not_found(path))?;
        let mut cur = self.dup()?;
        for (i, part) in dirs.iter().enumerate() {
            cur = cur
                .open_dir_nofollow(part)
                .map_err(|e| lookup_error(&cur, part, &parts[..=i].join("/"), e))?;
        }
        Ok((cur, last))
    }

    /// The directory at `path` (the root for `None`), opened without following a
    /// symlink anywhere.
    fn open_dir(&self, path: Option<&str>) -> Result<Dir> {
        match path {
            None | Some("") | Some(".") => self.dup(),
            Some(path) => {
                let (parent, last) = self.parent(path)?;
                parent
                    .open_dir_nofollow(last)
                    .map_err(|e| lookup_error(&parent, last, path, e))
            }
        }
    }

    fn dup(&self) -> Result<Dir> {
        self.dir
            .try_clone()
            .map_err(|e| Error::io("duplicating the root's descriptor", e))
    }

    /// Opens the regular file at `path` for reading: the file and its size, both
    /// taken from the open descriptor.
    pub(crate) fn open_read(&self, path: &str) -> Result<(File, u64)> {
        let (parent, last) = self.parent(path)?;
        let shown = escape(path);
        let mut opts = OpenOptions::new();
        opts.read(true).follow(FollowSymlinks::No);
        // A FIFO opened for reading would block until a writer came; non-blocking,
        // the open returns and fstat below refuses it. Regular files ignore the flag.
        opts.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
        let file = parent
            .open_with(last, &opts)
            .map_err(|e| lookup_error(&parent, last, path, e))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io(format!("checking {shown}"), e))?;
        if meta.is_dir() {
            return Err(Error::refused(
                ErrorCode::NotFound,
                format!("{shown} is a directory (get -r copies a tree)"),
            ));
        }
        if !meta.is_file() {
            return Err(Error::refused(
                ErrorCode::Forbidden,
                format!("{shown} is not a regular file; special files are not served"),
            ));
        }
        if meta.nlink() > 1 {
            log::warn!("refused {shown}: it has {} hard links", meta.nlink());
            return Err(Error::refused(
                ErrorCode::Forbidden,
                format!("{shown} has other hard links; hard-linked files are not served"),
            ));
        }
        let file = file.into_std();
        // Back to blocking, for sendfile and pread.
        let flags = rustix::fs::fcntl_getfl(&file).map_err(|e| Error::io("fcntl", e.into()))?;
        rustix::fs::fcntl_setfl(&file, flags - rustix::fs::OFlags::NONBLOCK)
            .map_err(|e| Error::io("fcntl", e.into()))?;
        Ok((file, meta.len()))
    }

    /// Kind, size and mtime of the entry at `path` (a symlink is described, not
    /// followed).
    pub(crate) fn stat(&self, path: &str) -> Result<FileInfo> {
        let (parent, last) = self.parent(path)?;
        let meta = parent
            .symlink_metadata(last)
            .map_err(|e| lookup_error(&parent, last, path, e))?;
        info(path, &meta).ok_or_else(|| {
            Error::refused(
                ErrorCode::NotFound,
                format!("{} is a special file; they are not served", escape(path)),
            )
        })
    }

    /// The entries of the directory at `path`, sorted by name. Names that are not
    /// UTF-8 or not valid components, special files and the partial area are left
    /// out (and logged at debug level).
    pub(crate) fn list(&self, path: Option<&str>) -> Result<Vec<FileInfo>> {
        let dir = self.open_dir(path)?;
        let at_root = matches!(path, None | Some("") | Some("."));
        let entries = dir
            .entries()
            .map_err(|e| Error::io(format!("listing {}", shown_dir(path)), e))?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("listing a directory", e))?;
            let Ok(name) = entry.file_name().into_string() else {
                log::debug!("not listing {:?}: not UTF-8", entry.file_name());
                continue;
            };
            if (at_root && name == PARTIAL_DIR) || validate_name(&name).is_err() {
                continue;
            }
            match dir
                .symlink_metadata(&name)
                .ok()
                .and_then(|m| info(&name, &m))
            {
                Some(f) => files.push(f),
                None => log::debug!("not listing {}: a special file", escape(&name)),
            }
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }

    /// Makes the directory `path`; with `parents`, the missing ones above it too, and
    /// an existing directory is no error. With `mtime`, the directory gets it.
    pub(crate) fn mkdir(&self, path: &str, parents: bool, mtime: Option<u64>) -> Result<()> {
        let parts = split_path(path)?;
        if parts[0] == PARTIAL_DIR {
            return Err(forbidden_partial());
        }
        let mut cur = self.dup()?;
        let (last, dirs) = parts.split_last().ok_or_else(|| not_found(path))?;
        for (i, part) in dirs.iter().enumerate() {
            let so_far = parts[..=i].join("/");
            if parents {
                match cur.create_dir(part) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(lookup_error(&cur, part, &so_far, e)),
                }
            }
            // Step in without following a symlink, which also checks that an
            // existing entry is a directory.
            cur = cur
                .open_dir_nofollow(part)
                .map_err(|e| lookup_error(&cur, part, &so_far, e))?;
        }
        match cur.create_dir(last) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && parents => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(Error::refused(
                    ErrorCode::Exists,
                    format!("{} already exists", escape(path)),
                ))
            }
            Err(e) => return Err(lookup_error(&cur, last, path, e)),
        }
        // Opened without following a symlink: what is there must be a directory, and
        // its mtime is set through the descriptor, never through a name.
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let made = rustix::fs::openat(&cur, *last, flags, Mode::empty())
            .map_err(|e| lookup_error(&cur, last, path, e.into()))?;
        if let Some(secs) = mtime {
            let times = rustix::fs::Timestamps {
                last_access: rustix::fs::Timespec {
                    tv_sec: 0,
                    tv_nsec: rustix::fs::UTIME_OMIT,
                },
                last_modification: rustix::fs::Timespec {
                    tv_sec: i64::try_from(secs).unwrap_or(i64::MAX),
                    tv_nsec: 0,
                },
            };
            rustix::fs::futimens(&made, &times).map_err(|e| {
                Error::io(format!("setting the mtime of {}", escape(path)), e.into())
            })?;
            // The end of a tree upload's directory: the names its eager puts made
            // are made durable here, once (see `Upload::commit`).
            rustix::fs::fsync(&made).map_err(|e| {
                Error::io(format!("syncing the directory {}", escape(path)), e.into())
            })?;
        }
        Ok(())
    }

    /// Deletes the file, symlink or empty directory at `path`.
    pub(crate) fn delete(&self, path: &str) -> Result<()> {
        let (parent, last) = self.parent(path)?;
        let meta = parent
            .symlink_metadata(last)
            .map_err(|e| lookup_error(&parent, last, path, e))?;
        let shown = escape(path);
        let gone = if meta.is_dir() {
            parent.remove_dir(last)
        } else {
            parent.remove_file(last)
        };
        gone.map_err(|e| match rustix::io::Errno::from_io_error(&e) {
            Some(rustix::io::Errno::NOTEMPTY) => Error::refused(
                ErrorCode::Exists,
                format!("{shown} is a directory that is not empty; delete what is in it first"),
            ),
            _ if e.kind() == io::ErrorKind::NotFound => not_found(path),
            _ => Error::io(format!("deleting {shown}"), e),
        })
    }

    /// Moves `from` to `to`, both within the root. Without `overwrite` an existing
    /// `to` is refused (`exists`) and nothing moves; a directory is never replaced.
    pub(crate) fn rename(&self, from: &str, to: &str, overwrite: bool) -> Result<()> {
        let (src_dir, src) = self.parent(from)?;
        let (dst_dir, dst) = self.parent(to)?;
        src_dir
            .symlink_metadata(src)
            .map_err(|e| lookup_error(&src_dir, src, from, e))?;
        match dst_dir.symlink_metadata(dst) {
            Ok(m) if m.is_dir() => {
                return Err(Error::refused(
                    ErrorCode::Exists,
                    format!("{} is a directory", escape(to)),
                ))
            }
            Ok(_) if !overwrite => {
                return Err(Error::refused(
                    ErrorCode::Exists,
                    format!(
                        "{} already exists (rename with overwrite replaces it)",
                        escape(to)
                    ),
                ))
            }
            _ => {}
        }
        if overwrite {
            src_dir.rename(src, &dst_dir, dst)
        } else {
            // renameat2(RENAME_NOREPLACE): the no-clobber check and the move are one
            // step, so a file that appears meanwhile is not replaced.
            rustix::fs::renameat_with(
                &src_dir,
                src,
                &dst_dir,
                dst,
                rustix::fs::RenameFlags::NOREPLACE,
            )
            .map_err(io::Error::from)
        }
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => {
                Error::refused(ErrorCode::Exists, format!("{} already exists", escape(to)))
            }
            _ => Error::io(format!("renaming {} to {}", escape(from), escape(to)), e),
        })
    }
}

/// Describes an entry, or `None` for a special file.
fn info(name: &str, meta: &Metadata) -> Option<FileInfo> {
    let kind = if meta.is_symlink() {
        Kind::Symlink
    } else if meta.is_dir() {
        Kind::Dir
    } else if meta.is_file() {
        Kind::File
    } else {
        return None;
    };
    let mtime = meta
        .modified()
        .ok()
        .map(|t| t.into_std())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    Some(FileInfo {
        name: name.to_owned(),
        kind,
        size: if kind == Kind::File { meta.len() } else { 0 },
        mtime,
    })
}

fn shown_dir(path: Option<&str>) -> String {
    path.map_or_else(|| "the served directory".into(), escape)
}

fn not_found(path: &str) -> Error {
    Error::refused(
        ErrorCode::NotFound,
        format!("no such file or directory: {}", escape(path)),
    )
}

fn forbidden_partial() -> Error {
    Error::refused(
        ErrorCode::Forbidden,
        format!("{PARTIAL_DIR} is the server's own area for unfinished uploads"),
    )
}

/// Explains why opening `part` (in `dir`, at `path`) failed. The open already
/// refused what it had to; this `lstat` only picks the words, so racing it changes
/// nothing but the message.
fn lookup_error(dir: &Dir, part: &str, path: &str, e: io::Error) -> Error {
    let shown = escape(path);
    if e.kind() == io::ErrorKind::NotFound {
        return not_found(path);
    }
    // ELOOP is what O_NOFOLLOW answers for a symlink, whatever is there by now.
    let looped = rustix::io::Errno::from_io_error(&e) == Some(rustix::io::Errno::LOOP);
    match dir.symlink_metadata(part) {
        _ if looped => {
            log::warn!("refused {shown}: a symlink (symlinks are not followed)");
            symlink_refused(&shown)
        }
        Ok(m) if m.is_symlink() => {
            log::warn!("refused {shown}: a symlink (symlinks are not followed)");
            symlink_refused(&shown)
        }
        Ok(m)
            if !m.is_dir()
                && rustix::io::Errno::from_io_error(&e) == Some(rustix::io::Errno::NOTDIR) =>
        {
            Error::refused(ErrorCode::NotFound, format!("{shown} is not a directory"))
        }
        _ if e.kind() == io::ErrorKind::PermissionDenied => Error::refused(
            ErrorCode::Forbidden,
            format!("{shown}: the server may not read it"),
        ),
        _ => Error::io(format!("opening {shown}"), e),
    }
}

fn symlink_refused(shown: &str) -> Error {
    Error::refused(
        ErrorCode::Forbidden,
        format!("{shown} is a symlink; the server does not follow symlinks"),
    )
}

/// fsyncs the directory `dir` so the names made in it survive a power cut.
///
/// A cap-std `Dir` is an `O_PATH` descriptor, on which fsync(2) fails with `EBADF`:
/// the directory is opened again, read-only, through that descriptor.
pub(crate) fn fsync_dir(dir: &Dir) -> io::Result<()> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let readable = rustix::fs::openat(dir, ".", flags, Mode::empty())?;
    rustix::fs::fsync(&readable)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_std_dir_is_fsynced_through_a_readable_descriptor() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).unwrap();
        // The premise: fsync on the Dir's own (O_PATH) descriptor is refused, so a
        // commit that used it never made a name durable.
        assert_eq!(
            rustix::fs::fsync(&dir).map_err(|e| e.raw_os_error()),
            Err(rustix::io::Errno::BADF.raw_os_error())
        );
        fsync_dir(&dir).expect("fsync of the directory through a readable descriptor");
    }
}
