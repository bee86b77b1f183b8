//! The rule every prompt keeps, the same for `ftp>`, `>> ` and chat.
//!
//! Fed a script (stdin is not a terminal), a prompt stops at the first command that
//! fails: it prints `error: …` for it on stderr, runs nothing after it, and the
//! program exits non-zero. With `--keep-going` it runs the rest and still exits
//! non-zero. It exits 0 only if every command succeeded. A person at a terminal sees
//! each `error: …` and goes on typing; what they mistyped does not change the exit
//! status. An error that leaves nothing to run commands on (the connection is gone)
//! ends the prompt either way.

use crate::editor::{Event, Prompt};
use std::fmt;
use std::io;

/// What a command that succeeded asks of the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Read the next line.
    Next,
    /// Leave (`quit`, `bye`, `/quit`): the prompt ends as at the end of input.
    Quit,
}

/// How a command failed.
#[derive(Debug)]
pub enum Failure<E> {
    /// This command failed (the sentence, printed as `error: …`); the next one may run.
    Command(String),
    /// Nothing more can run: the prompt ends with this error whatever the rule says.
    Fatal(E),
}

/// Why [`run`] ended in failure.
#[derive(Debug)]
pub enum Stopped<E> {
    /// A command said nothing more can run.
    Fatal(E),
    /// Reading the input failed.
    Read(io::Error),
    /// Commands of the script failed (each one's `error: …` is printed already).
    Script {
        /// How many failed.
        failed: usize,
        /// The input line of the first that failed (1 is the first line).
        first_line: usize,
        /// True when the script stopped there; false with `--keep-going`.
        stopped: bool,
    },
}

impl<E: fmt::Display> fmt::Display for Stopped<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stopped::Fatal(e) => e.fmt(f),
            Stopped::Read(e) => write!(f, "reading the commands: {e}"),
            Stopped::Script {
                first_line,
                stopped: true,
                ..
            } => write!(
                f,
                "the script stopped at line {first_line}, whose command failed \
                 (--keep-going runs the rest)"
            ),
            Stopped::Script {
                failed, first_line, ..
            } => write!(
                f,
                "{failed} command{} of the script failed, the first at line {first_line}",
                if *failed == 1 { "" } else { "s" }
            ),
        }
    }
}

/// Reads lines from `prompt`, showing `text`, and runs each that is not empty with
/// `command`, until end of input, [`Step::Quit`] or a failure the rule stops at (see
/// the module). Ctrl-C ([`Event::Interrupted`]) just reads the next line.
pub fn run<E, F>(
    prompt: &mut Prompt,
    text: &str,
    keep_going: bool,
    mut command: F,
) -> Result<(), Stopped<E>>
where
    F: FnMut(&str) -> Result<Step, Failure<E>>,
{
    let script = !prompt.on_terminal();
    let mut line_no = 0;
    let mut failed = 0;
    let mut first_line = 0;
    loop {
        let line = match prompt.read(text).map_err(Stopped::Read)? {
            Event::Line(line) => line,
            Event::Interrupted => continue,
            Event::Eof => break,
        };
        line_no += 1;
        // An empty line is no command. A line of spaces goes to `command`: to echo it
        // is a command, to ftp it is none.
        if line.is_empty() {
            continue;
        }
        match command(&line) {
            Ok(Step::Next) => {}
            Ok(Step::Quit) => break,
            Err(Failure::Fatal(e)) => return Err(Stopped::Fatal(e)),
            Err(Failure::Command(why)) => {
                eprintln!("error: {why}");
                if script {
                    failed += 1;
                    if first_line == 0 {
                        first_line = line_no;
                    }
                    if !keep_going {
                        return Err(Stopped::Script {
                            failed,
                            first_line,
                            stopped: true,
                        });
                    }
                }
            }
        }
    }
    if failed > 0 {
        return Err(Stopped::Script {
            failed,
            first_line,
            stopped: false,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// Runs `script` with commands that fail when the line says `fail` and end the
    /// prompt when it says `broken`; returns what ran and how it ended.
    fn run_script(script: &str, keep_going: bool) -> (Vec<String>, Result<(), Stopped<String>>) {
        let mut prompt = Prompt::lines(Cursor::new(script.as_bytes().to_vec()));
        let mut ran = Vec::new();
        let end = run(&mut prompt, "> ", keep_going, |line| {
            ran.push(line.to_owned());
            match line {
                "fail" => Err(Failure::Command("it failed".into())),
                "broken" => Err(Failure::Fatal("connection lost".to_owned())),
                "quit" => Ok(Step::Quit),
                _ => Ok(Step::Next),
            }
        });
        (ran, end)
    }

    #[test]
    fn a_script_stops_at_its_first_failing_command() {
        let (ran, end) = run_script("one\n\nfail\nthree\n", false);
        assert_eq!(ran, ["one", "fail"]);
        let end = end.unwrap_err();
        assert!(
            matches!(
                end,
                Stopped::Script {
                    failed: 1,
                    first_line: 3,
                    stopped: true
                }
            ),
            "{end:?}"
        );
        assert!(end.to_string().contains("stopped at line 3"), "{end}");
    }

    #[test]
    fn keep_going_runs_the_rest_and_still_fails() {
        let (ran, end) = run_script("fail\ntwo\nfail\nfour\n", true);
        assert_eq!(ran, ["fail", "two", "fail", "four"]);
        let end = end.unwrap_err();
        assert!(
            matches!(
                end,
                Stopped::Script {
                    failed: 2,
                    first_line: 1,
                    stopped: false
                }
            ),
            "{end:?}"
        );
        assert_eq!(
            end.to_string(),
            "2 commands of the script failed, the first at line 1"
        );
    }

    #[test]
    fn only_a_script_where_every_command_succeeded_succeeds() {
        let (ran, end) = run_script("one\ntwo\nquit\nnever\n", false);
        assert_eq!(ran, ["one", "two", "quit"]);
        assert!(end.is_ok(), "{end:?}");
    }

    #[test]
    fn a_fatal_error_ends_the_prompt_even_with_keep_going() {
        let (ran, end) = run_script("one\nbroken\nthree\n", true);
        assert_eq!(ran, ["one", "broken"]);
        assert_eq!(end.unwrap_err().to_string(), "connection lost");
    }
}
