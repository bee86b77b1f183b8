//! The known-hosts file: the servers a client has trusted on first use, one
//! `host:port SHA256:…` line each, as ssh's `~/.ssh/known_hosts`.
//!
//! Blank lines and lines starting with `#` are ignored. A host is written as the user
//! typed it, lower case; an IPv6 literal in brackets (`[::1]:7022`). The file is
//! `$SOCKLAB_KNOWN_HOSTS`, else `$XDG_CONFIG_HOME/socklab/known_hosts`, else
//! `~/.config/socklab/known_hosts` ([`default_path`]).

use crate::limits::MAX_KNOWN_HOSTS_BYTES;
use socklab_proto::{Error, Result};
use std::fs::{DirBuilder, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// One trusted server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `host:port`, as [`key`] writes it.
    pub host: String,
    /// `SHA256:…`.
    pub fingerprint: String,
    /// Its line number in the file, from 1.
    pub line: usize,
}

/// A line that is not `host:port SHA256:…`: its number (from 1) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The line number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// Parses a known-hosts file's text. Any malformed line fails the whole file: a
/// client must not go on with a trust list it cannot read.
pub fn parse(text: &str) -> std::result::Result<Vec<Entry>, ParseError> {
    let mut entries = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let bad = |reason: String| ParseError { line, reason };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = trimmed.split_whitespace().collect();
        let [host, fingerprint] = fields[..] else {
            return Err(bad(format!(
                "expected `host:port SHA256:…`, found {} field(s)",
                fields.len()
            )));
        };
        let Some((name, port)) = host.rsplit_once(':') else {
            return Err(bad(format!(
                "{:?} has no :port",
                host.escape_default().to_string()
            )));
        };
        if name.is_empty() || port.parse::<u16>().is_err() {
            return Err(bad(format!(
                "{:?} is not host:port",
                host.escape_default().to_string()
            )));
        }
        if !super::is_fingerprint(fingerprint) {
            return Err(bad(format!(
                "{:?} is not a SHA256:… fingerprint",
                fingerprint.escape_default().to_string()
            )));
        }
        entries.push(Entry {
            host: host.to_ascii_lowercase(),
            fingerprint: fingerprint.to_owned(),
            line,
        });
    }
    Ok(entries)
}

/// The known-hosts name of a server: `host:port`, lower case, an IPv6 literal in
/// brackets.
pub fn key(host: &str, port: u16) -> String {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.contains(':') {
        format!("[{}]:{port}", bare.to_ascii_lowercase())
    } else {
        format!("{}:{port}", bare.to_ascii_lowercase())
    }
}

/// Where the known-hosts file is: `$SOCKLAB_KNOWN_HOSTS`, else
/// `$XDG_CONFIG_HOME/socklab/known_hosts`, else `$HOME/.config/socklab/known_hosts`.
pub fn default_path() -> Result<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(path) = set("SOCKLAB_KNOWN_HOSTS") {
        return Ok(PathBuf::from(path));
    }
    let config = match (set("XDG_CONFIG_HOME"), set("HOME")) {
        (Some(xdg), _) => PathBuf::from(xdg),
        (None, Some(home)) => PathBuf::from(home).join(".config"),
        (None, None) => {
            return Err(Error::Usage(
                "no known-hosts file: set SOCKLAB_KNOWN_HOSTS, or HOME".into(),
            ))
        }
    };
    Ok(config.join("socklab").join("known_hosts"))
}

/// What the file says about one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// A line with this fingerprint.
    Match(&'a Entry),
    /// Lines for this server, none with this fingerprint: the first of them.
    Changed(&'a Entry),
    /// No line for this server.
    Unknown,
}

/// A known-hosts file, read.
#[derive(Debug, Clone)]
pub struct KnownHosts {
    path: PathBuf,
    entries: Vec<Entry>,
}

impl KnownHosts {
    /// Reads `path`; a missing file is an empty list. A malformed line is a `Usage`
    /// error naming the file and the line.
    pub fn load(path: &Path) -> Result<KnownHosts> {
        let mut text = String::new();
        match std::fs::File::open(path) {
            Ok(f) => {
                let read = f
                    .take(MAX_KNOWN_HOSTS_BYTES + 1)
                    .read_to_string(&mut text)
                    .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
                if read as u64 > MAX_KNOWN_HOSTS_BYTES {
                    return Err(Error::Usage(format!(
                        "{} is over the limit of {MAX_KNOWN_HOSTS_BYTES} bytes",
                        path.display()
                    )));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        }
        let entries = parse(&text).map_err(|e| {
            Error::Usage(format!(
                "{}:{}: {} (fix or remove that line)",
                path.display(),
                e.line,
                e.reason
            ))
        })?;
        Ok(KnownHosts {
            path: path.to_owned(),
            entries,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the file says about server `host` (a [`key`]) presenting `fingerprint`.
    pub fn lookup(&self, host: &str, fingerprint: &str) -> Lookup<'_> {
        let mut lines = self.entries.iter().filter(|e| e.host == host).peekable();
        let Some(&first) = lines.peek() else {
            return Lookup::Unknown;
        };
        match lines.find(|e| e.fingerprint == fingerprint) {
            Some(e) => Lookup::Match(e),
            None => Lookup::Changed(first),
        }
    }

    /// Appends `host fingerprint` as one line, making the file (mode 0600) and its
    /// directory (mode 0700) if needed.
    pub fn add(&mut self, host: &str, fingerprint: &str) -> Result<()> {
        let line = format!("{host} {fingerprint}\n");
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(|e| Error::io(format!("opening {}", self.path.display()), e))?;
        // A file whose last line has no newline must not have ours glued to it.
        let ends_open = std::fs::read(&self.path)
            .map(|b| b.last().is_some_and(|&c| c != b'\n'))
            .unwrap_or(false);
        let text = if ends_open { format!("\n{line}") } else { line };
        f.write_all(text.as_bytes())
            .map_err(|e| Error::io(format!("writing {}", self.path.display()), e))?;
        let number = self.entries.last().map_or(0, |e| e.line) + 1;
        self.entries.push(Entry {
            host: host.to_owned(),
            fingerprint: fingerprint.to_owned(),
            line: number,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";

    #[test]
    fn parses_lines_comments_and_ipv6() {
        let text = format!("# trusted\n\n127.0.0.1:7022 {FP}\n[::1]:7021   {FP}\n");
        let entries = parse(&text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].host, "127.0.0.1:7022");
        assert_eq!(entries[1].line, 4);
        assert_eq!(key("::1", 7021), "[::1]:7021");
        assert_eq!(key("Server.LAN", 1), "server.lan:1");
    }

    #[test]
    fn a_bad_line_is_named_by_number() {
        for bad in [
            "h:1",
            "h:1 SHA256:short",
            "h SHA256:x",
            ":1 x",
            "h:99999 x",
            "h:1 x y",
        ] {
            let err = parse(&format!("# ok\n{bad}\n")).unwrap_err();
            assert_eq!(err.line, 2, "{bad}: {err:?}");
        }
    }

    #[test]
    fn lookup_tells_known_changed_and_unknown() {
        let kh = KnownHosts {
            path: PathBuf::from("kh"),
            entries: parse(&format!("a:1 {FP}\n")).unwrap(),
        };
        assert!(matches!(kh.lookup("a:1", FP), Lookup::Match(_)));
        let other = super::super::fingerprint(b"other");
        assert!(matches!(kh.lookup("a:1", &other), Lookup::Changed(e) if e.line == 1));
        assert_eq!(kh.lookup("b:1", FP), Lookup::Unknown);
    }
}
