//! Where passwords come from: a client's, to log in, and a new one for
//! `socklab-passwd`.

use crate::limits::MIN_PASSWORD_LEN;
use socklab_proto::{Error, Result};
use std::io::{BufRead, IsTerminal};
use std::path::Path;

/// Where a client's password comes from, in order: a file, the `SOCKLAB_PASSWORD`
/// environment variable, or a prompt on the terminal without echo.
pub fn client_password(password_file: Option<&Path>, prompt: &str) -> Result<String> {
    if let Some(path) = password_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading password file {}", path.display()), e))?;
        // The first line, as the flag's help says, without its line ending.
        let first = text.lines().next().unwrap_or("").trim_end_matches('\r');
        if first.is_empty() {
            return Err(Error::Usage(format!(
                "password file {} has no password on its first line",
                path.display()
            )));
        }
        return Ok(first.to_owned());
    }
    if let Ok(pw) = std::env::var("SOCKLAB_PASSWORD") {
        return Ok(pw);
    }
    rpassword::prompt_password(prompt).map_err(|e| {
        Error::Usage(format!(
            "cannot read a password from the terminal ({e}); use --password-file or SOCKLAB_PASSWORD"
        ))
    })
}

/// Reads a new password for `name`: asked twice without echo on a terminal, or the
/// first line of stdin from a pipe. Empty or shorter than [`MIN_PASSWORD_LEN`]
/// characters is refused.
pub(crate) fn new_password(name: &str) -> Result<String> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("new password for {name}: "))
            .map_err(|e| Error::io("reading the password", e))?;
        let again = rpassword::prompt_password("again: ")
            .map_err(|e| Error::io("reading the password", e))?;
        if first != again {
            return Err(Error::Usage(
                "the passwords differ; nothing was changed".into(),
            ));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Error::io("reading the password from stdin", e))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.is_empty() {
        return Err(Error::Usage(
            "the password is empty; nothing was changed".into(),
        ));
    }
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Error::Usage(format!(
            "the password is shorter than {} characters; nothing was changed",
            MIN_PASSWORD_LEN
        )));
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_gives_its_first_line_and_an_empty_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "first line\r\nsecond line\n").unwrap();
        assert_eq!(client_password(Some(&path), "").unwrap(), "first line");
        std::fs::write(&path, "").unwrap();
        let e = client_password(Some(&path), "").unwrap_err().to_string();
        assert!(e.contains("has no password on its first line"), "{e}");
        std::fs::write(&path, "\nsecret on line two\n").unwrap();
        assert!(client_password(Some(&path), "").is_err());
    }
}
