//! File names from the network: one safe path component, or nothing.
//!
//! The tutorials joined whatever name the client sent onto a directory, so `../../etc/
//! passwd` or `/etc/passwd` walked anywhere. socklab accepts only a single printable
//! path component and refuses everything else with `invalid_name`, on both ends.

use crate::error::{Error, Result};
use crate::limits::MAX_NAME_LEN;

/// Checks that `name` is one safe path component: not empty, not `.` or `..`, no `/`,
/// `\` or NUL, no control characters, at most [`MAX_NAME_LEN`] bytes. (It is a `&str`,
/// so it is UTF-8 already; bytes that are not never get this far.)
pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name == "." || name == ".." {
        Some("it names a directory")
    } else if name.len() > MAX_NAME_LEN {
        Some("it is longer than 255 bytes")
    } else if name.contains(['/', '\\']) {
        Some("it contains a path separator")
    } else if name.contains('\0') {
        Some("it contains a NUL byte")
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(Error::InvalidName {
            name: escape(name),
            reason,
        }),
    }
}

/// Quotes a name for a terminal or a log line: control characters (which could move
/// the cursor or recolour the screen) become escapes, everything else stays readable.
pub fn escape(name: &str) -> String {
    let shown: String = name
        .chars()
        .take(300)
        .flat_map(char::escape_debug)
        .collect();
    if name.chars().count() > 300 {
        format!("\"{shown}…\"")
    } else {
        format!("\"{shown}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_hostile_names() {
        let long = "a".repeat(256);
        let hostile = [
            "",
            ".",
            "..",
            "/",
            "/etc/passwd",
            "../x",
            "a/b",
            "a\\b",
            "..\\x",
            "a\0b",
            "\n",
            "a\nb",
            "\r",
            "\t",
            "\x1b[2J",
            "x\x07",
            "\x7f",
            "\u{85}",
            &long,
        ];
        for name in hostile {
            match validate_name(name) {
                Err(Error::InvalidName { .. }) => {}
                other => panic!("{name:?} was not refused: {other:?}"),
            }
        }
    }

    #[test]
    fn accepts_ordinary_names() {
        for name in [
            "a.bin",
            ".hidden",
            "..foo",
            "日本語.txt",
            "with space",
            &"a".repeat(255),
        ] {
            validate_name(name).unwrap();
        }
    }

    #[test]
    fn escape_neutralises_terminal_control() {
        let shown = escape("evil\x1b[2J\r\n");
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert_eq!(shown, r#""evil\u{1b}[2J\r\n""#);
    }
}
