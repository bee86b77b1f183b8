//! The `ftp> ` prompt: reads a line (through the line editor on a terminal, see
//! `socklab_prompt`), splits it into words, parses them as a [`Command`] and runs it,
//! reconnecting first when the last error broke the connection. `cd` and `pwd` keep a
//! remote working directory here, on the client, joined to every remote path; `lcd`
//! and `lls` change and list the local one. Fed a script, it keeps the scripting rule
//! of every prompt (`socklab_prompt::script`): it stops at the first failing command
//! unless `--keep-going`, and succeeds only if every command did.

use super::commands::{execute, Command};
use super::complete::{completion, lock, RemoteNames, Shared};
use super::cwd::{local, RemoteDir};
use super::display::explain;
use super::session::{ClientConfig, Session};
use socklab_net::tls::Trust;
use socklab_prompt::{Failure, Prompt, Step, Stopped};
use socklab_proto::{Error, Result};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Debug, clap::Parser)]
#[command(
    name = "ftp>",
    no_binary_name = true,
    disable_version_flag = true,
    after_help = "cd [DIR] and pwd: the remote working directory (kept here, joined to every \
remote path); lcd DIR and lls [DIR]: the local one.\nTab completes commands, local paths \
after put and lcd, and remote paths; Up recalls earlier lines.\n\
quit, exit, bye or Ctrl-D leaves."
)]
struct PromptLine {
    #[command(subcommand)]
    command: Command,
}

/// Reads commands from stdin until `quit` or end of input, printing each error as it
/// happens. Fed a script, it stops at the first failing command unless `keep_going`;
/// the error returned then says where (see `socklab_prompt::script`). An error is also
/// returned when the prompt cannot go on (no first connection, unreadable input).
pub(crate) fn repl(config: &ClientConfig, tls: Option<&Trust>, keep_going: bool) -> Result<()> {
    let session: Shared = Arc::new(Mutex::new(Some(Session::open(config, tls)?)));
    // The remote working directory: kept here, joined to every remote path.
    let cwd = Arc::new(Mutex::new(RemoteDir::default()));
    let names = RemoteNames::default();
    let mut input = Prompt::stdin("ftp-client", Some(completion(&session, &cwd, &names)))
        .and_then(Prompt::restore_on_sigterm)
        .map_err(|e| Error::io("opening the terminal", e))?;
    socklab_prompt::script::run(&mut input, "ftp> ", keep_going, |line| {
        // What Tab saw while this line was typed may change with this command.
        names.forget();
        let mut guard = lock(&session);
        let mut dir = lock(&cwd);
        let step = run_line(line, &mut guard, &mut dir, config, tls);
        drop((guard, dir));
        step.map_err(Failure::Command)
    })
    .map_err(|stop| match stop {
        Stopped::Fatal(e) => e,
        Stopped::Read(e) => Error::io("reading a command", e),
        script @ Stopped::Script { .. } => Error::Other(script.to_string()),
    })
}

/// Runs one prompt line; an error is the sentence `error: …` shows.
fn run_line(
    line: &str,
    session: &mut Option<Session>,
    cwd: &mut RemoteDir,
    config: &ClientConfig,
    tls: Option<&Trust>,
) -> std::result::Result<Step, String> {
    use clap::Parser;
    let failed = |e: Error| explain(&e).to_string();
    let words = split_words(line).map_err(failed)?;
    match words.first().map(String::as_str) {
        None => return Ok(Step::Next),
        Some("quit" | "exit" | "bye") => return Ok(Step::Quit),
        Some(word @ ("cd" | "pwd" | "lcd" | "lls")) => {
            return match (word, &words[1..]) {
                ("pwd", []) => {
                    println!("/{}", cwd.shown());
                    Ok(())
                }
                ("lcd", [dir]) => local::lcd(Path::new(dir)),
                ("lls", []) => local::lls(Path::new(".")),
                ("lls", [dir]) => local::lls(Path::new(dir)),
                ("cd", rest) if rest.len() <= 1 => cwd
                    .resolve(rest.first().map_or("/", String::as_str))
                    .and_then(|t| check_dir(session, config, tls, &t).map(|()| *cwd = t)),
                _ => Err(Error::Usage(format!(
                    "usage: cd [DIR] | pwd | lcd DIR | lls [DIR] (not `{}`)",
                    words.join(" ")
                ))),
            }
            .map(|()| Step::Next)
            .map_err(failed);
        }
        _ => {}
    }
    let mut parsed = match PromptLine::try_parse_from(&words) {
        Ok(p) => p,
        // `help` (and `--help`): clap's usage text, a command that succeeded.
        Err(e) if e.exit_code() == 0 => {
            let _ = e.print();
            return Ok(Step::Next);
        }
        // A typo: clap's own message, without the `error: ` the prompt adds.
        Err(e) => {
            let text = e.render().to_string();
            return Err(text.trim_start_matches("error: ").trim_end().to_owned());
        }
    };
    cwd.apply(&mut parsed.command).map_err(failed)?;
    let mut s = match session.take() {
        Some(s) => s,
        // The next command connects again; this one failed.
        None => Session::open(config, tls).map_err(failed)?,
    };
    let done = execute(&mut s, &parsed.command, &mut io::stdout().lock());
    match done {
        Ok(()) => {
            *session = Some(s);
            Ok(Step::Next)
        }
        Err(e) => {
            if !breaks_session(&e) && !s.is_closed() {
                *session = Some(s);
            }
            Err(failed(e))
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
pub(super) fn breaks_session(e: &Error) -> bool {
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
