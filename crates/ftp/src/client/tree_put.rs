//! `put -r`: the upload side of a tree copy (see `tree.rs` for what a tree copy
//! keeps and skips).
//!
//! Small files must not cost a round trip each. A file of at most
//! [`MAX_EAGER_PUT`] bytes goes as an **eager put**: the request, the body and the
//! trailer in one write, with no `ready` reply to wait for; up to [`PUT_WINDOW`] of
//! them are in flight before the first confirmation is read, and the server answers
//! them in order. A bigger file (or one with a resumable partial) goes the classic
//! way, after the confirmations in flight are read: its round trip is nothing beside
//! its bytes, and it can resume.
//!
//! The confirmations left unread stay far below a socket buffer (a few KiB), so the
//! server never blocks writing them while the client blocks writing bodies.

use super::display::progress_bar;
use super::session::{Session, BUSY_RETRY};
use super::tree::{join, refuse_differing, walk_local, Entry, TreeOptions, TreeReport};
use super::upload::{eager_put, open_local};
use crate::limits::{MAX_EAGER_PUT, RESUME_BUSY_WAIT};
use crate::paths::validate_path;
use crate::request::FtpRequest;
use socklab_proto::msg::Empty;
use socklab_proto::{Error, ErrorCode, Result};
use std::collections::{BTreeSet, VecDeque};
use std::path::Path;
use std::time::Instant;

/// Eager puts in flight at once in `put -r`.
pub(crate) const PUT_WINDOW: usize = 64;

/// An eager put sent whose confirmation is still to be read.
struct Pending<'a> {
    entry: &'a Entry,
    md5: String,
}

impl Session {
    /// `put -r local --as remote`.
    pub(crate) fn put_tree(
        &mut self,
        local: &Path,
        remote: &str,
        opts: TreeOptions,
    ) -> Result<TreeReport> {
        validate_path(remote)?;
        let tree = walk_local(local)?;
        self.call_mkdir(remote)?;
        let there = self.remote_tree(remote)?;
        let have: BTreeSet<&str> = there.dirs.iter().map(|(d, _)| d.as_str()).collect();
        let mkdirs: Vec<_> = (tree.dirs.iter())
            .filter(|(d, _)| !have.contains(d.as_str()))
            .map(|(d, _)| FtpRequest::Mkdir {
                path: join(remote, d),
                parents: true,
                mtime: None,
            })
            .collect();
        for reply in self.pipelined::<Empty>(&mkdirs) {
            reply?;
        }
        let mut report = TreeReport {
            dirs: tree.dirs.len() + 1,
            ..TreeReport::default()
        };
        let mut todo = Vec::new();
        for ours in tree.files.values() {
            let theirs = there.files.get(&ours.rel);
            let path = local.join(&ours.rel);
            if self.complete(ours, theirs, &join(remote, &ours.rel), &path, opts.checksum)? {
                report.skipped += 1;
            } else {
                todo.push((ours.clone(), theirs.is_some()));
            }
        }
        refuse_differing(
            todo.iter().filter(|t| t.1).map(|t| &t.0.rel),
            opts.overwrite,
        )?;
        let total = todo.iter().map(|(e, _)| e.size).sum();
        let bar = progress_bar(self.progress, total, 0, remote);
        let mut pending = VecDeque::new();
        let mut busy = Vec::new();
        for (entry, exists) in &todo {
            let overwrite = *exists && opts.overwrite;
            // With --resume a small file goes eagerly all the same: what a partial
            // of it could save is less than a round trip.
            if entry.size <= MAX_EAGER_PUT {
                let md5 = self.send_eager_file(local, remote, entry, overwrite, &bar)?;
                pending.push_back(Pending { entry, md5 });
                if pending.len() >= PUT_WINDOW {
                    self.confirm(&mut pending, &mut busy, &mut report)?;
                }
                continue;
            }
            while !pending.is_empty() {
                self.confirm(&mut pending, &mut busy, &mut report)?;
            }
            self.put_classic(local, remote, entry, overwrite, opts.resume, &bar)?;
            report.files += 1;
            report.bytes += entry.size;
        }
        while !pending.is_empty() {
            self.confirm(&mut pending, &mut busy, &mut report)?;
        }
        // Just after an interrupted run the server may not yet have seen the old
        // connection end, and answers `busy` for the file that was in flight: send
        // those again, for a bounded time, as `put --resume` does.
        let give_up = Instant::now() + RESUME_BUSY_WAIT;
        while !busy.is_empty() {
            if Instant::now() >= give_up {
                return Err(Error::refused(
                    ErrorCode::Busy,
                    format!(
                        "another upload of {} is still in progress on the server",
                        super::display::shown(&join(remote, &busy[0].rel))
                    ),
                ));
            }
            std::thread::sleep(BUSY_RETRY);
            for entry in std::mem::take(&mut busy) {
                let overwrite = there.files.contains_key(&entry.rel) && opts.overwrite;
                let md5 = self.send_eager_file(local, remote, entry, overwrite, &bar)?;
                pending.push_back(Pending { entry, md5 });
                self.confirm(&mut pending, &mut busy, &mut report)?;
            }
        }
        bar.finish_and_clear();
        let mut dirs = vec![(String::new(), local_mtime(local))];
        dirs.extend(tree.dirs.iter().cloned());
        self.set_dir_mtimes(remote, &dirs)?;
        Ok(report)
    }

