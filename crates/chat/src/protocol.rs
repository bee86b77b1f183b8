//! The chat's line protocol: what a datagram means, and the small rules every message
//! goes through (trimming, control characters, nicks, the word filter, the rate cap).
//!
//! One datagram is one message. UDP keeps message boundaries, so, unlike the TCP
//! lessons, there is no length prefix: the kernel hands `recv_from` exactly one
//! datagram, whole, or (if the buffer is too small) cut, and says so.
//!
//! ```text
//! client -> server   text            a message for everyone else
//!                    /nick NAME      take a nick (the first datagram may be this: join as NAME)
//!                    /who            list the members
//!                    /me ACTION      "* nick ACTION"
//!                    /quit           leave
//!                    /help           the commands, in one line (answered by the server)
//!                    /ping           heartbeat: "I am still here" (answered with /pong)
//!                    /join TOKEN [NICK]  join with the server's cookie (see `cookie`)
//!                    //text          a message that starts with "/"
//! server -> client   <nick> text     relayed message
//!                    * nick action   relayed /me
//!                    *** …           joins, leaves, renames, expiries, /who, welcome
//!                    [server] …      a line typed on the server's stdin
//!                    error: …        your datagram was refused, and why
//!                    /pong           answer to /ping
//!                    *** to join, type: /join TOKEN   a new address must echo TOKEN first
//!                                    (beyond loopback or with --verify-join)
//! ```
//!
//! Every server datagram is one line ending in `\n`, so `nc -u` prints it as it comes.

use socklab_proto::names::is_hidden;
use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;
use unicode_security::skeleton;

/// What a client datagram asks for, once trimmed and decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Plain text for the other members (may be empty: a bare join from `nc -u`).
    Say(String),
    /// `/nick NAME`.
    Nick(String),
    /// `/who`.
    Who,
    /// `/me ACTION`.
    Me(String),
    /// `/quit`.
    Quit,
    /// `/ping`.
    Ping,
    /// `/help`.
    Help,
    /// `/join TOKEN [NICK]`: the answer to the server's cookie.
    Join {
        /// The token the server handed this address.
        token: String,
        /// The nick to join as, if any.
        nick: Option<String>,
    },
    /// A `/word` the server does not know (the word, for the error line).
    Unknown(String),
}

/// The commands a person types, with what each does: the server's `/help` answer and
/// what chat-client completes with Tab.
pub const COMMANDS: &[(&str, &str)] = &[
    ("/nick NAME", "renames you"),
    ("/who", "lists the members"),
    ("/me ACTION", "says \"* you ACTION\""),
    ("/quit", "leaves"),
    ("/help", "shows this"),
];

/// The `/help` answer: every command in one line (one datagram), so that `nc -u`
/// shows it whole.
pub fn help_line() -> String {
    let commands: Vec<String> = COMMANDS
        .iter()
        .map(|(usage, what)| format!("{usage} {what}"))
        .collect();
    format!(
        "*** commands: {}; //text sends text that starts with /",
        commands.join(", ")
    )
}

/// The heartbeat a client sends.
pub(crate) const PING: &str = "/ping";
/// The server's answer to [`PING`]; clients hide it.
pub(crate) const PONG: &str = "/pong";

