//! Where the lines come from: the line editor on a terminal, plain lines otherwise.

use crate::complete::{Completion, Glue};
use crate::limits::{MAX_HISTORY, MAX_LISTED_CANDIDATES};
use crate::restore::OnSignals;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Behavior, CompletionType, Config, EditMode, Editor, ExternalPrinter};
use std::fmt;
use std::io::{self, BufRead, IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;

/// What one read gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A line, without its line ending.
    Line(String),
    /// Ctrl-C: the line being typed was thrown away. Callers read the next one.
    Interrupted,
    /// Ctrl-D on an empty line, or the end of the script.
    Eof,
}

/// A source of command lines.
pub struct Prompt {
    source: Source,
}

enum Source {
    Terminal {
        editor: Box<Editor<Glue, FileHistory>>,
        /// `None` when the history is kept in memory only (no home, or asked so).
        history: Option<PathBuf>,
        /// Set by [`Prompt::restore_on_sigterm`].
        restore: Option<OnSignals>,
    },
    Lines {
        input: Box<dyn BufRead + Send>,
        /// Where the prompt text is shown off a terminal (`echo-client --prompt`).
        show: Option<Box<dyn Write + Send>>,
    },
}

impl fmt::Debug for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Terminal { history, .. } => f
                .debug_struct("Prompt::Terminal")
                .field("history", history)
                .finish(),
            Source::Lines { show, .. } => f
                .debug_struct("Prompt::Lines")
                .field("shows_prompt", &show.is_some())
                .finish(),
        }
    }
}

/// The history file of `tool`: `$XDG_STATE_HOME/socklab/<tool>_history`, where
/// `XDG_STATE_HOME` defaults to `~/.local/state`. `None` without either.
pub fn history_path(tool: &str) -> Option<PathBuf> {
    history_under(
        std::env::var_os("XDG_STATE_HOME"),
        std::env::var_os("HOME"),
        tool,
    )
}

/// [`history_path`] for the given `XDG_STATE_HOME` and `HOME`.
fn history_under(
    xdg_state_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
    tool: &str,
) -> Option<PathBuf> {
    // The XDG base directory spec: a relative value is invalid and must be ignored.
    let state = xdg_state_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(".local").join("state"))
        })?;
    Some(state.join("socklab").join(format!("{tool}_history")))
}

impl Prompt {
    /// Reads stdin: through the line editor when stdin and stdout are a terminal, with
    /// `tool`'s history file and `completion`; as plain lines otherwise.
    pub fn stdin(tool: &str, completion: Option<Completion>) -> io::Result<Prompt> {
        if io::stdin().is_terminal() && io::stdout().is_terminal() {
            Prompt::terminal(history_path(tool), completion)
        } else {
            Ok(Prompt::lines(io::BufReader::new(io::stdin())))
        }
    }

    /// The line editor on the terminal, with its history kept in `history` (created
    /// with mode 0600 in a directory of mode 0700) or only in memory.
    pub fn terminal(
        history: Option<PathBuf>,
        completion: Option<Completion>,
    ) -> io::Result<Prompt> {
        let config = Config::builder()
            .edit_mode(EditMode::Emacs)
            .behavior(Behavior::Stdio)
            .max_history_size(MAX_HISTORY)
            .map_err(io::Error::other)?
            .history_ignore_dups(true)
            .map_err(io::Error::other)?
            // As in bash: a line typed with a leading space stays out of the history.
            .history_ignore_space(true)
            .auto_add_history(false)
            .completion_type(CompletionType::List)
            .completion_prompt_limit(MAX_LISTED_CANDIDATES)
            .build();
        let mut editor: Editor<Glue, FileHistory> = Editor::with_config(config).map_err(to_io)?;
        editor.set_helper(Some(Glue(completion)));
        let history = history.and_then(|path| match prepare_history(&path) {
            Ok(()) => Some(path),
            Err(e) => {
                eprintln!("warning: history not kept in {}: {e}", path.display());
                None
            }
        });
        if let Some(path) = &history {
            if path.exists() {
                if let Err(e) = editor.load_history(path) {
                    eprintln!("warning: cannot read the history {}: {e}", path.display());
                }
            }
        }
        Ok(Prompt {
            source: Source::Terminal {
                editor: Box::new(editor),
                history,
                restore: None,
            },
        })
    }

    /// On a terminal, makes SIGTERM put the terminal's modes back before it ends the
    /// program, so a `kill` while the editor holds the terminal raw does not leave it
    /// raw. For programs with no SIGTERM handling of their own; nothing off a terminal.
    pub fn restore_on_sigterm(mut self) -> io::Result<Prompt> {
        if let Source::Terminal { restore, .. } = &mut self.source {
            if restore.is_none() {
                let tty = io::stdin().as_fd().try_clone_to_owned()?;
                *restore = Some(OnSignals::start(
                    &[signal_hook::consts::SIGTERM],
                    Some(tty),
                    || {},
                )?);
            }
        }
        Ok(self)
    }

    /// Plain lines from `input`: a script, a pipe, a test's bytes.
    pub fn lines(input: impl BufRead + Send + 'static) -> Prompt {
        Prompt {
            source: Source::Lines {
                input: Box::new(input),
                show: None,
            },
        }
    }

