//! The served directory: name checks, symlink confinement, and atomic uploads.
//!
//! The tutorials wrote `open(os.path.join(dir, filename), 'wb')` with the name the
//! peer sent: `../../.bashrc` walked out of the directory, and a dropped connection
//! left half a file under the real name. Here:
//!
//! - a name is one component ([`validate_name`]), refused with `invalid_name` otherwise;
//! - a symlink inside the root is followed only when its target, fully resolved, is a
//!   regular file inside the root; one that leads outside is `forbidden`;
//! - an upload streams into `ROOT/.socklab-partial/<md5 of name>.part`, on the same file
//!   system as its final name, is hashed as it arrives, checked against the trailer,
//!   fsynced, and only then linked (or, with overwrite, renamed) into place. Whatever
//!   happens before that, nothing exists under the final name;
//! - an interrupted upload stays in `.socklab-partial` with a `.meta` sidecar (its name
//!   and size) so `put --resume` can continue; partials older than the partial TTL
//!   (`--partial-ttl`) and stray files are deleted when the server starts;
//! - one upload per name at a time: a second gets `busy`.
//!
//! A production server would also open files relative to a directory handle with
//! `openat2(RESOLVE_BENEATH)`, closing the small window between the symlink check and
//! the `open` that a local user with write access to the root could race.

use crate::wire::FileInfo;
use serde::{Deserialize, Serialize};
use socklab_proto::checksum::{hash_prefix, md5_hex, Md5};
use socklab_proto::names::{escape, validate_name};
use socklab_proto::{Error, ErrorCode, Result};
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The hidden directory inside the root where uploads are written before they are
/// complete. It is never listed or served.
pub(crate) const PARTIAL_DIR: &str = ".socklab-partial";

/// The sidecar of a partial upload: which name and size it belongs to, so a resume
/// continues only the same transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PartialMeta {
    name: String,
    size: u64,
}

/// The served directory.
#[derive(Debug)]
pub(crate) struct Root {
    dir: PathBuf,
    partial: PathBuf,
    uploading: Mutex<HashSet<String>>,
}

impl Root {
    /// Opens `dir` for serving: resolves it once (so every later check compares
    /// against its real path), creates the partial directory, and deletes what a
    /// previous run left there that is no longer worth keeping.
    pub(crate) fn open(dir: &Path, partial_ttl: Duration) -> Result<Root> {
        let real = fs::canonicalize(dir)
            .map_err(|e| Error::io(format!("opening the served directory {}", dir.display()), e))?;
        if !real.is_dir() {
            return Err(Error::Usage(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        let partial = real.join(PARTIAL_DIR);
        match fs::create_dir(&partial) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(format!("creating {}", partial.display()), e)),
        }
        let meta = fs::symlink_metadata(&partial)
            .map_err(|e| Error::io(format!("checking {}", partial.display()), e))?;
        if !meta.is_dir() {
            return Err(Error::Usage(format!(
                "{} must be a directory (it holds unfinished uploads)",
                partial.display()
            )));
        }
        let root = Root {
            dir: real,
            partial,
            uploading: Mutex::new(HashSet::new()),
        };
        root.clean(partial_ttl);
        Ok(root)
    }

    /// The served directory's real path.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Deletes stray files and partial uploads older than `ttl` from the partial
    /// directory. Runs at start, before any connection, so it races nobody.
    fn clean(&self, ttl: Duration) {
        let Ok(entries) = fs::read_dir(&self.partial) else {
            return;
        };
        let now = SystemTime::now();
        let mut removed = 0;
        let mut kept = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // A partial is a `KEY.part` + `KEY.meta` pair; judge the pair by its .part.
            let (key, is_part) = match (name.strip_suffix(".part"), name.strip_suffix(".meta")) {
                (Some(k), _) => (k.to_owned(), true),
                (_, Some(k)) => (k.to_owned(), false),
                _ => (String::new(), false),
            };
            let part = self.partial.join(format!("{key}.part"));
            let meta = self.partial.join(format!("{key}.meta"));
            let fresh = fs::metadata(&part)
                .and_then(|m| m.modified())
                .map(|t| now.duration_since(t).unwrap_or_default() < ttl)
                .unwrap_or(false);
            let keep = !key.is_empty() && fresh && meta.is_file() && part.is_file();
            if keep {
                kept += usize::from(is_part);
                continue;
            }
            let gone = if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            match gone {
                Ok(()) => removed += 1,
                Err(e) => log::warn!("cannot remove {}: {e}", path.display()),
            }
        }
        if removed > 0 || kept > 0 {
            log::info!(
                "{}: removed {removed} stale temp file(s), kept {kept} resumable upload(s)",
                self.partial.display()
            );
        }
    }

