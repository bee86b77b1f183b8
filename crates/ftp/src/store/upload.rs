//! Uploads: the partial area, claims, and publishing a verified file atomically.
//!
//! - An upload streams into `ROOT/.socklab-partial/<key>.part`, on the same file
//!   system as its final name, is hashed as it arrives, checked against the trailer,
//!   fsynced, and only then linked (or, with overwrite, renamed) into place. Whatever
//!   happens before that, nothing exists under the final name.
//! - The partial area is the server's own: made with mode 0700, opened without
//!   following a symlink, and if it already exists it must be a directory owned by the
//!   server's user with no group or other access, or the server refuses to start. A
//!   local user who could write the root could otherwise have planted it full of
//!   symlinks to the server user's files, and the next upload would have written
//!   through them. Inside it every file is opened `O_NOFOLLOW` too.
//! - An interrupted upload stays there with a `.meta` sidecar (user, path, size), keyed
//!   by the md5 of user and path: one user cannot see, continue or delete another's.
//!   Partials older than the TTL (`--partial-ttl`) and stray entries are deleted when
//!   the server starts.
//! - One upload per path at a time, whoever sends it: a second gets `busy`.

use super::{lookup_error, Root, PARTIAL_DIR};
use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::MetadataExt;
use cap_std::fs::{Dir, DirBuilder, DirBuilderExt, OpenOptions};
use serde::{Deserialize, Serialize};
use socklab_proto::checksum::{hash_prefix, md5_hex, Md5};
use socklab_proto::names::escape;
use socklab_proto::{Error, ErrorCode, Result};
use std::fs::File;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The sidecar of a partial upload: whose it is and which path and size it belongs
/// to, so a resume continues only the same transfer of the same user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PartialMeta {
    user: String,
    path: String,
    size: u64,
}

/// Makes (mode 0700) or checks the partial area and opens it without following a
/// symlink. Anything but a directory of ours that nobody else may enter stops the
/// server, with the reason.
pub(super) fn open_partial_area(root: &Dir, shown: &Path) -> Result<Dir> {
    let place = shown.join(PARTIAL_DIR);
    let refuse = |why: String| {
        Err(Error::Usage(format!(
            "refusing to start: {} {why}. It holds unfinished uploads and must be the \
             server's own (a directory owned by uid {}, mode 0700); remove it and the \
             server makes a new one",
            place.display(),
            rustix::process::geteuid().as_raw()
        )))
    };
    let mut builder = DirBuilder::new();
    builder.mode(0o700);
    match root.create_dir_with(PARTIAL_DIR, &builder) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io(format!("creating {}", place.display()), e)),
    }
    let dir = match root.open_dir_nofollow(PARTIAL_DIR) {
        Ok(d) => d,
        Err(_) => {
            return match root.symlink_metadata(PARTIAL_DIR) {
                Ok(m) if m.is_symlink() => refuse("is a symlink".into()),
                Ok(_) => refuse("is not a directory".into()),
                Err(e) => Err(Error::io(format!("opening {}", place.display()), e)),
            }
        }
    };
    let meta = dir
        .dir_metadata()
        .map_err(|e| Error::io(format!("checking {}", place.display()), e))?;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return refuse(format!(
            "is owned by uid {}, not by this server's",
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return refuse(format!(
            "has mode {:04o}: others may enter it",
            meta.mode() & 0o7777
        ));
    }
    Ok(dir)
}

/// Where a user's partial upload of a path lives: `KEY.part` and `KEY.meta`.
fn partial_key(user: &str, path: &str) -> String {
    md5_hex(format!("{user}\0{path}").as_bytes())
}

fn open_options(write: bool, create: bool) -> OpenOptions {
    let mut opts = OpenOptions::new();
    opts.read(true)
        .write(write)
        .create(create)
        .follow(FollowSymlinks::No);
    opts
}

