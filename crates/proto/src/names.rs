//! File names from the network: one safe path component, or nothing.
//!
//! The tutorials joined whatever name the client sent onto a directory, so `../../etc/
//! passwd` or `/etc/passwd` walked anywhere. socklab accepts only a single printable
//! path component and refuses everything else with `invalid_name`, on both ends.

use crate::error::{Error, Result};
use crate::limits::MAX_NAME_LEN;

/// Characters that change how the text around them is shown without being seen
/// themselves: every format character (general category Cf: the bidi overrides and
/// isolates such as U+202E, zero-width spaces and joiners, U+FEFF, the soft hyphen…)
/// and the line and paragraph separators (Zl, Zp: U+2028, U+2029). With U+202E,
/// `invoice\u{202e}fdp.exe` shows as `invoiceexe.pdf`. Ranges from Unicode 15.1.
const HIDDEN: [(char, char); 21] = [
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{2028}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// True for an invisible format character or a line/paragraph separator (see
/// [`HIDDEN`]): refused in names and nicks, shown escaped in text.
pub fn is_hidden(c: char) -> bool {
    HIDDEN
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Checks that `name` is one safe path component: not empty, not `.` or `..`, no `/`,
/// `\` or NUL, no control characters, no invisible or direction-changing characters
/// ([`is_hidden`]), at most [`MAX_NAME_LEN`] bytes. (It is a `&str`,
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
    } else if name.chars().any(is_hidden) {
        Some("it contains an invisible or text-direction character")
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
/// the cursor or recolour the screen) and [`is_hidden`] characters (which could
/// reorder or hide what is shown) become escapes, everything else stays readable.
pub fn escape(name: &str) -> String {
    let mut shown = String::new();
    for c in name.chars().take(300) {
        if is_hidden(c) {
            shown.extend(c.escape_unicode());
        } else {
            shown.extend(c.escape_debug());
        }
    }
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
    fn hidden_ranges_are_sorted_for_binary_search() {
        assert!(HIDDEN.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(HIDDEN.iter().all(|(lo, hi)| lo <= hi));
        for c in ['\u{202e}', '\u{2028}', '\u{ad}', '\u{e007f}', '\u{200b}'] {
            assert!(is_hidden(c), "{c:?}");
        }
        for c in ['a', ' ', '\u{202f}', '\u{2065}', '日', '\u{e0080}'] {
            assert!(!is_hidden(c), "{c:?}");
        }
    }

    #[test]
    fn refuses_invisible_and_direction_characters() {
        // "invoice<RLO>fdp.exe" shows as "invoiceexe.pdf".
        for name in [
            "invoice\u{202e}fdp.exe",
            "a\u{200b}b",
            "\u{feff}x",
            "a\u{2028}b",
            "a\u{2066}b",
            "soft\u{ad}hyphen",
        ] {
            match validate_name(name) {
                Err(Error::InvalidName { name: shown, .. }) => {
                    assert!(shown.is_ascii(), "{shown} shows the character raw")
                }
                other => panic!("{name:?} was not refused: {other:?}"),
            }
        }
        assert_eq!(escape("a\u{202e}b"), r#""a\u{202e}b""#);
    }

    #[test]
    fn escape_neutralises_terminal_control() {
        let shown = escape("evil\x1b[2J\r\n");
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert_eq!(shown, r#""evil\u{1b}[2J\r\n""#);
    }
}