    /// The real path of the regular file `name`, checked to stay inside the root.
    pub(crate) fn resolve(&self, name: &str) -> Result<PathBuf> {
        validate_name(name)?;
        let shown = escape(name);
        let path = self.dir.join(name);
        let meta = fs::symlink_metadata(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => {
                Error::refused(ErrorCode::NotFound, format!("no such file: {shown}"))
            }
            _ => Error::io(format!("checking {shown}"), e),
        })?;
        let path = if meta.file_type().is_symlink() {
            // Resolve every link in the chain, then insist the result is still ours.
            let real = fs::canonicalize(&path).map_err(|_| {
                Error::refused(
                    ErrorCode::NotFound,
                    format!("{shown} is a dangling symlink"),
                )
            })?;
            if !real.starts_with(&self.dir) {
                log::warn!(
                    "refused {shown}: a symlink to {}, outside the root",
                    real.display()
                );
                return Err(Error::refused(
                    ErrorCode::Forbidden,
                    format!("{shown} is a symlink that leads outside the served directory"),
                ));
            }
            if real.starts_with(&self.partial) {
                return Err(Error::refused(
                    ErrorCode::NotFound,
                    format!("no such file: {shown}"),
                ));
            }
            real
        } else {
            path
        };
        let meta = fs::metadata(&path).map_err(|e| Error::io(format!("checking {shown}"), e))?;
        if !meta.is_file() {
            return Err(Error::refused(
                ErrorCode::NotFound,
                format!("{shown} is not a regular file"),
            ));
        }
        Ok(path)
    }

    /// Opens `name` for reading: the file and its size, taken from the open handle.
    pub(crate) fn open_read(&self, name: &str) -> Result<(File, u64)> {
        let path = self.resolve(name)?;
        let file =
            File::open(&path).map_err(|e| Error::io(format!("opening {}", escape(name)), e))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io(format!("checking {}", escape(name)), e))?;
        if !meta.is_file() {
            return Err(Error::refused(
                ErrorCode::NotFound,
                format!("{} is not a regular file", escape(name)),
            ));
        }
        Ok((file, meta.len()))
    }

    /// Size and mtime of one file.
    pub(crate) fn stat(&self, name: &str) -> Result<FileInfo> {
        let path = self.resolve(name)?;
        let meta =
            fs::metadata(&path).map_err(|e| Error::io(format!("checking {}", escape(name)), e))?;
        Ok(info(name, &meta))
    }

    /// Every regular file a client may get, sorted by name. Names that are not UTF-8
    /// or not valid single components, symlinks leading outside, directories and the
    /// partial directory are left out (and logged at debug level).
    pub(crate) fn list(&self) -> Result<Vec<FileInfo>> {
        let entries = fs::read_dir(&self.dir)
            .map_err(|e| Error::io(format!("listing {}", self.dir.display()), e))?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("listing the served directory", e))?;
            let Ok(name) = entry.file_name().into_string() else {
                log::debug!("not listing {:?}: not UTF-8", entry.file_name());
                continue;
            };
            match self
                .resolve(&name)
                .and_then(|p| fs::metadata(p).map_err(|e| Error::io("checking a listed file", e)))
            {
                Ok(meta) => files.push(info(&name, &meta)),
                Err(e) => log::debug!("not listing {}: {e}", escape(&name)),
            }
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }

    /// Claims `name` for one upload; the claim ends when the guard drops. A second
    /// upload of the same name meanwhile gets `busy`, so two clients never interleave
    /// their bytes in one partial file.
    pub(crate) fn claim(&self, name: &str) -> Result<Claim<'_>> {
        let mut set = self
            .uploading
            .lock()
            .map_err(|_| Error::Other("upload registry poisoned".into()))?;
        if !set.insert(name.to_owned()) {
            return Err(Error::refused(
                ErrorCode::Busy,
                format!(
                    "another client is uploading {} right now; try again later",
                    escape(name)
                ),
            ));
        }
        Ok(Claim {
            root: self,
            name: name.to_owned(),
        })
    }

    /// Refuses with `exists` when `name` is taken and `overwrite` is false. A
    /// directory is never replaced.
    pub(crate) fn check_free(&self, name: &str, overwrite: bool) -> Result<()> {
        match fs::symlink_metadata(self.dir.join(name)) {
            Err(_) => Ok(()),
            Ok(meta) if meta.is_dir() => Err(Error::refused(
                ErrorCode::Exists,
                format!("{} is a directory on the server", escape(name)),
            )),
            Ok(_) if overwrite => Ok(()),
            Ok(_) => Err(Error::refused(
                ErrorCode::Exists,
                format!("{} already exists on the server", escape(name)),
            )),
        }
    }

    /// Starts (or with `resume`, continues) the upload of `name`, `size` bytes.
    /// The caller holds the [`Claim`] of `name`.
    pub(crate) fn begin_upload(&self, name: &str, size: u64, resume: bool) -> Result<Upload> {
        let key = md5_hex(name.as_bytes());
        let part = self.partial.join(format!("{key}.part"));
        let meta_path = self.partial.join(format!("{key}.meta"));
        let want = PartialMeta {
            name: name.to_owned(),
            size,
        };
        let final_path = self.dir.join(name);
        if resume {
            let same = fs::read(&meta_path)
                .ok()
                .and_then(|b| serde_json::from_slice::<PartialMeta>(&b).ok())
                .is_some_and(|m| m == want);
            let held = fs::metadata(&part).map(|m| m.len()).ok();
            if let (true, Some(held)) = (same, held) {
                if held <= size {
                    let mut file = OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open(&part)
                        .map_err(|e| Error::io("opening a partial upload", e))?;
                    // Hash what we hold; the file position ends at `held`, where the
                    // rest of the upload is written.
                    let hasher = hash_prefix(&mut file, held)
                        .map_err(|e| Error::io("reading a partial upload", e))?;
                    return Ok(Upload {
                        file,
                        part,
                        meta: meta_path,
                        final_path,
                        offset: held,
                        hasher,
                    });
                }
            }
        }
        let meta_json = serde_json::to_vec(&want)
            .map_err(|e| Error::Other(format!("encoding a sidecar: {e}")))?;
        fs::write(&meta_path, meta_json).map_err(|e| Error::io("writing a partial sidecar", e))?;
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&part)
            .map_err(|e| Error::io("creating a partial upload", e))?;
        let hasher = Md5::default();
        Ok(Upload {
            file,
            part,
            meta: meta_path,
            final_path,
            offset: 0,
            hasher,
        })
    }
}