impl Root {
    /// Deletes stray entries and partial uploads older than `ttl` from the partial
    /// area. Runs at start, before any connection, so it races nobody.
    pub(super) fn clean(&self, ttl: Duration) {
        let Ok(entries) = self.partial.entries() else {
            return;
        };
        let now = SystemTime::now();
        let (mut removed, mut kept) = (0, 0);
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let key = name
                .strip_suffix(".part")
                .or_else(|| name.strip_suffix(".meta"))
                .unwrap_or("");
            let regular = |n: String| {
                self.partial
                    .symlink_metadata(&n)
                    .ok()
                    .filter(|m| m.is_file())
            };
            let fresh = regular(format!("{key}.part"))
                .and_then(|m| m.modified().ok())
                .is_some_and(|t| now.duration_since(t.into_std()).unwrap_or_default() < ttl);
            if !key.is_empty() && fresh && regular(format!("{key}.meta")).is_some() {
                kept += usize::from(name.ends_with(".part"));
                continue;
            }
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            let gone = if is_dir {
                self.partial.remove_dir_all(&name)
            } else {
                self.partial.remove_file(&name)
            };
            match gone {
                Ok(()) => removed += 1,
                Err(e) => log::warn!("cannot remove {PARTIAL_DIR}/{}: {e}", escape(&name)),
            }
        }
        if removed > 0 || kept > 0 {
            log::info!(
                "{PARTIAL_DIR}: removed {removed} stale temp file(s), kept {kept} resumable upload(s)"
            );
        }
    }

    /// Claims `path` for one upload; the claim ends when the guard drops. A second
    /// upload of the same path meanwhile, by anyone, gets `busy`: two clients never
    /// interleave their bytes, and nobody's upload replaces another's in flight.
    pub(crate) fn claim(&self, path: &str) -> Result<Claim<'_>> {
        let mut set = self
            .uploading
            .lock()
            .map_err(|_| Error::Other("upload registry poisoned".into()))?;
        if !set.insert(path.to_owned()) {
            return Err(Error::refused(
                ErrorCode::Busy,
                format!(
                    "another upload of {} is in progress; try again when it ends",
                    escape(path)
                ),
            ));
        }
        Ok(Claim {
            root: self,
            path: path.to_owned(),
        })
    }

    /// Starts (or with `resume`, continues) `user`'s upload of `path`, `size` bytes.
    /// Refuses with `exists` when the path is taken and `overwrite` is false (a
    /// directory is never replaced). The caller holds the [`Claim`] of `path`. Without
    /// `sidecar` (an eager put, which never resumes) no `.meta` is written: what is
    /// left of it if it stops is not resumable, and is cleaned at the next start.
    pub(crate) fn begin_upload(
        &self,
        user: &str,
        path: &str,
        size: u64,
        (resume, overwrite): (bool, bool),
        sidecar: bool,
    ) -> Result<Upload> {
        let (parent, last) = self.parent(path)?;
        match parent.symlink_metadata(last) {
            Err(_) => {}
            Ok(m) if m.is_dir() => {
                return Err(Error::refused(
                    ErrorCode::Exists,
                    format!("{} is a directory on the server", escape(path)),
                ))
            }
            Ok(_) if overwrite => {}
            Ok(_) => {
                return Err(Error::refused(
                    ErrorCode::Exists,
                    format!("{} already exists on the server", escape(path)),
                ))
            }
        }
        let key = partial_key(user, path);
        let want = PartialMeta {
            user: user.to_owned(),
            path: path.to_owned(),
            size,
        };
        let part = format!("{key}.part");
        let meta = format!("{key}.meta");
        let upload = |file, offset, hasher| -> Result<Upload> {
            Ok(Upload {
                file,
                partial: self.dup_partial()?,
                parent,
                name: last.to_owned(),
                part: part.clone(),
                meta: meta.clone(),
                offset,
                hasher,
            })
        };
        if resume {
            let same = self
                .partial
                .open_with(&meta, &open_options(false, false))
                .ok()
                .and_then(|f| serde_json::from_reader::<_, PartialMeta>(f.into_std()).ok())
                .is_some_and(|m| m == want);
            let held = self
                .partial
                .open_with(&part, &open_options(true, false))
                .ok()
                .map(|f| f.into_std())
                .and_then(|f| Some((f.metadata().ok()?.len(), f)));
            if let (true, Some((held, mut file))) = (same, held) {
                if held <= size {
                    // Hash what we hold; the file position ends at `held`, where the
                    // rest of the upload is written.
                    let hasher = hash_prefix(&mut file, held)
                        .map_err(|e| Error::io("reading a partial upload", e))?;
                    return upload(file, held, hasher);
                }
            }
        }
        let meta_json = serde_json::to_vec(&want)
            .map_err(|e| Error::Other(format!("encoding a sidecar: {e}")))?;
        let mut opts = open_options(true, true);
        opts.truncate(true);
        if sidecar {
            let mut meta_file = self
                .partial
                .open_with(&meta, &opts)
                .map_err(|e| Error::io("writing a partial sidecar", e))?;
            io::Write::write_all(&mut meta_file, &meta_json)
                .map_err(|e| Error::io("writing a partial sidecar", e))?;
        }
        let file = self
            .partial
            .open_with(&part, &opts)
            .map_err(|e| Error::io("creating a partial upload", e))?;
        upload(file.into_std(), 0, Md5::default())
    }

    fn dup_partial(&self) -> Result<Dir> {
        self.partial
            .try_clone()
            .map_err(|e| Error::io("duplicating the partial area's descriptor", e))
    }
}

