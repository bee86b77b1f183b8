//! The commands a user types, on the command line or at the `ftp> ` prompt, and
//! [`execute`], which runs one on a [`Session`] and prints what it did.

use super::display::{local_time, shown};
use super::session::Session;
use super::tree::{tree_name, TreeOptions, TreeReport};
use crate::paths::validate_path;
use crate::wire::Kind;
use clap::Subcommand;
use socklab_proto::{Error, Result};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One client command, from the command line or the `ftp> ` prompt. Remote paths are
/// relative to the served directory, `/`-separated.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum Command {
    /// List a directory on the server (default: the served directory).
    Ls {
        /// The directory.
        path: Option<String>,
    },
    /// Show the kind, size and modification time of one entry.
    Stat {
        /// The entry's path on the server.
        name: String,
    },
    /// Download a file.
    Get {
        /// The file's path on the server.
        name: String,
        /// Where to write it: a file, an existing directory to write into, or `-` for
        /// stdout (default: the last component of NAME, here).
        #[arg(short = 'o', long = "output", value_name = "PATH")]
        output: Option<PathBuf>,
        /// Continue an interrupted download from PATH.socklab-part (without it, a get
        /// refuses to start over on top of one, even with --overwrite).
        #[arg(long)]
        resume: bool,
        /// Replace PATH if it exists.
        #[arg(long)]
        overwrite: bool,
        /// Copy the directory NAME and everything under it (into PATH, default: its
        /// last component here), keeping modification times; files already complete
        /// here are skipped.
        #[arg(short = 'r', long)]
        recursive: bool,
        /// With -r: skip a file only when its md5 matches, not its size and mtime.
        #[arg(long, requires = "recursive")]
        checksum: bool,
    },
    /// Upload a file.
    Put {
        /// The local file.
        path: PathBuf,
        /// The path to store it under (default: PATH's file name); its directory must
        /// exist on the server.
        #[arg(long = "as", value_name = "NAME")]
        as_name: Option<String>,
        /// Continue an interrupted upload from where the server stopped.
        #[arg(long)]
        resume: bool,
        /// Replace a file of that name on the server.
        #[arg(long)]
        overwrite: bool,
        /// Copy the directory PATH and everything under it (as NAME, default: its
        /// name), keeping modification times; files already complete there are
        /// skipped. Symlinks are skipped with a warning.
        #[arg(short = 'r', long)]
        recursive: bool,
        /// With -r: skip a file only when its md5 matches, not its size and mtime.
        #[arg(long, requires = "recursive")]
        checksum: bool,
    },
    /// Make a directory on the server.
    Mkdir {
        /// The new directory.
        path: String,
        /// Make missing parents too; an existing directory is no error.
        #[arg(short = 'p', long)]
        parents: bool,
    },
    /// Delete a file (or a symlink) on the server.
    Rm {
        /// The file.
        path: String,
    },
    /// Delete an empty directory on the server.
    Rmdir {
        /// The directory.
        path: String,
    },
    /// Move or rename an entry on the server.
    Mv {
        /// What to move.
        from: String,
        /// Where to.
        to: String,
        /// Replace an existing file at TO.
        #[arg(long)]
        overwrite: bool,
    },
}

/// Runs one command on `session`, printing its result to `out` and warnings to stderr.
pub(crate) fn execute(session: &mut Session, command: &Command, out: &mut dyn Write) -> Result<()> {
    super::hints::start(command);
    let done = run(session, command, out);
    super::hints::finish();
    done
}

