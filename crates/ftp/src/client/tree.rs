//! `put -r` and `get -r`: a whole directory tree, as `scp -rp` and `rsync -rt` copy
//! one: directories (empty ones too), files, modification times. Each file keeps the
//! guarantees of a single `get` or `put` (md5 trailer, written aside then published,
//! `--resume`). A re-run skips the files already complete (same size and mtime, or
//! with `--checksum` the same md5) and says how many. Local symlinks are skipped with
//! a warning, as rsync does by default.
//!
//! Small files must not cost a round trip each, so requests are pipelined:
//!
//! - `get`: up to [`GET_WINDOW`] requests are sent before the first reply is read;
//!   the server answers them in order, each reply, body and trailer whole;
//! - `put` (`tree_put.rs`): small files go as eager puts, request, body and trailer
//!   at once, many in flight;
//! - `list` and `mkdir`: a whole level of the tree at a time.
//!
//! Every window is far smaller than a socket buffer, so neither end can block on a
//! write while the other blocks on one too.

use super::display::{progress_bar, shown};
use super::download::{part_path, partial_in_the_way, PartFile};
use super::session::{compat, Session};
use crate::paths::validate_path;
use crate::request::FtpRequest;
use crate::wire::{Kind, Listing};
use socklab_proto::checksum::{finish_hex, hash_prefix};
use socklab_proto::msg::Empty;
use socklab_proto::names::validate_name;
use socklab_proto::{Error, ErrorCode, Result};
use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

/// Get requests in flight at once in `get -r`.
pub(crate) const GET_WINDOW: usize = 16;

/// Small requests (list, mkdir) in flight at once.
const SMALL_WINDOW: usize = 64;

/// What a tree copy is asked to do besides copying.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TreeOptions {
    /// Continue interrupted files (`--resume`).
    pub(crate) resume: bool,
    /// Replace files that differ (`--overwrite`).
    pub(crate) overwrite: bool,
    /// Compare md5s, not size and mtime, to skip complete files (`--checksum`).
    pub(crate) checksum: bool,
}

/// What a tree copy did, for its summary line.
#[derive(Debug, Default)]
pub(crate) struct TreeReport {
    /// Files copied, and their bytes.
    pub(crate) files: usize,
    /// Bytes of the files copied.
    pub(crate) bytes: u64,
    /// Files already complete at the other end.
    pub(crate) skipped: usize,
    /// Directories in the tree.
    pub(crate) dirs: usize,
}

/// One file of a tree: its path under the tree's root (`/`-separated), size, mtime.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) rel: String,
    pub(super) size: u64,
    pub(super) mtime: u64,
}

/// A tree: its directories (parents first) and files, by path under its root.
#[derive(Debug, Default)]
pub(super) struct Tree {
    pub(super) dirs: Vec<(String, u64)>,
    pub(super) files: BTreeMap<String, Entry>,
}

/// `root/rel`, or `root` for the tree's own root (`rel` empty).
pub(super) fn join(root: &str, rel: &str) -> String {
    match (root.is_empty(), rel.is_empty()) {
        (_, true) => root.to_owned(),
        (true, false) => rel.to_owned(),
        (false, false) => format!("{root}/{rel}"),
    }
}

/// Seconds since the epoch of a local file's mtime.
fn mtime_secs(meta: &fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// The local tree under `root`. Symlinks, special files and names that cannot travel
/// (not UTF-8, or not a valid name) are skipped with a warning each.
pub(super) fn walk_local(root: &Path) -> Result<Tree> {
    let mut tree = Tree::default();
    let mut todo = vec![String::new()];
    while let Some(rel) = todo.pop() {
        let dir = root.join(&rel);
        let mut entries: Vec<_> = fs::read_dir(&dir)
            .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let Some(name) = e.file_name().to_str().map(str::to_owned) else {
                eprintln!(
                    "warning: skipping {}: its name is not UTF-8",
                    path.display()
                );
                continue;
            };
            if let Err(err) = validate_name(&name) {
                eprintln!("warning: skipping {}: {err}", path.display());
                continue;
            }
            let meta = fs::symlink_metadata(&path)
                .map_err(|e| Error::io(format!("checking {}", path.display()), e))?;
            let child = join(&rel, &name);
            if meta.file_type().is_symlink() {
                eprintln!("warning: skipping symlink {}", path.display());
            } else if meta.is_dir() {
                tree.dirs.push((child.clone(), mtime_secs(&meta)));
                todo.push(child);
            } else if meta.is_file() {
                let entry = Entry {
                    rel: child.clone(),
                    size: meta.len(),
                    mtime: mtime_secs(&meta),
                };
                tree.files.insert(child, entry);
            } else {
                eprintln!("warning: skipping {}: not a regular file", path.display());
            }
        }
    }
    // Parents before children: a path sorts after its parent's.
    tree.dirs.sort();
    Ok(tree)
}