/// The right to upload one path; released on drop.
#[derive(Debug)]
pub(crate) struct Claim<'a> {
    root: &'a Root,
    path: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Ok(mut set) = self.root.uploading.lock() {
            set.remove(&self.path);
        }
    }
}

/// An upload in progress: its partial file, open at `offset`.
#[derive(Debug)]
pub(crate) struct Upload {
    /// The partial file, positioned where the next byte goes.
    pub(crate) file: File,
    partial: Dir,
    /// The directory the file goes into, opened when the upload began.
    parent: Dir,
    name: String,
    part: String,
    meta: String,
    /// Bytes already held from an interrupted upload.
    pub(crate) offset: u64,
    /// The md5 state over those `offset` bytes.
    pub(crate) hasher: Md5,
}

impl Upload {
    /// Makes the complete, verified upload visible under its final name: set the
    /// mtime asked for, fsync the data, then link it into place (which fails if the
    /// name appeared meanwhile) or, with `overwrite`, rename it over the old file,
    /// then, with `sync_dir`, fsync the directory so the new name survives a power
    /// cut. (An eager put of a tree leaves that to the `mkdir` with `mtime` that
    /// ends each directory: one fsync per directory, not per file.)
    pub(crate) fn commit(self, overwrite: bool, mtime: Option<u64>, sync_dir: bool) -> Result<()> {
        let file = &self.file;
        if let Some(secs) = mtime {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            file.set_modified(t)
                .map_err(|e| Error::io("setting an upload's mtime", e))?;
        }
        file.sync_all()
            .map_err(|e| Error::io("syncing an upload", e))?;
        if overwrite {
            self.partial
                .rename(&self.part, &self.parent, &self.name)
                .map_err(|e| Error::io("renaming an upload into place", e))?;
        } else {
            // link(2) never replaces an existing name: the "no clobber" check and the
            // publish are one atomic step.
            self.partial
                .hard_link(&self.part, &self.parent, &self.name)
                .map_err(|e| match e.kind() {
                    io::ErrorKind::AlreadyExists => Error::refused(
                        ErrorCode::Exists,
                        format!(
                            "{} was created on the server while the upload ran",
                            escape(&self.name)
                        ),
                    ),
                    _ => lookup_error(&self.parent, &self.name, &self.name, e),
                })?;
            let _ = self.partial.remove_file(&self.part);
        }
        let _ = self.partial.remove_file(&self.meta);
        if sync_dir {
            super::fsync_dir(&self.parent)
                .map_err(|e| Error::io("syncing the directory of an upload", e))?;
        }
        Ok(())
    }

    /// Keeps what arrived for a later `put --resume`: flushes it to disk.
    pub(crate) fn keep(self) -> u64 {
        let _ = self.file.sync_data();
        self.file.metadata().map(|m| m.len()).unwrap_or(0)
    }

    /// Deletes the partial upload: it cannot become a good file.
    pub(crate) fn discard(self) {
        let _ = self.partial.remove_file(&self.part);
        let _ = self.partial.remove_file(&self.meta);
    }
}
