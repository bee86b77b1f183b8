//! The `ftp> ` prompt: reads a line, splits it into words, parses them as a
//! [`Command`] and runs it, reconnecting first when the last error broke the
//! connection.

use super::commands::{execute, Command};
use super::display::explain;
use super::session::{ClientConfig, Session};
use socklab_net::tls::Trust;
use socklab_proto::{Error, Result};
use std::io::{self, BufRead, IsTerminal, Write};

/// How the prompt's last command went: what the exit code of a script of commands
/// reports, as in a shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum LastCommand {
    /// It succeeded, or there was none.
    Succeeded,
    /// It failed, and its error was printed then.
    Failed,
}

#[derive(Debug, clap::Parser)]
#[command(
    name = "ftp>",
    no_binary_name = true,
    disable_version_flag = true,
    after_help = "quit, exit, bye or Ctrl-D leaves."
)]
struct PromptLine {
    #[command(subcommand)]
    command: Command,
}

/// Reads commands from `input` until `quit` or end of input, printing each error as
/// it happens. An error is returned only when the prompt itself cannot go on (no
/// first connection, unreadable input).
pub(crate) fn repl(
    config: &ClientConfig,
    tls: Option<&Trust>,
    input: &mut dyn BufRead,
) -> Result<LastCommand> {
    use clap::Parser;
    let interactive = io::stdin().is_terminal();
    let mut session = Some(Session::open(config, tls)?);
    let mut last = LastCommand::Succeeded;
    let mut line = String::new();
    loop {
        if interactive {
            eprint!("ftp> ");
            let _ = io::stderr().flush();
        }
        line.clear();
        if input
            .read_line(&mut line)
            .map_err(|e| Error::io("reading a command", e))?
            == 0
        {
            return Ok(last);
        }
        let words = match split_words(&line) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("error: {e}");
                continue;
            }
        };
        match words.first().map(String::as_str) {
            None => continue,
            Some("quit" | "exit" | "bye") => return Ok(last),
            _ => {}
        }
        let parsed = match PromptLine::try_parse_from(&words) {
            Ok(p) => p,
            Err(e) => {
                // clap's own text: usage for `help` (a command that succeeded), an
                // error for a typo, which also makes a script's exit code say that
                // something went wrong.
                let _ = e.print();
                last = if e.exit_code() == 0 {
                    LastCommand::Succeeded
                } else {
                    LastCommand::Failed
                };
                continue;
            }
        };
        let mut s = match session.take() {
            Some(s) => s,
            None => match Session::open(config, tls) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {}", explain(&e));
                    last = LastCommand::Failed;
                    continue;
                }
            },
        };
        let mut out = io::stdout().lock();
        match execute(&mut s, &parsed.command, &mut out) {
            Ok(()) => {
                last = LastCommand::Succeeded;
                session = Some(s);
            }
            Err(e) => {
                eprintln!("error: {}", explain(&e));
                last = LastCommand::Failed;
                if !breaks_session(&e) && !s.is_closed() {
                    session = Some(s);
                }
            }
        }
    }
}

/// True when an error leaves the connection in an unknown state (a broken stream, a
/// half-sent body): the prompt reconnects before the next command.
fn breaks_session(e: &Error) -> bool {
    !matches!(
        e,
        Error::Remote { .. } | Error::Refused { .. } | Error::InvalidName { .. }
    )
}

/// Splits a prompt line into words; double or single quotes keep spaces in a name.
fn split_words(line: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(Error::Usage("unterminated quote".into()));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_words_keeps_quoted_spaces() {
        assert_eq!(
            split_words("get \"two words.txt\" -o 'x y'").unwrap(),
            ["get", "two words.txt", "-o", "x y"]
        );
        assert_eq!(split_words("  ls  ").unwrap(), ["ls"]);
        assert_eq!(split_words("get \"\"").unwrap(), ["get", ""]);
        assert!(split_words("get \"open").is_err());
    }
}