    /// Off a terminal, writes the prompt text to `out` before each read, and a newline
    /// at the end of input, as a terminal would show them. No effect on a terminal.
    pub fn show_prompt_off_terminal(mut self, out: impl Write + Send + 'static) -> Prompt {
        if let Source::Lines { show, .. } = &mut self.source {
            *show = Some(Box::new(out));
        }
        self
    }

    /// True when a person types the lines (the line editor is in use).
    pub fn on_terminal(&self) -> bool {
        matches!(self.source, Source::Terminal { .. })
    }

    /// Shows `prompt` and reads a line, and keeps it in the history.
    pub fn read(&mut self, prompt: &str) -> io::Result<Event> {
        match &mut self.source {
            Source::Terminal {
                editor, history, ..
            } => match editor.readline(prompt) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        remember(editor, history.as_deref(), &line);
                    }
                    Ok(Event::Line(line))
                }
                Err(ReadlineError::Interrupted) => Ok(Event::Interrupted),
                Err(ReadlineError::Eof) => Ok(Event::Eof),
                Err(e) => Err(to_io(e)),
            },
            Source::Lines { input, show } => {
                if let Some(out) = show {
                    out.write_all(prompt.as_bytes())?;
                    out.flush()?;
                }
                let mut line = String::new();
                if input.read_line(&mut line)? == 0 {
                    if let Some(out) = show {
                        out.write_all(b"\n")?;
                        out.flush()?;
                    }
                    return Ok(Event::Eof);
                }
                if line.ends_with('\n') {
                    line.pop();
                    if line.ends_with('\r') {
                        line.pop();
                    }
                }
                Ok(Event::Line(line))
            }
        }
    }

    /// A handle another thread prints through: on a terminal, each line appears above
    /// the line being typed, which is drawn again below it, unbroken. `None` off a
    /// terminal, where output is plain lines on stdout anyway.
    pub fn printer(&mut self) -> Option<Printer> {
        match &mut self.source {
            Source::Terminal { editor, .. } => match editor.create_external_printer() {
                Ok(p) => Some(Printer(Box::new(p))),
                Err(e) => {
                    eprintln!("warning: cannot print above the input line: {e}");
                    None
                }
            },
            Source::Lines { .. } => None,
        }
    }
}

/// Prints whole lines above the line being edited, from any thread.
pub struct Printer(Box<dyn ExternalPrinter + Send>);

impl fmt::Debug for Printer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Printer")
    }
}

impl Printer {
    /// Prints `line` (a newline is added) above the input line.
    pub fn print_line(&mut self, line: &str) -> io::Result<()> {
        let mut text = String::with_capacity(line.len() + 1);
        text.push_str(line);
        text.push('\n');
        self.0.print(text).map_err(to_io)
    }
}

/// Adds `line` to the history and appends it to the file at once, so a session that
/// ends by a signal keeps it, and two sessions of a tool interleave rather than
/// overwrite each other (the editor locks the file while it writes).
fn remember(editor: &mut Editor<Glue, FileHistory>, path: Option<&std::path::Path>, line: &str) {
    if !matches!(editor.add_history_entry(line), Ok(true)) {
        return;
    }
    if let Some(path) = path {
        if let Err(e) = editor.append_history(path) {
            eprintln!("warning: cannot write the history {}: {e}", path.display());
        }
    }
}

/// Makes the history's directory (mode 0700: what was typed is private) and file
/// (mode 0600).
fn prepare_history(path: &std::path::Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map(drop)
}

fn to_io(e: ReadlineError) -> io::Error {
    match e {
        ReadlineError::Io(e) => e,
        e => io::Error::other(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn plain_lines_come_without_their_endings_then_eof() {
        let mut p = Prompt::lines(Cursor::new(b"one\r\ntwo\n\nthree".to_vec()));
        assert!(!p.on_terminal());
        let mut got = Vec::new();
        while let Event::Line(l) = p.read("> ").unwrap() {
            got.push(l);
        }
        assert_eq!(got, ["one", "two", "", "three"]);
        assert_eq!(p.read("> ").unwrap(), Event::Eof);
        assert!(p.printer().is_none());
    }

    #[test]
    fn a_line_longer_than_a_terminal_buffer_comes_whole() {
        let long = "x".repeat(100_000);
        let mut p = Prompt::lines(Cursor::new(format!("{long}\n").into_bytes()));
        assert_eq!(p.read("").unwrap(), Event::Line(long));
    }

    #[test]
    fn history_lives_under_xdg_state_home_or_home() {
        let os = |s: &str| Some(std::ffi::OsString::from(s));
        assert_eq!(
            history_under(os("/state"), os("/home/u"), "ftp-client").unwrap(),
            PathBuf::from("/state/socklab/ftp-client_history")
        );
        // A relative XDG_STATE_HOME is invalid by the spec, and ignored.
        assert_eq!(
            history_under(os("relative"), os("/home/u"), "chat-client").unwrap(),
            PathBuf::from("/home/u/.local/state/socklab/chat-client_history")
        );
        assert_eq!(history_under(None, None, "echo-client"), None);
    }

    #[test]
    fn history_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/socklab/echo-client_history");
        prepare_history(&path).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }
}
