//! The prompt's working directories: the remote one, kept on the client and joined to
//! every remote path a command names (the server has no notion of a current
//! directory), and the local one (`lcd`, `lls`).

use super::commands::{upload_name, Command};
use super::display::shown;
use super::tree::tree_name;
use crate::paths::{join, validate_path};
use socklab_proto::{Error, Result};

/// The remote working directory: a path under the served root, or the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct RemoteDir {
    parts: Vec<String>,
}

impl RemoteDir {
    /// The directory as a remote path, `None` for the root.
    pub(super) fn path(&self) -> Option<String> {
        (!self.parts.is_empty()).then(|| self.parts.join("/"))
    }

    /// As `pwd` shows it, after the leading `/`.
    pub(super) fn shown(&self) -> String {
        self.path().map_or_else(String::new, |p| shown(&p))
    }

    /// Where `cd ARG` leads: `/` starts from the root, `..` goes up (never above the
    /// root), `.` stays. The result is checked as a remote path.
    pub(super) fn resolve(&self, arg: &str) -> Result<RemoteDir> {
        let mut parts = if arg.starts_with('/') {
            Vec::new()
        } else {
            self.parts.clone()
        };
        for part in arg.split('/').filter(|p| !p.is_empty() && *p != ".") {
            if part == ".." {
                parts.pop();
            } else {
                parts.push(part.to_owned());
            }
        }
        let dir = RemoteDir { parts };
        if let Some(p) = dir.path() {
            validate_path(&p)?;
        }
        Ok(dir)
    }

    /// `name` under this directory.
    fn under(&self, name: &str) -> String {
        join(&self.path().unwrap_or_default(), name)
    }

    /// Joins this directory to every remote path of `command`.
    pub(super) fn apply(&self, command: &mut Command) -> Result<()> {
        if self.parts.is_empty() {
            return Ok(());
        }
        match command {
            Command::Ls { path } => {
                *path = Some(
                    path.as_deref()
                        .map_or_else(|| self.parts.join("/"), |p| self.under(p)),
                );
            }
            Command::Stat { name } | Command::Get { name, .. } => *name = self.under(name),
            Command::Mkdir { path, .. } | Command::Rm { path } | Command::Rmdir { path } => {
                *path = self.under(path)
            }
            Command::Mv { from, to, .. } => {
                *from = self.under(from);
                *to = self.under(to);
            }
            Command::Put {
                path,
                as_name,
                recursive,
                ..
            } => {
                let name = match as_name.take() {
                    Some(n) => n,
                    None if *recursive => tree_name(path)?,
                    None => upload_name(path)?,
                };
                *as_name = Some(self.under(&name));
            }
        }
        Ok(())
    }
}

/// The local side: `lcd` and `lls`.
pub(super) mod local {
    use super::*;
    use std::path::Path;

    /// `lcd DIR`: changes this process's working directory, where downloads land and
    /// uploads are read from.
    pub(in crate::client) fn lcd(dir: &Path) -> Result<()> {
        std::env::set_current_dir(dir)
            .map_err(|e| Error::io(format!("changing to {}", dir.display()), e))?;
        let now = std::env::current_dir().unwrap_or_else(|_| dir.to_owned());
        println!("local directory now {}", now.display());
        Ok(())
    }

    /// `lls [DIR]`: the local entries, sorted, a directory marked with `/`.
    pub(in crate::client) fn lls(dir: &Path) -> Result<()> {
        let listing = |e| Error::io(format!("listing {}", dir.display()), e);
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(listing)? {
            let entry = entry.map_err(listing)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            let size = entry.metadata().map_or(0, |m| m.len());
            names.push((name, is_dir, size));
        }
        names.sort();
        for (name, is_dir, size) in names {
            if is_dir {
                println!("dir    {:>14}  {}/", "", shown(&name));
            } else {
                println!("file   {size:>14}  {}", shown(&name));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cd_resolves_dot_dot_slash_and_never_leaves_the_root() {
        let root = RemoteDir::default();
        let d = root.resolve("a/b").unwrap();
        assert_eq!(d.path().as_deref(), Some("a/b"));
        assert_eq!(d.resolve("..").unwrap().path().as_deref(), Some("a"));
        assert_eq!(d.resolve("../../..").unwrap().path(), None);
        assert_eq!(d.resolve("/c").unwrap().path().as_deref(), Some("c"));
        assert_eq!(d.resolve("/").unwrap().path(), None);
        assert!(root.resolve("a/\u{1b}[2J").is_err());
    }

    #[test]
    fn remote_paths_are_joined_to_the_working_directory() {
        let d = RemoteDir::default().resolve("a").unwrap();
        let mut cmd = Command::Mv {
            from: "x".into(),
            to: "y".into(),
            overwrite: false,
        };
        d.apply(&mut cmd).unwrap();
        assert!(
            matches!(cmd, Command::Mv { ref from, ref to, .. } if from == "a/x" && to == "a/y")
        );
        let mut ls = Command::Ls { path: None };
        d.apply(&mut ls).unwrap();
        assert!(matches!(ls, Command::Ls { path: Some(ref p) } if p == "a"));
    }
}