/// The right to upload one name; released on drop.
#[derive(Debug)]
pub(crate) struct Claim<'a> {
    root: &'a Root,
    name: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Ok(mut set) = self.root.uploading.lock() {
            set.remove(&self.name);
        }
    }
}

/// An upload in progress: its partial file, open at `offset`.
#[derive(Debug)]
pub(crate) struct Upload {
    /// The partial file, positioned where the next byte goes.
    pub(crate) file: File,
    part: PathBuf,
    meta: PathBuf,
    final_path: PathBuf,
    /// Bytes already held from an interrupted upload.
    pub(crate) offset: u64,
    /// The md5 state over those `offset` bytes.
    pub(crate) hasher: Md5,
}

impl Upload {
    /// Makes the complete, verified upload visible under its final name: fsync the
    /// data, then link it into place (which fails if the name appeared meanwhile) or,
    /// with `overwrite`, rename it over the old file, then fsync the directory so the
    /// new name survives a power cut.
    pub(crate) fn commit(self, overwrite: bool) -> Result<()> {
        self.file
            .sync_all()
            .map_err(|e| Error::io("syncing an upload", e))?;
        if overwrite {
            fs::rename(&self.part, &self.final_path)
                .map_err(|e| Error::io("renaming an upload into place", e))?;
        } else {
            // link(2) never replaces an existing name: the "no clobber" check and the
            // publish are one atomic step.
            fs::hard_link(&self.part, &self.final_path).map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => {
                    Error::refused(ErrorCode::Exists, "the name was taken while the upload ran")
                }
                _ => Error::io("linking an upload into place", e),
            })?;
            let _ = fs::remove_file(&self.part);
        }
        let _ = fs::remove_file(&self.meta);
        if let Some(dir) = self.final_path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
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
        let _ = fs::remove_file(&self.part);
        let _ = fs::remove_file(&self.meta);
    }
}

fn info(name: &str, meta: &fs::Metadata) -> FileInfo {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    FileInfo {
        name: name.to_owned(),
        size: meta.len(),
        mtime,
    }
}