impl Session {
    /// Sends `requests` and reads one reply `T` for each, at most `SMALL_WINDOW`
    /// in flight.
    pub(super) fn pipelined<T: serde::de::DeserializeOwned>(
        &mut self,
        requests: &[FtpRequest],
    ) -> Vec<Result<T>> {
        let mut replies = Vec::with_capacity(requests.len());
        for chunk in requests.chunks(SMALL_WINDOW) {
            for r in chunk {
                if let Err(e) = self.conn.send(&compat(r)) {
                    replies.push(Err(e));
                    return replies;
                }
            }
            for _ in chunk {
                replies.push(self.conn.read_reply::<T>());
            }
        }
        replies
    }

    /// The remote tree under `root`, listed a level at a time.
    pub(super) fn remote_tree(&mut self, root: &str) -> Result<Tree> {
        let mut tree = Tree::default();
        let mut level = vec![String::new()];
        while !level.is_empty() {
            let requests: Vec<_> = level
                .iter()
                .map(|rel| FtpRequest::List {
                    path: Some(join(root, rel)).filter(|p| !p.is_empty()),
                })
                .collect();
            let replies = self.pipelined::<Listing>(&requests);
            let mut next = Vec::new();
            for (rel, reply) in level.iter().zip(replies) {
                let listing = reply?;
                if listing.truncated {
                    return Err(Error::Usage(format!(
                        "{} has more entries than one listing holds: copy its \
                         subdirectories one by one",
                        shown(&join(root, rel))
                    )));
                }
                for f in listing.files {
                    if validate_name(&f.name).is_err() {
                        eprintln!("warning: the server listed an invalid name; ignored");
                        continue;
                    }
                    let child = join(rel, &f.name);
                    match f.kind {
                        Kind::Dir => {
                            tree.dirs.push((child.clone(), f.mtime));
                            next.push(child);
                        }
                        Kind::File => {
                            let entry = Entry {
                                rel: child.clone(),
                                size: f.size,
                                mtime: f.mtime,
                            };
                            tree.files.insert(child, entry);
                        }
                        Kind::Symlink => eprintln!(
                            "warning: skipping {}: a symlink on the server",
                            shown(&join(root, &child))
                        ),
                    }
                }
            }
            level = next;
        }
        tree.dirs.sort();
        Ok(tree)
    }

