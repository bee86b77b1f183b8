//! What the user sees besides the results: names made safe for a terminal, times in
//! the local zone, the progress bar, and each error with what to do about it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use socklab_proto::names::escape;
use socklab_proto::{Error, ErrorCode};
use std::fmt;
use std::io::{self, IsTerminal};

/// A name as the user sees it: plain when it is harmless, escaped and quoted when it
/// holds anything a terminal could interpret.
pub(super) fn shown(name: &str) -> String {
    let quoted = escape(name);
    if quoted == format!("\"{name}\"") && !name.contains(' ') {
        name.to_owned()
    } else {
        quoted
    }
}

/// `mtime` (seconds since 1970, as the server sends it) in this machine's time zone
/// (`TZ`, else /etc/localtime), in `format` (strftime): `ls -l --time-style=long-iso`
/// shows `2026-11-23 22:40`. 0 is what the server sends when it does not know (see
/// `store::info`), shown as `?`; a time no calendar can show is printed as `@SECONDS`.
pub(super) fn local_time(mtime: u64, format: &str) -> String {
    if mtime == 0 {
        return "?".into();
    }
    i64::try_from(mtime)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime(format)
                .to_string()
        })
        .unwrap_or_else(|| format!("@{mtime}"))
}

/// A progress bar on stderr for a transfer of `len` bytes starting at `pos`, or a
/// hidden one when it is not `enabled` or stderr is not a terminal.
pub(super) fn progress_bar(enabled: bool, len: u64, pos: u64, name: &str) -> ProgressBar {
    if !enabled || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(shown(name));
    bar.set_position(pos);
    bar.reset_eta();
    bar
}

/// `e` as the client prints it: `<what> (<code>): <what to do>` for a refusal, a
/// checksum mismatch or a bad name, `e` itself otherwise. The error keeps its kind:
/// this only decides how it reads.
pub(crate) fn explain(e: &Error) -> Explained<'_> {
    Explained(e)
}

/// See [`explain`].
#[derive(Debug)]
pub(crate) struct Explained<'a>(&'a Error);

impl fmt::Display for Explained<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        let code = match e {
            Error::Remote {
                code: ErrorCode::Exists,
                message,
            }
            | Error::Refused {
                code: ErrorCode::Exists,
                message,
            } => {
                return write!(f, "{message} (exists): {}", exists_hint(message));
            }
            Error::Remote { code, message } | Error::Refused { code, message } => {
                return write!(f, "{message} ({code}): {}", hint(*code));
            }
            Error::ChecksumMismatch { .. } => ErrorCode::ChecksumMismatch,
            Error::InvalidName { .. } => ErrorCode::InvalidName,
            _ => return write!(f, "{e}"),
        };
        write!(f, "{e} ({code}): {}", hint(code))
    }
}

/// What to do about `exists`: `--overwrite` only where it would help (not for a
/// directory in the way, nor where the message already says what to do).
fn exists_hint(message: &str) -> &'static str {
    let said = ["--overwrite", "--resume", "is a directory", "not empty"];
    if said.iter().any(|s| message.contains(s)) {
        "nothing was changed"
    } else if super::hints::overwrite_helps() {
        hint(ErrorCode::Exists)
    } else {
        "pick another name, or delete what is there first"
    }
}

/// What the user can do about an error with this code.
fn hint(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::AuthFailed => "check --user and the password",
        ErrorCode::AuthRequired => "this server needs a login: pass --user NAME",
        ErrorCode::NotFound => "`ls` shows what the server has",
        ErrorCode::Exists => "pass --overwrite to replace it",
        ErrorCode::InvalidName => {
            "a name is one path component: no / or \\, no control characters, at most 255 bytes of UTF-8"
        }
        ErrorCode::TooLarge => "the server's --max-file-size is smaller than this file",
        ErrorCode::ChecksumMismatch => {
            "the data was damaged on the way, or the partial copy was of another file; nothing was kept under the final name, try again without --resume"
        }
        ErrorCode::Timeout => "the transfer stalled; run the same command with --resume to continue",
        ErrorCode::Busy => "the server is at its connection limit or another client is uploading that name; try again shortly",
        ErrorCode::Forbidden => "the server is read-only for you (--read-only, or anonymous access)",
        ErrorCode::BadRequest => "the client and server disagree about the protocol",
        ErrorCode::Internal => "the server failed; its log says why",
        ErrorCode::TlsRequired => "the server requires TLS: add --tls",
        ErrorCode::Unknown => "the server is newer than this client",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_escapes_only_what_needs_it() {
        assert_eq!(shown("a.bin"), "a.bin");
        assert_eq!(shown("two words"), "\"two words\"");
        let evil = shown("x\u{1b}[2J\u{202e}");
        assert!(
            !evil.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{evil}"
        );
    }

    #[test]
    fn every_error_code_gets_a_hint() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::AuthRequired,
            ErrorCode::AuthFailed,
            ErrorCode::NotFound,
            ErrorCode::Exists,
            ErrorCode::InvalidName,
            ErrorCode::TooLarge,
            ErrorCode::ChecksumMismatch,
            ErrorCode::Timeout,
            ErrorCode::Busy,
            ErrorCode::Forbidden,
            ErrorCode::Internal,
            ErrorCode::Unknown,
        ] {
            let e = Error::Remote {
                code,
                message: "the server said so".into(),
            };
            let text = explain(&e).to_string();
            assert!(
                text.starts_with(&format!("the server said so ({code}): ")),
                "{text}"
            );
            assert!(text.len() > "the server said so (x): ".len() + 10, "{text}");
        }
    }

    #[test]
    fn explain_keeps_errors_without_a_code_as_they_are() {
        let e = Error::Timeout("reading the download".into());
        assert_eq!(explain(&e).to_string(), e.to_string());
    }
}
