//! The shell client: connect, log in, then run commands, one-shot or in a `>> ` loop.

use crate::env::client_may_set;
use crate::prompt::{open_prompt, repl};
use crate::pump::{forward_inline, Pump};
use crate::request::ShellRequest;
use crate::tls::ClientStream;
use crate::tty::RawMode;
use crate::wire::{read_incoming, ExitStatus, Incoming, StreamName};
use socklab_auth::client_login;
use socklab_net::tls::MaybeTls;
use socklab_net::{Connection, Deadlines, NO_DEADLINE};
use socklab_proto::{Error, Result};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

/// The exit code for "could not connect or log in", as ssh uses it.
pub(crate) const EXIT_CONNECT_FAILED: u8 = 255;

/// A logged-in connection to a shell server.
#[derive(Debug)]
pub struct Client {
    conn: Connection<ClientStream>,
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
        let stream = crate::tls::connect(host, port, timeout, None)?;
        Self::login_on(stream, user, password)
    }

    /// Logs in on an already connected socket, without TLS.
    pub fn login(stream: TcpStream, user: &str, password: &str) -> Result<Client> {
        Self::login_on(MaybeTls::Plain(stream), user, password)
    }

    /// Logs in on an already connected stream, plain or TLS.
    pub fn login_on(stream: ClientStream, user: &str, password: &str) -> Result<Client> {
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

    /// Runs `cmd` on the server with no input, copying its stdout to `out` and its
    /// stderr to `err` as the chunks arrive (flushed after each, so output shows
    /// live), and returns how it ended. A failed reply (`cd` to a missing directory)
    /// is an [`Error::Remote`]; the session goes on.
    pub fn exec(
        &mut self,
        cmd: &str,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<ExitStatus> {
        self.exec_with_input(cmd, None, out, err)
    }

    /// Like [`Client::exec`], with `input` forwarded as the command's stdin (stdin
    /// frames, then end of input when it ends).
    pub fn exec_with_input(
        &mut self,
        cmd: &str,
        input: Option<OwnedFd>,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<ExitStatus> {
        let request = ShellRequest::Exec {
            cmd: cmd.to_owned(),
            stdin: input.is_some(),
            env: client_env(),
        };
        self.run(&request, input, false, out, err)
    }

    /// Runs `cmd`, or the account's login shell, on a remote pseudo-terminal of
    /// `rows` x `cols`, with `input` (the local terminal) forwarded byte by byte and
    /// its window-size changes sent as `resize`. The caller puts the terminal in raw
    /// mode.
    pub fn pty(
        &mut self,
        cmd: Option<&str>,
        term: &str,
        (rows, cols): (u16, u16),
        input: OwnedFd,
        out: &mut dyn Write,
    ) -> Result<ExitStatus> {
        let request = ShellRequest::Pty {
            term: term.to_owned(),
            rows,
            cols,
            cmd: cmd.map(str::to_owned),
            env: client_env(),
        };
        let mut no_stderr = std::io::sink();
        self.run(&request, Some(input), true, out, &mut no_stderr)
    }

    fn run(
        &mut self,
        request: &ShellRequest,
        input: Option<OwnedFd>,
        terminal: bool,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<ExitStatus> {
        self.conn.send(request)?;
        let pump = match (input, self.conn.get_ref()) {
            (Some(fd), MaybeTls::Plain(sock)) => {
                let sock = sock
                    .try_clone()
                    .map_err(|e| Error::io("cloning the socket", e))?;
                Some(Pump::start(fd, sock, terminal)?)
            }
            // A TLS session has one state, so one thread both reads and writes it.
            (Some(fd), MaybeTls::Tls(_)) => {
                return forward_inline(fd, &mut self.conn, terminal, |conn| {
                    Self::copy_one(conn, out, err)
                });
            }
            (None, _) => None,
        };
        let result = self.copy_output(out, err);
        if let Some(pump) = pump {
            pump.stop();
        }
        result
    }

    fn copy_output(&mut self, out: &mut dyn Write, err: &mut dyn Write) -> Result<ExitStatus> {
        loop {
            if let Some(status) = Self::copy_one(&mut self.conn, out, err)? {
                return Ok(status);
            }
        }
    }

    /// Reads one message of a running command: a chunk, copied out, or its end.
    fn copy_one(
        conn: &mut Connection<ClientStream>,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<Option<ExitStatus>> {
        match read_incoming(conn.body()?)? {
            Incoming::Chunk(which, data) => {
                let sink: &mut dyn Write = match which {
                    StreamName::Stdout => &mut *out,
                    StreamName::Stderr => &mut *err,
                };
                // A closed local stdout (`shell-client -- yes | head`) is the
                // user's choice, not a reason to stop reading the server's reply.
                let _ = sink.write_all(&data).and_then(|()| sink.flush());
                Ok(None)
            }
            Incoming::Done(status) => Ok(Some(status)),
        }
    }
}

/// `LANG` and `LC_*` of the client's environment, which the server passes on.
fn client_env() -> BTreeMap<String, String> {
    std::env::vars()
        .filter(|(k, _)| client_may_set(k))
        .collect()
}

/// What the client does with its own stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// ssh's default: a command gets stdin, no command on a terminal gets a PTY.
    Auto,
    /// `-t`: the command (or login shell) on a PTY.
    Pty,
    /// `-T` / `--prompt`: the tutorial's `>> ` prompt.
    Prompt,
}

/// What `shell-client` does once logged in: runs `command` (the words after `--`) with
/// stdin forwarded (none with `no_stdin`), on a PTY with `-t`; with no command, a PTY
/// login shell when stdin is a terminal, else the `>> ` loop (`keep_going`: a script
/// runs on past a failing command). Returns the exit code ssh would give: the
/// command's own, 1 when the server refused it (`cd nowhere`), and
/// [`EXIT_CONNECT_FAILED`] when the connection failed.
pub(crate) fn run_command_line(
    client: &mut Client,
    command: &[String],
    mode: Mode,
    no_stdin: bool,
    keep_going: bool,
) -> u8 {
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let stdin = std::io::stdin();
    let on_terminal = stdin.is_terminal();
    let cmd = (!command.is_empty()).then(|| join_command(command));
    let prompt = mode == Mode::Prompt || (mode == Mode::Auto && cmd.is_none() && !on_terminal);
    let result = if prompt {
        open_prompt().and_then(|mut input| repl(client, &mut input, &mut out, &mut err, keep_going))
    } else if let (Mode::Auto, Some(cmd)) = (mode, &cmd) {
        let input = if no_stdin { None } else { dup_stdin().ok() };
        client
            .exec_with_input(cmd, input, &mut out, &mut err)
            .map(|status| {
                if let Some(what) = status.describe() {
                    eprintln!("shell-client: {what}");
                }
                status.local_code()
            })
    } else {
        on_pty(client, cmd.as_deref(), &mut out).map(|s| s.local_code())
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

/// A descriptor of our stdin of its own: reads on it skip std's buffering, so
/// `poll` and `read` agree.
fn dup_stdin() -> Result<OwnedFd> {
    std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| Error::io("duplicating stdin", e))
}

/// Runs `cmd` (or the login shell) on a remote PTY the size of our terminal, with our
/// terminal in raw mode for the duration.
pub(crate) fn on_pty(
    client: &mut Client,
    cmd: Option<&str>,
    out: &mut dyn Write,
) -> Result<ExitStatus> {
    let stdin = std::io::stdin();
    let size = rustix::termios::tcgetwinsize(&stdin)
        .map(|ws| (ws.ws_row, ws.ws_col))
        .unwrap_or((24, 80));
    let term = std::env::var("TERM").unwrap_or_else(|_| "dumb".into());
    let input = dup_stdin()?;
    let raw = if stdin.is_terminal() {
        Some(RawMode::enter(&stdin)?)
    } else {
        None
    };
    let status = client.pty(cmd, &term, size, input, out);
    drop(raw);
    status
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
