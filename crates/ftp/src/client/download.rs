//! The local side of a download: `PATH.socklab-part` next to the target, written and
//! hashed as the body arrives, and published under `PATH` only once the trailer's md5
//! matches, by `link(2)` (which never replaces a file) or, with `--overwrite`, by
//! `rename(2)`. Whatever happens before that, `PATH` is untouched.

use socklab_proto::checksum::{hash_prefix, Md5};
use socklab_proto::names::escape;
use socklab_proto::{Error, ErrorCode, Result};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// The suffix of a download in progress, next to its target.
const PART_SUFFIX: &str = ".socklab-part";

/// Where a download of `dest` is written until it is verified.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(PART_SUFFIX);
    PathBuf::from(s)
}

/// Refuses with `exists` to download onto `dest` when something is there and
/// `overwrite` was not asked for.
pub(super) fn check_target(dest: &Path, overwrite: bool) -> Result<()> {
    if !overwrite && fs::symlink_metadata(dest).is_ok() {
        return Err(Error::refused(
            ErrorCode::Exists,
            format!("{} already exists here", dest.display()),
        ));
    }
    Ok(())
}

/// The refusal of a `get` without `--resume` onto a partial download of `name`,
/// saying how to continue it.
pub(super) fn partial_in_the_way(name: &str, part: &Path) -> Error {
    Error::refused(
        ErrorCode::Exists,
        format!(
            "a partial download of {} is kept in {}: run the same get with --resume to continue it, or delete it to start over",
            escape(name),
            part.display()
        ),
    )
}

/// A download being written: the partial file, positioned where the next byte goes.
#[derive(Debug)]
pub(super) struct PartFile {
    path: PathBuf,
    file: File,
}

impl PartFile {
    /// Creates `path` afresh when `offset` is 0; otherwise reopens it and hashes its
    /// first `offset` bytes, the prefix a resume keeps. Returns the file, positioned
    /// at `offset`, and the hasher covering the bytes before it.
    pub(super) fn open(path: PathBuf, offset: u64) -> Result<(PartFile, Md5)> {
        if offset == 0 {
            let file = File::create(&path)
                .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
            return Ok((PartFile { path, file }, Md5::default()));
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let hasher = hash_prefix(&mut file, offset)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        Ok((PartFile { path, file }, hasher))
    }

    /// The file, to write the body into.
    pub(super) fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Keeps what arrived for `get --resume`: flushes it to disk. Returns how many
    /// bytes it holds, and where.
    pub(super) fn keep(self) -> (u64, PathBuf) {
        let _ = self.file.sync_data();
        let held = self.file.metadata().map_or(0, |m| m.len());
        (held, self.path)
    }

    /// Deletes the partial download: it cannot become a good file.
    pub(super) fn discard(self) {
        let _ = fs::remove_file(&self.path);
    }

    /// Makes the complete, verified download visible as `dest`: fsync the data, then
    /// rename with `overwrite`, otherwise link(2), which fails rather than replace a
    /// file that appeared meanwhile; then, with `sync_dir`, fsync the directory so the
    /// name survives a power cut (a tree fsyncs each directory once, at its end,
    /// instead: [`sync_dir`]).
    pub(super) fn publish(self, dest: &Path, overwrite: bool, sync_dir: bool) -> Result<()> {
        let PartFile { path: part, file } = self;
        file.sync_all()
            .map_err(|e| Error::io(format!("syncing {}", part.display()), e))?;
        drop(file);
        if overwrite {
            fs::rename(&part, dest)
                .map_err(|e| Error::io(format!("renaming to {}", dest.display()), e))?;
        } else {
            fs::hard_link(&part, dest).map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => Error::refused(
                    ErrorCode::Exists,
                    format!(
                        "{} appeared while downloading; the verified data is in {}",
                        dest.display(),
                        part.display()
                    ),
                ),
                _ => Error::io(format!("creating {}", dest.display()), e),
            })?;
            let _ = fs::remove_file(&part);
        }
        if let Some(dir) = dest.parent().filter(|_| sync_dir) {
            self::sync_dir(dir);
        }
        Ok(())
    }
}

/// fsyncs the directory `dir` (`.` for an empty path), so the names made in it
/// survive a power cut. Best effort: the files are already complete.
pub(super) fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_path_sits_next_to_the_target() {
        assert_eq!(
            part_path(Path::new("dir/a.bin")),
            Path::new("dir/a.bin.socklab-part")
        );
    }
}