fn run(session: &mut Session, command: &Command, out: &mut dyn Write) -> Result<()> {
    let w = |e: io::Error| Error::io("writing to stdout", e);
    match command {
        Command::Ls { path } => {
            let (files, bad, truncated) = session.list(path.as_deref())?;
            for f in &files {
                let when = local_time(f.mtime, "%Y-%m-%d %H:%M");
                let kind = kind_word(f.kind);
                writeln!(
                    out,
                    "{kind:<7} {:>14}  {when:<16}  {}",
                    f.size,
                    shown(&f.name)
                )
                .map_err(w)?;
            }
            for name in &bad {
                eprintln!("warning: the server listed an invalid name {name}; ignored");
            }
            if truncated {
                eprintln!("warning: the listing was cut to fit one message");
            }
        }
        Command::Stat { name } => {
            let f = session.stat(name)?;
            writeln!(
                out,
                "{}: {}, {} bytes, modified {}",
                shown(&f.name),
                kind_word(f.kind),
                f.size,
                local_time(f.mtime, "%Y-%m-%d %H:%M:%S %Z")
            )
            .map_err(w)?;
        }
        Command::Get {
            name,
            output,
            resume,
            overwrite,
            recursive,
            checksum,
        } => {
            validate_path(name)?;
            if *recursive {
                // As cp -r and scp -r: into an existing directory, else as it.
                let dest = download_target(name, output.as_deref());
                let opts = TreeOptions {
                    resume: *resume,
                    overwrite: *overwrite,
                    checksum: *checksum,
                };
                let report = session.get_tree(name, &dest, opts)?;
                let to = dest.display().to_string();
                return summary(out, "got", name, &to, &report).map_err(w);
            }
            if output.as_deref() == Some(Path::new("-")) {
                let (size, md5) = session.get_to_stdout(name)?;
                eprintln!("got {}: {size} bytes, md5 {md5} -> stdout", shown(name));
                return Ok(());
            }
            let dest = download_target(name, output.as_deref());
            let (size, md5, _) = session.get(name, &dest, *resume, *overwrite)?;
            writeln!(
                out,
                "got {}: {size} bytes, md5 {md5} -> {}",
                shown(name),
                dest.display()
            )
            .map_err(w)?;
        }
        Command::Put {
            path,
            as_name,
            resume,
            overwrite,
            recursive,
            checksum,
        } => {
            if *recursive {
                let name = match as_name {
                    Some(n) => n.clone(),
                    None => tree_name(path)?,
                };
                let opts = TreeOptions {
                    resume: *resume,
                    overwrite: *overwrite,
                    checksum: *checksum,
                };
                let report = session.put_tree(path, &name, opts)?;
                let from = path.display().to_string();
                return summary(out, "put", &from, &name, &report).map_err(w);
            }
            let name = match as_name {
                Some(n) => n.clone(),
                None => upload_name(path)?,
            };
            let (done, _) = session.put(path, &name, *resume, *overwrite)?;
            writeln!(
                out,
                "put {}: {} bytes, md5 {}",
                shown(&done.name),
                done.size,
                done.md5
            )
            .map_err(w)?;
        }
        Command::Mkdir { path, parents } => {
            session.mkdir(path, *parents)?;
            writeln!(out, "made {}", shown(path)).map_err(w)?;
        }
        Command::Rm { path } => {
            if session.stat(path)?.kind == Kind::Dir {
                return Err(Error::Usage(format!(
                    "{} is a directory; rmdir deletes an empty one",
                    shown(path)
                )));
            }
            session.delete(path)?;
            writeln!(out, "deleted {}", shown(path)).map_err(w)?;
        }
        Command::Rmdir { path } => {
            if session.stat(path)?.kind != Kind::Dir {
                return Err(Error::Usage(format!(
                    "{} is not a directory; rm deletes a file",
                    shown(path)
                )));
            }
            session.delete(path)?;
            writeln!(out, "deleted {}", shown(path)).map_err(w)?;
        }
        Command::Mv {
            from,
            to,
            overwrite,
        } => {
            session.rename(from, to, *overwrite)?;
            writeln!(out, "moved {} -> {}", shown(from), shown(to)).map_err(w)?;
        }
    }
    Ok(())
}

/// Where a download of the remote `path` goes, as cp and scp decide: `-o FILE`, into
/// `-o DIR` when DIR is an existing directory, else the path's last component here.
fn download_target(path: &str, output: Option<&Path>) -> PathBuf {
    let base = path.rsplit('/').next().unwrap_or(path);
    match output {
        Some(o) if o.is_dir() => o.join(base),
        Some(o) => o.to_owned(),
        None => PathBuf::from(base),
    }
}

/// The line a tree copy ends with: what moved, and what was already there.
fn summary(
    out: &mut dyn Write,
    verb: &str,
    from: &str,
    to: &str,
    r: &TreeReport,
) -> io::Result<()> {
    writeln!(
        out,
        "{verb} {} -> {}: {} files ({} bytes) copied, {} skipped (already complete), {} directories",
        shown(from),
        shown(to),
        r.files,
        r.bytes,
        r.skipped,
        r.dirs
    )
}

/// How a listing names each kind of entry.
fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::File => "file",
        Kind::Dir => "dir",
        Kind::Symlink => "symlink",
    }
}

/// The name a `put` without `--as` stores `path` under: its file name.
pub(super) fn upload_name(path: &Path) -> Result<String> {
    match path.file_name() {
        Some(n) => match n.to_str() {
            Some(n) => Ok(n.to_owned()),
            None => Err(Error::InvalidName {
                name: format!("{n:?}"),
                reason: "it is not UTF-8; pick a name with --as NAME",
            }),
        },
        None => Err(Error::Usage(format!(
            "{} has no file name; pick one with --as NAME",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_put_without_as_takes_the_file_name_or_asks_for_one() {
        assert_eq!(upload_name(Path::new("dir/a.bin")).unwrap(), "a.bin");
        assert!(matches!(
            upload_name(Path::new("dir/..")),
            Err(Error::Usage(_))
        ));
    }
}
