//! The commands a user types, on the command line or at the `ftp> ` prompt, and
//! [`execute`], which runs one on a [`Session`] and prints what it did.

use super::display::{local_time, shown};
use super::session::Session;
use crate::wire::Kind;
use clap::Subcommand;
use socklab_proto::names::validate_name;
use socklab_proto::{Error, Result};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One client command, from the command line or the `ftp> ` prompt.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum Command {
    /// List the served files.
    Ls,
    /// Show the size and modification time of one file.
    Stat {
        /// The file's name on the server.
        name: String,
    },
    /// Download a file.
    Get {
        /// The file's name on the server.
        name: String,
        /// Where to write it (default: NAME in the current directory).
        #[arg(short = 'o', long = "output", value_name = "PATH")]
        output: Option<PathBuf>,
        /// Continue an interrupted download from PATH.socklab-part (without it, a get
        /// refuses to start over on top of one, even with --overwrite).
        #[arg(long)]
        resume: bool,
        /// Replace PATH if it exists.
        #[arg(long)]
        overwrite: bool,
    },
    /// Upload a file.
    Put {
        /// The local file.
        path: PathBuf,
        /// The name to store it under (default: PATH's file name).
        #[arg(long = "as", value_name = "NAME")]
        as_name: Option<String>,
        /// Continue an interrupted upload from where the server stopped.
        #[arg(long)]
        resume: bool,
        /// Replace a file of that name on the server.
        #[arg(long)]
        overwrite: bool,
    },
}

/// Runs one command on `session`, printing its result to `out` and warnings to stderr.
pub(crate) fn execute(session: &mut Session, command: &Command, out: &mut dyn Write) -> Result<()> {
    let w = |e: io::Error| Error::io("writing to stdout", e);
    match command {
        Command::Ls => {
            let (files, bad, truncated) = session.list()?;
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
        } => {
            validate_name(name)?;
            let dest = output.clone().unwrap_or_else(|| PathBuf::from(name));
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
        } => {
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
    }
    Ok(())
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
fn upload_name(path: &Path) -> Result<String> {
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