    /// True when the server's `remote` has the md5 of the local `file` of `size`
    /// bytes: asked as a resume at the end of the file, which the server answers by
    /// comparing its own prefix (all of it) before sending anything.
    fn same_md5(&mut self, remote: &str, file: &Path, size: u64) -> Result<bool> {
        let f =
            File::open(file).map_err(|e| Error::io(format!("opening {}", file.display()), e))?;
        let md5 = hash_prefix(&f, size)
            .map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
        self.conn.send(&compat(&FtpRequest::Get {
            path: remote.to_owned(),
            offset: size,
            md5: Some(finish_hex(md5)),
        }))?;
        match self.conn.read_reply::<crate::wire::GetReply>() {
            Ok(reply) if reply.size == size => {
                // Nothing follows but the trailer.
                let _: Option<crate::wire::Trailer> = self.conn.read_header()?;
                Ok(true)
            }
            Ok(_) => Err(Error::BadHeader("the server's file changed size".into())),
            Err(Error::Remote {
                code: ErrorCode::ChecksumMismatch,
                ..
            }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// True when `theirs` need not be copied over `ours`: same size, and the same
    /// mtime or (with `checksum`) the same md5.
    pub(super) fn complete(
        &mut self,
        ours: &Entry,
        theirs: Option<&Entry>,
        remote: &str,
        local: &Path,
        checksum: bool,
    ) -> Result<bool> {
        match theirs {
            Some(t) if t.size == ours.size && checksum => self.same_md5(remote, local, t.size),
            Some(t) => Ok(t.size == ours.size && t.mtime == ours.mtime),
            None => Ok(false),
        }
    }

    /// `mkdir -p path`.
    pub(super) fn call_mkdir(&mut self, path: &str) -> Result<()> {
        self.conn.send(&FtpRequest::Mkdir {
            path: path.to_owned(),
            parents: true,
            mtime: None,
        })?;
        self.conn.read_reply::<Empty>().map(drop)
    }

    /// `get -r remote -o local`.
    pub(crate) fn get_tree(
        &mut self,
        remote: &str,
        local: &Path,
        opts: TreeOptions,
    ) -> Result<TreeReport> {
        validate_path(remote)?;
        let tree = self.remote_tree(remote)?;
        fs::create_dir_all(local)
            .map_err(|e| Error::io(format!("making {}", local.display()), e))?;
        for (d, _) in &tree.dirs {
            let dir = local.join(d);
            fs::create_dir_all(&dir)
                .map_err(|e| Error::io(format!("making {}", dir.display()), e))?;
        }
        let mut report = TreeReport {
            dirs: tree.dirs.len() + 1,
            ..TreeReport::default()
        };
        let mut todo = Vec::new();
        for theirs in tree.files.values() {
            let dest = local.join(&theirs.rel);
            let ours = match fs::symlink_metadata(&dest) {
                Ok(m) if m.is_file() => Some(Entry {
                    rel: theirs.rel.clone(),
                    size: m.len(),
                    mtime: mtime_secs(&m),
                }),
                Ok(_) => {
                    return Err(Error::Usage(format!(
                        "{} is in the way: not a regular file",
                        dest.display()
                    )))
                }
                Err(_) => None,
            };
            let name = join(remote, &theirs.rel);
            if self.complete(theirs, ours.as_ref(), &name, &dest, opts.checksum)? {
                report.skipped += 1;
                continue;
            }
            let part = part_path(&dest);
            let held = fs::metadata(&part).ok().map(|m| m.len());
            if held.is_some() && !opts.resume {
                return Err(partial_in_the_way(&name, &part));
            }
            // A partial longer than the remote file cannot be its prefix.
            let offset = held.filter(|&h| h <= theirs.size).unwrap_or(0);
            todo.push((theirs.clone(), ours.is_some(), offset));
        }
        refuse_differing(
            todo.iter().filter(|t| t.1).map(|t| &t.0.rel),
            opts.overwrite,
        )?;
        let total = todo.iter().map(|(e, _, off)| e.size - off).sum();
        let bar = progress_bar(self.progress, total, 0, remote);
        let mut in_flight = VecDeque::new();
        let mut next = todo.iter();
        loop {
            while in_flight.len() < GET_WINDOW {
                let Some((entry, _, offset)) = next.next() else {
                    break;
                };
                let name = join(remote, &entry.rel);
                let (partial, hasher) =
                    PartFile::open(part_path(&local.join(&entry.rel)), *offset)?;
                let md5 = (*offset > 0).then(|| finish_hex(hasher.clone()));
                self.conn.send(&compat(&FtpRequest::Get {
                    path: name.clone(),
                    offset: *offset,
                    md5,
                }))?;
                in_flight.push_back((entry, name, partial, hasher, *offset));
            }
            let Some((entry, name, partial, hasher, offset)) = in_flight.pop_front() else {
                break;
            };
            let (mut partial, size, _md5) =
                self.receive(&name, partial, hasher, offset, Some(&bar))?;
            let when = UNIX_EPOCH + Duration::from_secs(entry.mtime);
            let dest = local.join(&entry.rel);
            partial
                .file()
                .set_modified(when)
                .map_err(|e| Error::io(format!("setting the mtime of {}", dest.display()), e))?;
            partial.publish(&dest, opts.overwrite, false)?;
            report.files += 1;
            report.bytes += size;
        }
        bar.finish_and_clear();
        // Directory mtimes last, deepest first: writing into one changes it. The
        // tree's own root too, as `scp -rp` does.
        let top = self.stat(remote)?;
        for (d, mtime) in tree.dirs.iter().rev().chain([&(String::new(), top.mtime)]) {
            let when = UNIX_EPOCH + Duration::from_secs(*mtime);
            let dir = local.join(d);
            let _ = File::open(&dir).and_then(|f| f.set_modified(when));
            // Once per directory, not once per file: the names of its files are
            // durable from here on.
            super::download::sync_dir(&dir);
        }
        Ok(report)
    }
}

/// Refuses, before anything moves, to replace files that differ unless `overwrite`.
pub(super) fn refuse_differing<'a>(
    mut differing: impl Iterator<Item = &'a String>,
    overwrite: bool,
) -> Result<()> {
    match differing.next() {
        Some(first) if !overwrite => Err(Error::refused(
            ErrorCode::Exists,
            format!(
                "{} and {} more file(s) exist at the other end with another size or \
                 mtime; nothing was copied. Pass --overwrite to replace them",
                shown(first),
                differing.count()
            ),
        )),
        _ => Ok(()),
    }
}

/// The tree's default remote name for `put -r DIR`: DIR's last component.
pub(crate) fn tree_name(local: &Path) -> Result<String> {
    local
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
        .ok_or_else(|| {
            Error::Usage(format!(
                "{} has no usable directory name; pick one with --as NAME",
                local.display()
            ))
        })
}
