//! Tab completion: the prompt's commands, local paths, and items only the caller knows
//! (remote file names, chat nicks).

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};
use std::fmt;

/// The caller's candidates for a word: called with the line's command (its first word,
/// or `""` while the first word is being typed and no command matches it) and the
/// word typed so far. It may return every item it knows; only those starting with the
/// word are offered.
pub type Items = Box<dyn Fn(&str, &str) -> Vec<String> + Send + Sync>;

/// What Tab completes at a prompt.
pub struct Completion {
    commands: Vec<String>,
    local_paths: Vec<String>,
    items: Option<Items>,
}

impl fmt::Debug for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completion")
            .field("commands", &self.commands)
            .field("local_paths", &self.local_paths)
            .field("items", &self.items.is_some())
            .finish()
    }
}

impl Completion {
    /// Completes the first word from `commands`.
    pub fn commands<I: IntoIterator<Item = S>, S: Into<String>>(commands: I) -> Completion {
        Completion {
            commands: commands.into_iter().map(Into::into).collect(),
            local_paths: Vec::new(),
            items: None,
        }
    }

    /// The arguments of these commands are paths on this machine (`put`, `lcd`).
    pub fn local_paths_after<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        commands: I,
    ) -> Completion {
        self.local_paths = commands.into_iter().map(Into::into).collect();
        self
    }

    /// Every other word is completed from `items` (see [`Items`]).
    pub fn items(
        mut self,
        items: impl Fn(&str, &str) -> Vec<String> + Send + Sync + 'static,
    ) -> Completion {
        self.items = Some(Box::new(items));
        self
    }

    /// The completions of the word before byte `pos` of `line`: where that word
    /// starts, and what may replace it, sorted.
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        let start = before.rfind(char::is_whitespace).map_or(0, |i| {
            i + before[i..].chars().next().map_or(1, char::len_utf8)
        });
        let word = &before[start..];
        let first = before.trim_start();
        let command = first.split_whitespace().next().unwrap_or("");
        let in_first_word = !first.contains(char::is_whitespace);
        let found: Vec<String> = if in_first_word {
            let mut commands: Vec<String> = self
                .commands
                .iter()
                .filter(|c| c.starts_with(word))
                .cloned()
                .collect();
            commands.sort();
            commands.dedup();
            if commands.is_empty() {
                self.callers_items("", word)
            } else {
                commands
            }
        } else if self.local_paths.iter().any(|c| c == command) {
            return match FilenameCompleter::new().complete_path(line, pos) {
                Ok((start, pairs)) => (start, pairs.into_iter().map(|p| p.replacement).collect()),
                Err(_) => (start, Vec::new()),
            };
        } else {
            self.callers_items(command, word)
        };
        (start, found)
    }

    fn callers_items(&self, command: &str, word: &str) -> Vec<String> {
        let Some(items) = &self.items else {
            return Vec::new();
        };
        // A word opened with a quote is matched without it, and the candidate is put
        // back in quotes; a name with a space gets them too, so the line splits right.
        let (quote, bare) = match word.chars().next() {
            Some(q @ ('"' | '\'')) => (Some(q), &word[1..]),
            _ => (None, word),
        };
        let mut found: Vec<String> = items(command, bare)
            .into_iter()
            .filter(|item| item.starts_with(bare))
            .collect();
        found.sort();
        found.dedup();
        found
            .into_iter()
            .map(|item| match quote {
                Some(q) => format!("{q}{item}{q}"),
                None if item.contains(char::is_whitespace) => format!("\"{item}\""),
                None => item,
            })
            .collect()
    }
}

/// The editor's helper: completion only (no hints, colours or multi-line input).
pub(crate) struct Glue(pub(crate) Option<Completion>);

impl Completer for Glue {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let Some(completion) = &self.0 else {
            return Ok((pos, Vec::new()));
        };
        let (start, found) = completion.candidates(line, pos);
        let pairs = found
            .into_iter()
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for Glue {
    type Hint = String;
}
impl Highlighter for Glue {}
impl Validator for Glue {}
impl Helper for Glue {}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftp() -> Completion {
        Completion::commands(["get", "put", "ls", "lcd", "quit"])
            .local_paths_after(["put", "lcd"])
            .items(|command, _word| match command {
                "get" | "ls" => vec!["alpha.bin".into(), "another one.txt".into(), "beta".into()],
                _ => Vec::new(),
            })
    }

    #[test]
    fn the_first_word_completes_from_the_commands() {
        assert_eq!(ftp().candidates("g", 1), (0, vec!["get".to_string()]));
        assert_eq!(ftp().candidates("l", 1).1, ["lcd", "ls"]);
        assert_eq!(ftp().candidates("  q", 3), (2, vec!["quit".to_string()]));
        assert!(ftp().candidates("zz", 2).1.is_empty());
    }

    #[test]
    fn later_words_complete_from_the_callers_items_quoted_when_needed() {
        assert_eq!(
            ftp().candidates("get a", 5),
            (4, vec!["alpha.bin".into(), "\"another one.txt\"".into()])
        );
        assert_eq!(ftp().candidates("get \"an", 7).1, ["\"another one.txt\""]);
        assert!(ftp().candidates("quit a", 6).1.is_empty());
    }

    #[test]
    fn local_path_commands_complete_files_here() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("upload-me.txt"), b"x").unwrap();
        let line = format!("put {}/upl", dir.path().display());
        let (start, found) = ftp().candidates(&line, line.len());
        assert_eq!(start, 4);
        assert_eq!(found, [format!("{}/upload-me.txt", dir.path().display())]);
    }

    #[test]
    fn items_complete_the_first_word_when_no_command_matches() {
        let chat = Completion::commands(["/who", "/quit"])
            .items(|_, _| vec!["alice".into(), "bob".into()]);
        assert_eq!(chat.candidates("/w", 2).1, ["/who"]);
        assert_eq!(chat.candidates("al", 2).1, ["alice"]);
        assert_eq!(chat.candidates("hi b", 4), (3, vec!["bob".to_string()]));
    }
}
