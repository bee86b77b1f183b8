//! The session's own `cd`: a command runs in a throwaway `/bin/sh`, so a `cd` there
//! would change nothing; the server keeps the session's directory instead.
//!
//! `cd` takes one word with the shell's quoting (`'my dir'`, `"my dir"`, `my\ dir`),
//! `~` and `~/…` (the account's home), `-` (the previous directory), or nothing (the
//! session's start). What only a shell can expand (`$VAR`, globs, `` ` ``) is refused
//! with a message. `cd DIR && cmd` and the like are one shell command, run by `sh`.

use socklab_proto::{Error, ErrorCode, Result};
use std::path::{Path, PathBuf};

/// Unquoted characters that join several commands: the line goes to `/bin/sh`, where
/// `cd` affects the rest of that line, as in `sh -c`.
const OPERATORS: &[char] = &[';', '&', '|', '<', '>', '(', ')', '\n'];
/// Unquoted characters only a shell can expand: refused rather than taken literally.
const EXPANSIONS: &[char] = &['$', '`', '*', '?', '[', '{', '#', '!'];

/// A recognised `cd`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Cd {
    /// `cd`: back to the session's start.
    Start,
    /// `cd -`: the previous directory.
    Previous,
    /// `cd WORD`, unquoted; a leading `~` was unquoted if `home` is set.
    To { word: String, home: bool },
}

/// Recognises the session's `cd`. `None`: not a `cd` for the session (not `cd` at all,
/// or a line with operators, which `sh` runs); `Some(Err)`: a `cd` we cannot do.
pub(crate) fn parse_cd(line: &str) -> Option<Result<Cd>> {
    let line = line.trim();
    let rest = line.strip_prefix("cd")?;
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let words = match split_words(rest) {
        Ok(Some(words)) => words,
        Ok(None) => return None,
        Err(e) => return Some(Err(e)),
    };
    Some(match words.as_slice() {
        [] => Ok(Cd::Start),
        [(w, false)] if w == "-" => Ok(Cd::Previous),
        [(w, tilde)] => Ok(Cd::To {
            word: w.clone(),
            home: *tilde,
        }),
        _ => Err(refused("cd: too many arguments")),
    })
}

fn refused(msg: impl Into<String>) -> Error {
    Error::refused(ErrorCode::BadRequest, msg)
}

/// Splits `s` into words with the shell's quoting. Each word comes with whether it
/// starts with an unquoted `~`. `Ok(None)` when an unquoted operator makes it a line
/// for `sh`.
fn split_words(s: &str) -> Result<Option<Vec<(String, bool)>>> {
    let mut words = Vec::new();
    let mut word: Option<(String, bool)> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                words.extend(word.take());
            }
            '\'' => {
                let w = word.get_or_insert_with(Default::default);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.0.push(c),
                        None => return Err(refused("cd: unterminated '")),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(Default::default);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.0.push(c),
                            Some(c) => {
                                w.0.push('\\');
                                w.0.push(c);
                            }
                            None => return Err(refused("cd: unterminated \"")),
                        },
                        Some(c @ ('$' | '`')) => {
                            return Err(refused(format!(
                                "cd: {c} is expanded only by a shell; run `cd` with a plain directory name"
                            )))
                        }
                        Some(c) => w.0.push(c),
                        None => return Err(refused("cd: unterminated \"")),
                    }
                }
            }
            '\\' => {
                let w = word.get_or_insert_with(Default::default);
                if let Some(c) = chars.next() {
                    w.0.push(c);
                }
            }
            c if OPERATORS.contains(&c) => return Ok(None),
            c if EXPANSIONS.contains(&c) => {
                return Err(refused(format!(
                    "cd: {c} is expanded only by a shell; run `cd` with a plain directory name"
                )))
            }
            '~' if word.is_none() => word = Some(("~".into(), true)),
            c => word.get_or_insert_with(Default::default).0.push(c),
        }
    }
    words.extend(word);
    Ok(Some(words))
}