/// Removes what a terminal or `nc` adds at the end of a line (`\n`, `\r\n`) and any
/// trailing spaces or tabs. It works on bytes, before decoding, so the length limit is
/// checked on exactly what will be relayed.
pub fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r' | b' ' | b'\t'))
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// Decodes a datagram as UTF-8, showing invalid bytes as U+FFFD (never failing), and
/// replaces control characters (escape sequences, newlines inside the message, bell)
/// with U+FFFD too: a peer must not be able to move other members' cursors, clear
/// their screens, or forge a second line that looks like a server notice. Invisible
/// format characters and separators ([`is_hidden`]: U+202E reverses what follows,
/// U+2028 starts a new line in some terminals) are shown as escapes, `\u{202e}`.
pub fn decode(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' => out.push(' '),
            c if c.is_control() => out.push(char::REPLACEMENT_CHARACTER),
            c if is_hidden(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

/// The forms of a nick that must differ from every other member's: its UTS #39
/// confusable skeleton (`аlice` with a Cyrillic а, `ａlice`, `aIice` all give `alice`'s)
/// and the skeleton of its lower case (nicks are unique regardless of case).
pub(crate) fn nick_keys(nick: &str) -> [String; 2] {
    [
        skeleton(nick).collect(),
        skeleton(&nick.to_lowercase()).collect(),
    ]
}

/// Parses a decoded, trimmed message.
pub fn parse(text: &str) -> Command {
    if let Some(escaped) = text.strip_prefix("//") {
        return Command::Say(format!("/{escaped}"));
    }
    let Some(rest) = text.strip_prefix('/') else {
        return Command::Say(text.to_owned());
    };
    let (word, arg) = match rest.split_once(char::is_whitespace) {
        Some((w, a)) => (w, a.trim()),
        None => (rest, ""),
    };
    match word {
        "nick" => Command::Nick(arg.to_owned()),
        "who" => Command::Who,
        "me" => Command::Me(arg.to_owned()),
        "quit" => Command::Quit,
        "ping" => Command::Ping,
        "help" => Command::Help,
        "join" => {
            let mut words = arg.split_whitespace();
            Command::Join {
                token: words.next().unwrap_or_default().to_owned(),
                nick: words.next().map(str::to_owned),
            }
        }
        other => Command::Unknown(other.to_owned()),
    }
}

/// Checks a nick: 1 to [`crate::limits::MAX_NICK_LEN`] bytes of letters, digits, `-`,
/// `_` or `.`. Spaces, brackets and `*` are refused so a nick can never make a line
/// look like `[server] …` or `*** …`.
pub fn validate_nick(nick: &str) -> Result<(), String> {
    // Letters exclude them already; said outright, since a nick is shown to everyone.
    if nick.chars().any(is_hidden) {
        return Err("a nick may not contain invisible or text-direction characters".into());
    }
    let ok_chars = nick
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if nick.is_empty() || nick.len() > crate::limits::MAX_NICK_LEN || !ok_chars {
        return Err(format!(
            "a nick is 1 to {} bytes of letters, digits, '-', '_' or '.'",
            crate::limits::MAX_NICK_LEN
        ));
    }
    Ok(())
}

/// Words to mask, loaded from `--filter FILE`: one word per line, blank lines and
/// `#` comments ignored, matched whole-word and case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    words: HashSet<String>,
}

impl Filter {
    /// A filter that masks nothing.
    pub fn none() -> Self {
        Self::default()
    }

    /// A filter from a list of words.
    pub fn from_words<I: IntoIterator<Item = S>, S: AsRef<str>>(words: I) -> Self {
        let words = words
            .into_iter()
            .map(|w| w.as_ref().trim().to_lowercase())
            .filter(|w| !w.is_empty() && !w.starts_with('#'))
            .collect();
        Filter { words }
    }

    /// Reads `--filter FILE`.
    pub fn load(path: &Path) -> socklab_proto::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            socklab_proto::Error::io(format!("reading the filter file {}", path.display()), e)
        })?;
        Ok(Self::from_words(text.lines()))
    }

    /// How many words it masks.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// True when it masks nothing.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Replaces every listed word in `text` with as many `*` as it has characters.
    /// A word is a run of letters and digits, so "darn!" and "Darn" match "darn" but
    /// "darning" does not. A production filter would also catch l33t spellings and
    /// would live in the client too, where each user could choose it.
    pub fn mask(&self, text: &str) -> String {
        if self.words.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut word = String::new();
        for c in text.chars() {
            if c.is_alphanumeric() {
                word.push(c);
            } else {
                self.flush_word(&mut word, &mut out);
                out.push(c);
            }
        }
        self.flush_word(&mut word, &mut out);
        out
    }

    fn flush_word(&self, word: &mut String, out: &mut String) {
        if self.words.contains(&word.to_lowercase()) {
            out.push_str(&"*".repeat(word.chars().count()));
        } else {
            out.push_str(word);
        }
        word.clear();
    }
}

