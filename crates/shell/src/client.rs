//! The shell client: connect, log in, then run commands, one-shot or in a `>> ` loop.

use crate::request::ShellRequest;
use crate::wire::{read_incoming, ExitStatus, Incoming, StreamName};
use socklab_auth::client_login;
use socklab_net::socket::connect;
use socklab_net::{Connection, Deadlines, NO_DEADLINE};
use socklab_proto::{Error, Result};
use std::borrow::Cow;
use std::io::{BufRead, IsTerminal, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The exit code for "could not connect or log in", as ssh uses it.
pub(crate) const EXIT_CONNECT_FAILED: u8 = 255;

/// A logged-in connection to a shell server.
#[derive(Debug)]
pub struct Client {
    conn: Connection<TcpStream>,
}

impl Client {
    /// Connects to `host:port` (each resolved address in turn, `timeout` each) and logs
    /// in as `user`.
    pub fn connect(
        host: &str,
        port: u16,
        timeout: Duration,
        user: &str,
        password: &str,
    ) -> Result<Client> {
        let stream = connect(host, port, timeout)?;
        Self::login(stream, user, password)
    }

    /// Logs in on an already connected stream.
    pub fn login(stream: TcpStream, user: &str, password: &str) -> Result<Client> {
        // The server bounds a command's time (its --timeout) and a session's idle
        // time; the client waits as long as the server lets it.
        let deadlines = Deadlines {
            idle: NO_DEADLINE,
            stall: NO_DEADLINE,
        };
        let mut conn = Connection::new(stream, deadlines)?;
        client_login(&mut conn, user, password)?;
        Ok(Client { conn })
    }

    /// Runs `cmd` on the server, copying its stdout to `out` and its stderr to `err`
    /// as the chunks arrive (flushed after each, so output shows live), and returns
    /// how it ended. A failed reply (`cd` to a missing directory) is an
    /// [`Error::Remote`]; the session goes on.
    pub fn exec(
        &mut self,
        cmd: &str,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<ExitStatus> {
        self.conn.send(&ShellRequest::Exec {
            cmd: cmd.to_owned(),
            stdin: false,
            env: Default::default(),
        })?;
        loop {
            match read_incoming(self.conn.body()?)? {
                Incoming::Chunk(which, data) => {
                    let sink: &mut dyn Write = match which {
                        StreamName::Stdout => &mut *out,
                        StreamName::Stderr => &mut *err,
                    };
                    // A closed local stdout (`shell-client -- yes | head`) is the
                    // user's choice, not a reason to stop reading the server's reply.
                    let _ = sink.write_all(&data).and_then(|()| sink.flush());
                }
                Incoming::Done(status) => return Ok(status),
            }
        }
    }
}

/// What `shell-client` does once logged in: runs `command` (the words after `--`), or
/// with none, the `>> ` loop on stdin. Returns the exit code ssh would give: the
/// command's own, 1 when the server refused it (`cd nowhere`), and
/// [`EXIT_CONNECT_FAILED`] when the connection failed.
pub(crate) fn run_command_line(client: &mut Client, command: &[String]) -> u8 {
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let result = if command.is_empty() {
        let stdin = std::io::stdin();
        let interactive = stdin.is_terminal();
        repl(client, &mut stdin.lock(), &mut out, &mut err, interactive)
    } else {
        client
            .exec(&join_command(command), &mut out, &mut err)
            .map(|status| {
                if let Some(what) = status.describe() {
                    eprintln!("shell-client: {what}");
                }
                status.local_code()
            })
    };
    match result {
        Ok(code) => code,
        Err(e @ Error::Remote { .. }) => {
            // The server refused the command itself (`cd nowhere`): a command failure.
            eprintln!("error: {e}");
            1
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_CONNECT_FAILED
        }
    }
}

/// Quotes `word` for `/bin/sh` when it needs it: `a b` becomes `'a b'`, `it's`
/// becomes `'it'\''s'`; plain words are left alone.
fn shell_quote(word: &str) -> Cow<'_, str> {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&b));
    if plain {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

/// Turns `shell-client -- ARGS…` into one command line. One argument is sent as it
/// is, so `-- 'ls | wc -l'` runs a pipeline as with ssh; several are quoted word by
/// word, so `-- ls -l 'a b'` lists the one file named `a b`.
fn join_command(args: &[String]) -> String {
    match args {
        [one] => one.clone(),
        many => many
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// The `>> ` loop of the tutorial: reads a command per line from `input`, runs it,
/// and prints its output. `exit` or end of input leaves. `prompt` is false when input
/// is not a terminal, so piped use prints only the commands' output. Returns the last
/// command's local exit code, as an interactive ssh session does.
fn repl(
    client: &mut Client,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
    prompt: bool,
) -> Result<u8> {
    let mut last = 0;
    let mut line = String::new();
    loop {
        if prompt {
            let _ = write!(out, ">> ");
            let _ = out.flush();
        }
        line.clear();
        let n = input
            .read_line(&mut line)
            .map_err(|e| Error::io("reading a command", e))?;
        let cmd = line.trim();
        if n == 0 || cmd == "exit" || cmd == "quit" {
            if n == 0 && prompt {
                let _ = writeln!(out);
            }
            return Ok(last);
        }
        if cmd.is_empty() {
            continue;
        }
        match client.exec(cmd, out, err) {
            Ok(status) => {
                last = status.local_code();
                if let Some(cwd) = &status.cwd {
                    if prompt {
                        let _ = writeln!(err, "[{cwd}]");
                    }
                }
                if let Some(what) = status.describe() {
                    let _ = writeln!(err, "[{what}]");
                } else if last != 0 && prompt {
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
    fn quotes_only_what_needs_quoting() {
        assert_eq!(shell_quote("ls"), "ls");
        assert_eq!(shell_quote("-l"), "-l");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn joins_like_ssh() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(join_command(&v(&["ls | wc -l"])), "ls | wc -l");
        assert_eq!(join_command(&v(&["ls", "-l", "a b"])), "ls -l 'a b'");
    }
}