/// Where `cd` leads from `cwd`: the directory it names, canonical; it must exist.
pub(crate) fn resolve(
    cd: &Cd,
    cwd: &Path,
    previous: &Path,
    start: &Path,
    home: &Path,
) -> Result<PathBuf> {
    let (path, shown) = match cd {
        Cd::Start => return Ok(start.to_path_buf()),
        Cd::Previous => (previous.to_path_buf(), "-".to_string()),
        Cd::To { word, home: true } => match word.strip_prefix('~') {
            Some("") => (home.to_path_buf(), word.clone()),
            Some(rest) if rest.starts_with('/') => {
                (home.join(rest.trim_start_matches('/')), word.clone())
            }
            _ => {
                return Err(refused(format!(
                    "cd: {word}: only ~ and ~/… (this account's home) are understood"
                )))
            }
        },
        Cd::To { word, home: false } => (cwd.join(word), word.clone()),
    };
    let not_found = |why: &str| Error::refused(ErrorCode::NotFound, format!("cd: {shown}: {why}"));
    let canon = path.canonicalize().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => not_found("no such file or directory"),
        std::io::ErrorKind::PermissionDenied => not_found("permission denied"),
        _ => not_found(&e.to_string()),
    })?;
    if !canon.is_dir() {
        return Err(not_found("not a directory"));
    }
    Ok(canon)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(word: &str, home: bool) -> Option<Result<Cd>> {
        Some(Ok(Cd::To {
            word: word.into(),
            home,
        }))
    }

    #[test]
    fn understands_quotes_escapes_tilde_and_dash() {
        let p = |s| parse_cd(s).map(|r| r.map_err(|e| e.to_string()));
        let to = |w, h| to(w, h).map(|r| r.map_err(|e| e.to_string()));
        assert_eq!(p("cd"), Some(Ok(Cd::Start)));
        assert_eq!(p("  cd   /tmp "), to("/tmp", false));
        assert_eq!(p(r#"cd "my dir""#), to("my dir", false));
        assert_eq!(p("cd 'my dir'"), to("my dir", false));
        assert_eq!(p(r"cd my\ dir"), to("my dir", false));
        assert_eq!(p("cd ~/x"), to("~/x", true));
        assert_eq!(p("cd '~'"), to("~", false));
        assert_eq!(p("cd -"), Some(Ok(Cd::Previous)));
        assert_eq!(p("cd /tmp && ls"), None);
        assert_eq!(p("cdrom"), None);
        assert_eq!(p("ls"), None);
        assert!(matches!(p("cd $HOME"), Some(Err(e)) if e.contains("expanded only by a shell")));
        assert!(matches!(p("cd a b"), Some(Err(e)) if e.contains("too many")));
        assert!(matches!(p("cd 'a"), Some(Err(e)) if e.contains("unterminated")));
    }

    #[test]
    fn resolves_relative_previous_home_and_refuses_missing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("my dir")).unwrap();
        std::fs::write(root.join("file"), b"x").unwrap();
        let go = |cd: &Cd, cwd: &Path| resolve(cd, cwd, Path::new("/"), &root, &root);
        let word = |w: &str, home| Cd::To {
            word: w.into(),
            home,
        };
        assert_eq!(
            go(&word("my dir", false), &root).unwrap(),
            root.join("my dir")
        );
        assert_eq!(go(&word("..", false), &root.join("my dir")).unwrap(), root);
        assert_eq!(
            go(&word("~/my dir", true), Path::new("/")).unwrap(),
            root.join("my dir")
        );
        assert_eq!(go(&Cd::Previous, &root).unwrap(), PathBuf::from("/"));
        assert_eq!(go(&Cd::Start, Path::new("/")).unwrap(), root);
        let err = go(&word("nope", false), &root).unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        assert!(
            err.to_string()
                .contains("cd: nope: no such file or directory"),
            "{err}"
        );
        let err = go(&word("file", false), &root).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
        let err = go(&word("~bob", true), &root).unwrap_err();
        assert!(err.to_string().contains("only ~ and ~/"), "{err}");
    }
}