/// A token bucket: `rate` tokens a second, at most `burst` saved up. Each datagram
/// takes one; with none left it is dropped. This is how routers and APIs cap rates:
/// a member may type quickly for a moment but not flood.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            tokens: burst,
            rate: rate.max(0.0),
            burst,
            last: now,
        }
    }

    /// Takes a token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn trims_line_endings_and_trailing_spaces_only() {
        assert_eq!(trim_end(b"  hi there \r\n"), b"  hi there");
        assert_eq!(trim_end(b"\n\n"), b"");
        assert_eq!(trim_end(b""), b"");
    }

    #[test]
    fn invalid_utf8_and_control_characters_become_replacement_characters() {
        assert_eq!(decode(b"ok \xff\xfe"), "ok \u{fffd}\u{fffd}");
        assert_eq!(decode(b"a\x1b[2Jb\nc\td"), "a\u{fffd}[2Jb\u{fffd}c d");
        assert_eq!(
            decode("a\u{202e}b\u{2028}c".as_bytes()),
            r"a\u{202e}b\u{2028}c"
        );
    }

    #[test]
    fn parses_commands_and_escaped_slash() {
        assert_eq!(parse("hello"), Command::Say("hello".into()));
        assert_eq!(parse("/nick  alice"), Command::Nick("alice".into()));
        assert_eq!(parse("/me waves hello"), Command::Me("waves hello".into()));
        assert_eq!(parse("/who"), Command::Who);
        assert_eq!(parse("/quit"), Command::Quit);
        assert_eq!(parse("/ping"), Command::Ping);
        assert_eq!(parse("/help"), Command::Help);
        assert_eq!(
            parse("/join 00ff bob"),
            Command::Join {
                token: "00ff".into(),
                nick: Some("bob".into())
            }
        );
        assert_eq!(
            parse("/join"),
            Command::Join {
                token: String::new(),
                nick: None
            }
        );
        assert_eq!(parse("/dance"), Command::Unknown("dance".into()));
        assert_eq!(parse("//etc/passwd"), Command::Say("/etc/passwd".into()));
    }

    #[test]
    fn nick_rules_refuse_spaces_brackets_and_long_names() {
        assert!(validate_nick("alice_2.0-x").is_ok());
        assert!(validate_nick("émile").is_ok());
        for bad in [
            "",
            "a b",
            "[server]",
            "***",
            &"x".repeat(33),
            "a\u{202e}b",
            "a\u{200d}b",
        ] {
            assert!(validate_nick(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn look_alike_nicks_share_a_key() {
        let alice = nick_keys("alice");
        for same in ["\u{430}lice", "\u{ff41}lice", "aIice", "ALICE", "Alice"] {
            let k = nick_keys(same);
            assert!(k[0] == alice[0] || k[1] == alice[1], "{same:?}");
        }
        let k = nick_keys("alicia");
        assert!(k[0] != alice[0] && k[1] != alice[1]);
    }

    #[test]
    fn filter_masks_whole_words_case_insensitively() {
        let f = Filter::from_words(["darn", "# comment", "", "heck"]);
        assert_eq!(f.len(), 2);
        assert_eq!(f.mask("Darn it, heck! darning"), "**** it, ****! darning");
        assert_eq!(Filter::none().mask("darn"), "darn");
    }

    #[test]
    fn token_bucket_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2.0, 3, t0);
        assert!((0..3).all(|_| b.take(t0)));
        assert!(!b.take(t0));
        assert!(b.take(t0 + Duration::from_millis(500)));
        assert!(!b.take(t0 + Duration::from_millis(500)));
    }
}
