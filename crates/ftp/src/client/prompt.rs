//! The `ftp> ` prompt: reads a line, splits it into words, parses them as a
//! [`Command`] and runs it, reconnecting first when the last error broke the
//! connection. `cd` and `pwd` keep a remote working directory here, on the client,
//! joined to every remote path; `lcd` and `lls` change and list the local one.

use super::commands::{execute, Command};
use super::cwd::{local, RemoteDir};
use super::display::explain;
use super::session::{ClientConfig, Session};
use socklab_net::tls::Trust;
use socklab_proto::{Error, Result};
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;

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
    after_help = "cd [DIR] and pwd: the remote working directory (kept here, joined to every \
remote path); lcd DIR and lls [DIR]: the local one.\nquit, exit, bye or Ctrl-D leaves."
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
    // The remote working directory: kept here, joined to every remote path.
    let mut cwd = RemoteDir::default();
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
            Some(word @ ("cd" | "pwd" | "lcd" | "lls")) => {
                let done = match (word, &words[1..]) {
                    ("pwd", []) => {
                        println!("/{}", cwd.shown());
                        Ok(())
                    }
                    ("lcd", [dir]) => local::lcd(Path::new(dir)),
                    ("lls", []) => local::lls(Path::new(".")),
                    ("lls", [dir]) => local::lls(Path::new(dir)),
                    ("cd", rest) if rest.len() <= 1 => {
                        let target = cwd.resolve(rest.first().map_or("/", String::as_str));
                        match target {
                            Ok(t) => check_dir(&mut session, config, tls, &t).map(|()| cwd = t),
                            Err(e) => Err(e),
                        }
                    }
                    _ => Err(Error::Usage(format!(
                        "usage: cd [DIR] | pwd | lcd DIR | lls [DIR] (not `{}`)",
                        words.join(" ")
                    ))),
                };
                last = match done {
                    Ok(()) => LastCommand::Succeeded,
                    Err(e) => {
                        eprintln!("error: {}", explain(&e));
                        LastCommand::Failed
                    }
                };
                continue;
            }
            _ => {}
        }
        let mut parsed = match PromptLine::try_parse_from(&words) {
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
        if let Err(e) = cwd.apply(&mut parsed.command) {
            eprintln!("error: {}", explain(&e));
            last = LastCommand::Failed;
            continue;
        }
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

/// `cd DIR`: the server must have DIR, as a directory (the root always is).
fn check_dir(
    session: &mut Option<Session>,
    config: &ClientConfig,
    tls: Option<&Trust>,
    dir: &RemoteDir,
) -> Result<()> {
    let Some(path) = dir.path() else {
        return Ok(());
    };
    if session.as_ref().is_none_or(Session::is_closed) {
        *session = Some(Session::open(config, tls)?);
    }
    let Some(s) = session.as_mut() else {
        return Ok(());
    };
    match s.stat(&path) {
        Ok(info) if info.kind == crate::wire::Kind::Dir => Ok(()),
        Ok(_) => Err(Error::Usage(format!("/{} is not a directory", dir.shown()))),
        Err(e) => {
            if breaks_session(&e) {
                *session = None;
            }
            Err(e)
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