    /// Sends one eager put of the tree's `entry`.
    fn send_eager_file(
        &mut self,
        local: &Path,
        remote: &str,
        entry: &Entry,
        overwrite: bool,
        bar: &indicatif::ProgressBar,
    ) -> Result<String> {
        let path = local.join(&entry.rel);
        let file = open_local(&path)?;
        let request = eager_put(
            &join(remote, &entry.rel),
            entry.size,
            overwrite,
            Some(entry.mtime),
        );
        self.send_eager(&file, &path, &request, entry.size, Some(bar))
    }

    /// Reads the confirmation of the oldest eager put in flight. `busy` collects the
    /// files the server could not take yet; any other refusal ends the tree.
    fn confirm<'a>(
        &mut self,
        pending: &mut VecDeque<Pending<'a>>,
        busy: &mut Vec<&'a Entry>,
        report: &mut TreeReport,
    ) -> Result<()> {
        let Some(p) = pending.pop_front() else {
            return Ok(());
        };
        match self.put_done(p.entry.size, &p.md5) {
            Ok(_) => {
                report.files += 1;
                report.bytes += p.entry.size;
                Ok(())
            }
            Err(Error::Remote {
                code: ErrorCode::Busy,
                ..
            }) => {
                busy.push(p.entry);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// A big file of the tree, the classic way: request, `ready`, body, trailer,
    /// confirmation; it resumes a partial the server holds.
    fn put_classic(
        &mut self,
        local: &Path,
        remote: &str,
        entry: &Entry,
        overwrite: bool,
        resume: bool,
        bar: &indicatif::ProgressBar,
    ) -> Result<()> {
        let path = local.join(&entry.rel);
        let name = join(remote, &entry.rel);
        let file = open_local(&path)?;
        let request = FtpRequest::Put {
            path: name.clone(),
            size: entry.size,
            resume,
            overwrite,
            mtime: Some(entry.mtime),
            eager: false,
        };
        let ready = self.put_request(&request)?;
        let md5 = self.send_body(&file, &path, &name, entry.size, &ready, Some(bar))?;
        self.put_done(entry.size, &md5).map(drop)
    }

    /// Gives each directory of the tree its local mtime, deepest first, once its
    /// files are written (each write into a directory changes its mtime).
    fn set_dir_mtimes(&mut self, remote: &str, dirs: &[(String, u64)]) -> Result<()> {
        let requests: Vec<_> = dirs
            .iter()
            .rev()
            .map(|(d, mtime)| FtpRequest::Mkdir {
                path: join(remote, d),
                parents: true,
                mtime: Some(*mtime),
            })
            .collect();
        for reply in self.pipelined::<Empty>(&requests) {
            reply?;
        }
        Ok(())
    }
}

/// The mtime of the local directory `dir`, 0 when unknown.
fn local_mtime(dir: &Path) -> u64 {
    std::fs::metadata(dir)
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}
