//! The tutorial's `>> ` prompt (`shell-client -T`): one command per line.
//!
//! On a terminal each command runs on a remote PTY with the local terminal in raw mode
//! while it runs, so Ctrl-C reaches the command (as a byte the remote terminal turns
//! into SIGINT) and the session, with its `cd`, goes on; `vi` works too. From a pipe,
//! each line is a plain `exec` without input (the input is the commands).

use crate::client::{on_pty, Client};
use socklab_proto::{Error, Result};
use std::io::{BufRead, Write};

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

/// Reads a command per line from `input`, runs it, and prints its output. `exit [N]`
/// or end of input leaves. `interactive` (stdin is a terminal) shows the prompt and
/// runs commands on a PTY. Returns N, or the last command's local exit code, as an
/// interactive ssh session does.
pub(crate) fn repl(
    client: &mut Client,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
    interactive: bool,
) -> Result<u8> {
    let mut last = 0;
    let mut line = String::new();
    loop {
        if interactive {
            let _ = write!(out, ">> ");
            let _ = out.flush();
        }
        line.clear();
        let n = input
            .read_line(&mut line)
            .map_err(|e| Error::io("reading a command", e))?;
        if n == 0 {
            if interactive {
                let _ = writeln!(out);
            }
            return Ok(last);
        }
        let cmd = match classify(&line) {
            Ok(Line::Nothing) => continue,
            Ok(Line::Exit(code)) => return Ok(code.unwrap_or(last)),
            Ok(Line::Command(cmd)) => cmd,
            Err(msg) => {
                let _ = writeln!(err, "{msg}");
                last = 1;
                continue;
            }
        };
        let result = if interactive {
            on_pty(client, Some(cmd), out)
        } else {
            client.exec(cmd, out, err)
        };
        match result {
            Ok(status) => {
                last = status.local_code();
                if let (Some(cwd), true) = (&status.cwd, interactive) {
                    let _ = writeln!(err, "[{cwd}]");
                }
                if let Some(what) = status.describe() {
                    let _ = writeln!(err, "[{what}]");
                } else if last != 0 && interactive {
                    let _ = writeln!(err, "[exit {last}]");
                }
            }
            Err(e @ Error::Remote { .. }) => {
                // The server refused this one command (`cd nowhere`); the session lives.
                let _ = writeln!(err, "error: {e}");
                last = 1;
            }
            Err(e) => return Err(e),
        }
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
