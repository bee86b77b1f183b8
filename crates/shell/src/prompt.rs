//! The tutorial's `>> ` prompt (`shell-client -T`): one command per line.
//!
//! On a terminal the line is read by the line editor ([`socklab_prompt`]: history in
//! `$XDG_STATE_HOME/socklab/shell-client_history`, Tab completes the built-ins, Ctrl-C
//! clears the line), then the command runs on a remote PTY with the local terminal in
//! raw mode while it runs, so Ctrl-C reaches the command (as a byte the remote terminal
//! turns into SIGINT) and the session, with its `cd`, goes on; `vi` works too. From a
//! pipe, each line is a plain `exec` without input (the input is the commands), and
//! the scripting rule of [`socklab_prompt::script`] holds: the first command that
//! fails (exits non-zero, is killed, or is refused) stops the script, unless
//! `--keep-going`.

use crate::client::{on_pty, Client};
use crate::pump::EditorSignals;
use socklab_prompt::{Completion, Failure, Prompt, Step, Stopped};
use socklab_proto::{Error, Result};
use std::io::Write;

/// The words the prompt itself understands (`cd` is run by the server, without a
/// shell, so it lasts for the session): what Tab completes as the first word.
pub(crate) const BUILTINS: [&str; 3] = ["cd", "exit", "quit"];

/// What a line at the prompt asks for.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    Nothing,
    Exit(Option<u8>),
    Command(&'a str),
}

/// `exit`, `exit N` and `quit` end the session here; anything else is a command.
fn classify(line: &str) -> std::result::Result<Line<'_>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(Line::Nothing);
    }
    let mut words = line.split_whitespace();
    let first = words.next().unwrap_or_default();
    if first != "exit" && first != "quit" {
        return Ok(Line::Command(line));
    }
    match (words.next(), words.next()) {
        (None, _) => Ok(Line::Exit(None)),
        (Some(n), None) => n
            .parse::<u8>()
            .map(|n| Line::Exit(Some(n)))
            .map_err(|_| format!("{first}: {n}: an exit code is a number from 0 to 255")),
        _ => Err(format!("{first}: too many arguments")),
    }
}

/// The prompt's input: the line editor with shell-client's history and the
/// built-ins' completion on a terminal, plain lines from stdin otherwise.
pub(crate) fn open_prompt() -> Result<Prompt> {
    Prompt::stdin("shell-client", Some(Completion::commands(BUILTINS)))
        .map_err(|e| Error::io("opening the terminal", e))
}

/// Reads a command per line from `input`, runs it, and prints its output. `exit [N]`
/// or end of input leaves. On a terminal ([`Prompt::on_terminal`]) commands run on a
/// PTY and a failing one only says so.
///
/// Returns the exit code, as an interactive ssh session ends: N for `exit N`, else
/// the last command's local code (1 for a line the prompt or the server refused). A
/// script that stopped at a failing command (or, with `keep_going`, had one fail)
/// ends with the code of the last command that failed (or a non-zero `exit N`), so
/// the failure is never lost.
pub(crate) fn repl(
    client: &mut Client,
    input: &mut Prompt,
    out: &mut dyn Write,
    err: &mut dyn Write,
    keep_going: bool,
) -> Result<u8> {
    let interactive = input.on_terminal();
    // The editor holds the terminal raw: a SIGTERM there must not leave it so.
    let signals = if interactive {
        Some(EditorSignals::start(std::io::stdin())?)
    } else {
        None
    };
    let mut last = 0u8;
    let mut last_failed = 0u8;
    let mut exit_with = None;
    let end = socklab_prompt::script::run(input, ">> ", keep_going, |line| {
        let cmd = match classify(line) {
            Ok(Line::Nothing) => return Ok(Step::Next),
            Ok(Line::Exit(code)) => {
                exit_with = Some(code.unwrap_or(last));
                return Ok(Step::Quit);
            }
            Ok(Line::Command(cmd)) => cmd,
            Err(msg) => {
                (last, last_failed) = (1, 1);
                return Err(Failure::Command(msg));
            }
        };
        let result = if let Some(signals) = &signals {
            let result = on_pty(client, Some(cmd), out);
            signals.rearm();
            result
        } else {
            client.exec(cmd, out, err)
        };
        match result {
            Ok(status) => {
                last = status.local_code();
                if let (Some(cwd), true) = (&status.cwd, interactive) {
                    let _ = writeln!(err, "[{cwd}]");
                }
                if last == 0 {
                    return Ok(Step::Next);
                }
                last_failed = last;
                let what = status.describe().unwrap_or_else(|| format!("exit {last}"));
                if interactive {
                    // A person sees it and types on; the exit status is not changed.
                    let _ = writeln!(err, "[{what}]");
                    Ok(Step::Next)
                } else {
                    Err(Failure::Command(format!("{cmd}: {what}")))
                }
            }
            Err(e @ Error::Remote { .. }) => {
                // The server refused this one command (`cd nowhere`); the session lives.
                (last, last_failed) = (1, 1);
                Err(Failure::Command(e.to_string()))
            }
            Err(e) => Err(Failure::Fatal(e)),
        }
    });
    match end {
        Ok(()) => Ok(exit_with.unwrap_or(last)),
        Err(stop @ Stopped::Script { .. }) => {
            let _ = writeln!(err, "error: {stop}");
            // `exit N` with N > 0 after --keep-going still chooses the code.
            Ok(exit_with.filter(|&n| n != 0).unwrap_or(last_failed.max(1)))
        }
        Err(Stopped::Fatal(e)) => Err(e),
        Err(Stopped::Read(e)) => Err(Error::io("reading a command", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_takes_an_optional_code() {
        assert_eq!(classify("  "), Ok(Line::Nothing));
        assert_eq!(classify("exit"), Ok(Line::Exit(None)));
        assert_eq!(classify("exit 5"), Ok(Line::Exit(Some(5))));
        assert_eq!(classify("quit"), Ok(Line::Exit(None)));
        assert_eq!(classify("exitcode"), Ok(Line::Command("exitcode")));
        assert!(classify("exit x").unwrap_err().contains("0 to 255"));
        assert!(classify("exit 1 2").unwrap_err().contains("too many"));
    }
}
