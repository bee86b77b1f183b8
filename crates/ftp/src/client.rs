//! The file client: one connection, then `ls`, `stat`, `get` and `put`, as one-shot
//! commands or in a `ftp> ` prompt.
//!
//! Downloads land in `PATH.socklab-part` next to the target, are hashed as they are
//! written, and are renamed into place only after the trailer's md5 matches; an
//! interrupted one stays there for `get --resume`. The target is never replaced
//! unless `--overwrite` says so.

use crate::transfer::{copy_hashed, send_file_hashed};
use crate::wire::{FileInfo, GetReply, Listing, PutDone, PutReady, Trailer};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use socklab_auth::client_login;
use socklab_net::socket::connect;
use socklab_net::{Connection, Deadlines};
use socklab_proto::checksum::{finish_hex, hash_prefix, Md5};
use socklab_proto::names::{escape, validate_name};
use socklab_proto::{Error, ErrorCode, Request, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, IsTerminal, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The suffix of a download in progress, next to its target.
pub const PART_SUFFIX: &str = ".socklab-part";

/// One client command, from the command line or the `ftp> ` prompt.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// List the served files.
    Ls,
    /// Show the size and modification time of one file.
    Stat {
        /// The file's name on the server.
        name: String,
    },
    /// Download a file.
    Get {
        /// The file's name on the server.
        name: String,
        /// Where to write it (default: NAME in the current directory).
        #[arg(short = 'o', long = "output", value_name = "PATH")]
        output: Option<PathBuf>,
        /// Continue an interrupted download from PATH.socklab-part (without it, a get
        /// refuses to start over on top of one, even with --overwrite).
        #[arg(long)]
        resume: bool,
        /// Replace PATH if it exists.
        #[arg(long)]
        overwrite: bool,
    },
    /// Upload a file.
    Put {
        /// The local file.
        path: PathBuf,
        /// The name to store it under (default: PATH's file name).
        #[arg(long = "as", value_name = "NAME")]
        as_name: Option<String>,
        /// Continue an interrupted upload from where the server stopped.
        #[arg(long)]
        resume: bool,
        /// Replace a file of that name on the server.
        #[arg(long)]
        overwrite: bool,
    },
}

/// How to reach and log in to the server.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `(user, password)`, or `None` for anonymous access.
    pub login: Option<(String, String)>,
    /// Give up on `connect` after this long.
    pub connect_timeout: Duration,
    /// Give up on a transfer that moves no byte for this long.
    pub stall_timeout: Duration,
    /// Draw a progress bar (only when stderr is a terminal).
    pub progress: bool,
}

/// A connected, logged-in client.
#[derive(Debug)]
pub struct Session {
    conn: Connection<TcpStream>,
    progress: bool,
}

impl Session {
    /// Connects and logs in (or not, for anonymous access).
    pub fn connect(config: &ClientConfig) -> Result<Session> {
        let stream = connect(&config.host, config.port, config.connect_timeout)?;
        // The server owes every reply at once: the client waits at most the stall
        // time for any of them, and for each byte of a transfer.
        let deadlines = Deadlines {
            idle: config.stall_timeout,
            stall: config.stall_timeout,
        };
        let mut conn = Connection::new(stream, deadlines)?;
        if let Some((user, password)) = &config.login {
            client_login(&mut conn, user, password)?;
        }
        Ok(Session {
            conn,
            progress: config.progress,
        })
    }

    /// `list`. Names that are not safe single components are dropped and returned
    /// apart, escaped, so a hostile server cannot smuggle `../x` or terminal escapes.
    pub fn list(&mut self) -> Result<(Vec<FileInfo>, Vec<String>, bool)> {
        self.conn.send(&Request::List)?;
        let listing: Listing = self.conn.read_reply()?;
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for f in listing.files {
            match validate_name(&f.name) {
                Ok(()) => good.push(f),
                Err(_) => bad.push(escape(&f.name)),
            }
        }
        Ok((good, bad, listing.truncated))
    }

    /// `stat NAME`.
    pub fn stat(&mut self, name: &str) -> Result<FileInfo> {
        validate_name(name)?;
        self.conn.send(&Request::Stat {
            name: name.to_owned(),
        })?;
        let info: FileInfo = self.conn.read_reply()?;
        if info.name != name {
            return Err(Error::BadHeader(format!(
                "the server answered about {} instead of {}",
                escape(&info.name),
                escape(name)
            )));
        }
        Ok(info)
    }

    /// `get NAME` into `dest`. Returns the size, md5 and the offset it resumed from.
    pub fn get(
        &mut self,
        name: &str,
        dest: &Path,
        resume: bool,
        overwrite: bool,
    ) -> Result<(u64, String, u64)> {
        validate_name(name)?;
        if !overwrite && fs::symlink_metadata(dest).is_ok() {
            return Err(Error::Refused {
                code: ErrorCode::Exists,
                message: format!("{} already exists here", dest.display()),
            });
        }
        let part = part_path(dest);
        // A partial download is data the user was told to resume: starting over
        // would silently throw it away.
        if !resume && fs::symlink_metadata(&part).is_ok() {
            // A file the server does not have is the more useful answer.
            self.stat(name)?;
            return Err(Error::Refused {
                code: ErrorCode::Exists,
                message: format!(
                    "a partial download of {} is kept in {}: run the same get with --resume to continue it, or delete it to start over",
                    escape(name),
                    part.display()
                ),
            });
        }
        let mut offset = 0;
        if resume {
            if let Ok(meta) = fs::metadata(&part) {
                // A partial longer than the remote file cannot be its prefix.
                let remote = self.stat(name)?;
                offset = if meta.len() <= remote.size {
                    meta.len()
                } else {
                    0
                };
            }
        }
        self.conn.send(&Request::Get {
            name: name.to_owned(),
            offset,
        })?;
        let reply: GetReply = self.conn.read_reply()?;
        if reply.name != name || validate_name(&reply.name).is_err() {
            return Err(Error::BadHeader(format!(
                "the server sent {} when asked for {}",
                escape(&reply.name),
                escape(name)
            )));
        }
        if offset > reply.size {
            return Err(Error::BadHeader(
                "the server's file is shorter than the resume offset".into(),
            ));
        }
        let (mut file, hasher) = if offset > 0 {
            let mut f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&part)
                .map_err(|e| Error::io(format!("opening {}", part.display()), e))?;
            let h = hash_prefix(&mut f, offset)
                .map_err(|e| Error::io(format!("reading {}", part.display()), e))?;
            eprintln!(
                "resuming {} at byte {offset} of {}",
                escape(name),
                reply.size
            );
            (f, h)
        } else {
            let f = File::create(&part)
                .map_err(|e| Error::io(format!("creating {}", part.display()), e))?;
            let h = Md5::default();
            (f, h)
        };
        let bar = progress_bar(self.progress, reply.size, offset, name);
        let body = copy_hashed(
            self.conn.body()?,
            &mut file,
            reply.size - offset,
            hasher,
            |n| bar.inc(n),
            "the download",
        )
        .map_err(Error::under_deadline);
        bar.finish_and_clear();
        let md5 = match body {
            Ok(hasher) => finish_hex(hasher),
            Err(e) => {
                let _ = file.sync_data();
                return Err(Error::Other(format!(
                    "{e}; the partial download is kept in {} (run the same get with --resume to continue)",
                    part.display()
                )));
            }
        };
        let trailer: Trailer = self
            .conn
            .read_header()?
            .ok_or(Error::UnexpectedEof("the md5 trailer"))?;
        if !trailer.md5.eq_ignore_ascii_case(&md5) {
            let _ = fs::remove_file(&part);
            return Err(Error::ChecksumMismatch {
                expected: trailer.md5,
                actual: md5,
            });
        }
        file.sync_all()
            .map_err(|e| Error::io(format!("syncing {}", part.display()), e))?;
        drop(file);
        publish(&part, dest, overwrite)?;
        Ok((reply.size, md5, offset))
    }

    /// `put PATH` as `name`. Returns the server's confirmation and the offset it
    /// resumed from.
    pub fn put(
        &mut self,
        path: &Path,
        name: &str,
        resume: bool,
        overwrite: bool,
    ) -> Result<(PutDone, u64)> {
        validate_name(name)?;
        let file =
            File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io(format!("checking {}", path.display()), e))?;
        if !meta.is_file() {
            return Err(Error::Usage(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        let size = meta.len();
        let request = Request::Put {
            name: name.to_owned(),
            size,
            resume,
            overwrite,
        };
        self.conn.send(&request)?;
        let ready: PutReady = self.conn.read_reply()?;
        if ready.offset > size {
            return Err(Error::BadHeader(format!(
                "the server asked to resume at {} of {size} bytes",
                ready.offset
            )));
        }
        if ready.offset > 0 {
            eprintln!(
                "resuming upload of {} at byte {} of {size}",
                escape(name),
                ready.offset
            );
        }
        let bar = progress_bar(self.progress, size, ready.offset, name);
        // The kernel sends the part the server lacks (sendfile) while a second thread
        // hashes the whole file, which the trailer covers.
        let body = send_file_hashed(
            &file,
            self.conn.body()?,
            ready.offset,
            size,
            |n| bar.inc(n),
            "the local file",
        )
        .map_err(Error::under_deadline);
        bar.finish_and_clear();
        let md5 = finish_hex(body?);
        self.conn.send(&Trailer { md5: md5.clone() })?;
        let done: PutDone = self.conn.read_reply()?;
        if !done.md5.eq_ignore_ascii_case(&md5) || done.size != size {
            return Err(Error::ChecksumMismatch {
                expected: md5,
                actual: done.md5,
            });
        }
        Ok((done, ready.offset))
    }
}

/// Where a download of `dest` is written until it is verified.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(PART_SUFFIX);
    PathBuf::from(s)
}

/// Moves a verified download into place: rename with `overwrite`, otherwise link(2),
/// which fails rather than replace a file that appeared meanwhile.
fn publish(part: &Path, dest: &Path, overwrite: bool) -> Result<()> {
    if overwrite {
        fs::rename(part, dest)
            .map_err(|e| Error::io(format!("renaming to {}", dest.display()), e))?;
    } else {
        fs::hard_link(part, dest).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => Error::Refused {
                code: ErrorCode::Exists,
                message: format!(
                    "{} appeared while downloading; the verified data is in {}",
                    dest.display(),
                    part.display()
                ),
            },
            _ => Error::io(format!("creating {}", dest.display()), e),
        })?;
        let _ = fs::remove_file(part);
    }
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn progress_bar(enabled: bool, len: u64, pos: u64, name: &str) -> ProgressBar {
    if !enabled || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(shown(name));
    bar.set_position(pos);
    bar.reset_eta();
    bar
}

/// A name as the user sees it: plain when it is harmless, escaped and quoted when it
/// holds anything a terminal could interpret.
pub fn shown(name: &str) -> String {
    let quoted = escape(name);
    if quoted == format!("\"{name}\"") && !name.contains(' ') {
        name.to_owned()
    } else {
        quoted
    }
}

/// Adds what the user can do about an error to its message.
pub fn explain(e: Error) -> Error {
    let (code, text) = match &e {
        Error::Remote { code, message } | Error::Refused { code, message } => {
            (*code, message.clone())
        }
        Error::ChecksumMismatch { .. } => (ErrorCode::ChecksumMismatch, e.to_string()),
        Error::InvalidName { .. } => (ErrorCode::InvalidName, e.to_string()),
        _ => return e,
    };
    let hint = match code {
        ErrorCode::AuthFailed => "check --user and the password",
        ErrorCode::AuthRequired => "this server needs a login: pass --user NAME",
        ErrorCode::NotFound => "`ls` shows what the server has",
        ErrorCode::Exists => "pass --overwrite to replace it",
        ErrorCode::InvalidName => {
            "a name is one path component: no / or \\, no control characters, at most 255 bytes of UTF-8"
        }
        ErrorCode::TooLarge => "the server's --max-file-size is smaller than this file",
        ErrorCode::ChecksumMismatch => {
            "the data was damaged on the way, or the partial copy was of another file; nothing was kept under the final name, try again without --resume"
        }
        ErrorCode::Timeout => "the transfer stalled; run the same command with --resume to continue",
        ErrorCode::Busy => "the server is at its connection limit or another client is uploading that name; try again shortly",
        ErrorCode::Forbidden => "the server is read-only for you (--read-only, or anonymous access)",
        ErrorCode::BadRequest => "the client and server disagree about the protocol",
        ErrorCode::Internal => "the server failed; its log says why",
        ErrorCode::Unknown => "the server is newer than this client",
    };
    Error::Other(format!("{text} ({code}): {hint}"))
}

/// `mtime` (seconds since 1970, as the server sends it) in this machine's time zone
/// (`TZ`, else /etc/localtime), in `format` (strftime): `ls -l --time-style=long-iso`
/// shows `2026-11-23 22:40`. 0 is what the server sends when it does not know (see
/// `store::info`), shown as `?`; a time no calendar can show is printed as `@SECONDS`.
fn local_time(mtime: u64, format: &str) -> String {
    if mtime == 0 {
        return "?".into();
    }
    i64::try_from(mtime)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime(format)
                .to_string()
        })
        .unwrap_or_else(|| format!("@{mtime}"))
}

/// Runs one command on a session, printing results to stdout.
pub fn run_command(session: &mut Session, command: &Command, out: &mut dyn Write) -> Result<()> {
    let w = |e: io::Error| Error::io("writing to stdout", e);
    match command {
        Command::Ls => {
            let (files, bad, truncated) = session.list()?;
            for f in &files {
                let when = local_time(f.mtime, "%Y-%m-%d %H:%M");
                writeln!(out, "{:>14}  {when:<16}  {}", f.size, shown(&f.name)).map_err(w)?;
            }
            for name in &bad {
                eprintln!("warning: the server listed an invalid name {name}; ignored");
            }
            if truncated {
                eprintln!("warning: the listing was cut to fit one message");
            }
        }
        Command::Stat { name } => {
            let f = session.stat(name)?;
            writeln!(
                out,
                "{}: {} bytes, modified {}",
                shown(&f.name),
                f.size,
                local_time(f.mtime, "%Y-%m-%d %H:%M:%S %Z")
            )
            .map_err(w)?;
        }
        Command::Get {
            name,
            output,
            resume,
            overwrite,
        } => {
            validate_name(name)?;
            let dest = output.clone().unwrap_or_else(|| PathBuf::from(name));
            let (size, md5, _) = session.get(name, &dest, *resume, *overwrite)?;
            writeln!(
                out,
                "got {}: {size} bytes, md5 {md5} -> {}",
                shown(name),
                dest.display()
            )
            .map_err(w)?;
        }
        Command::Put {
            path,
            as_name,
            resume,
            overwrite,
        } => {
            let name = match as_name {
                Some(n) => n.clone(),
                None => match path.file_name().map(|n| n.to_str()) {
                    Some(Some(n)) => n.to_owned(),
                    Some(None) => {
                        return Err(Error::InvalidName {
                            name: format!("{:?}", path.file_name().unwrap_or_default()),
                            reason: "it is not UTF-8; pick a name with --as NAME",
                        })
                    }
                    None => {
                        return Err(Error::Other(format!("{} has no file name", path.display())))
                    }
                },
            };
            let (done, _) = session.put(path, &name, *resume, *overwrite)?;
            writeln!(
                out,
                "put {}: {} bytes, md5 {}",
                shown(&done.name),
                done.size,
                done.md5
            )
            .map_err(w)?;
        }
    }
    Ok(())
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
pub fn split_words(line: &str) -> Result<Vec<String>> {
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

/// The `ftp> ` prompt: reads commands from `input` until `quit` or end of input.
/// Returns an error when the last command failed, so a script's exit code means
/// something.
pub fn repl(config: &ClientConfig, input: &mut dyn BufRead) -> Result<()> {
    use clap::Parser;
    let interactive = io::stdin().is_terminal();
    let mut session = Some(Session::connect(config)?);
    let mut last = Ok(());
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
            return last;
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
            Some("quit" | "exit" | "bye") => return last,
            _ => {}
        }
        let parsed = match PromptLine::try_parse_from(&words) {
            Ok(p) => p,
            Err(e) => {
                // clap's own text: usage for `help`, an error for a typo, which also
                // makes a script's exit code say that something went wrong.
                let _ = e.print();
                last = if e.exit_code() == 0 {
                    // `help` succeeded: it is now the last command.
                    Ok(())
                } else {
                    Err(Error::Other("the last command was not understood".into()))
                };
                continue;
            }
        };
        let s = match session.take() {
            Some(s) => s,
            None => match Session::connect(config) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {}", explain(e));
                    last = Err(Error::Other("not connected".into()));
                    continue;
                }
            },
        };
        let mut s = s;
        let mut out = io::stdout().lock();
        match run_command(&mut s, &parsed.command, &mut out) {
            Ok(()) => {
                last = Ok(());
                session = Some(s);
            }
            Err(e) => {
                let broken = breaks_session(&e);
                eprintln!("error: {}", explain(e));
                last = Err(Error::Other("the last command failed".into()));
                if !broken {
                    session = Some(s);
                }
            }
        }
    }
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

    #[test]
    fn shown_escapes_only_what_needs_it() {
        assert_eq!(shown("a.bin"), "a.bin");
        assert_eq!(shown("two words"), "\"two words\"");
        let evil = shown("x\u{1b}[2J\u{202e}");
        assert!(
            !evil.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{evil}"
        );
    }

    #[test]
    fn every_error_code_gets_a_hint() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::AuthRequired,
            ErrorCode::AuthFailed,
            ErrorCode::NotFound,
            ErrorCode::Exists,
            ErrorCode::InvalidName,
            ErrorCode::TooLarge,
            ErrorCode::ChecksumMismatch,
            ErrorCode::Timeout,
            ErrorCode::Busy,
            ErrorCode::Forbidden,
            ErrorCode::Internal,
            ErrorCode::Unknown,
        ] {
            let e = explain(Error::Remote {
                code,
                message: "the server said so".into(),
            });
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("the server said so ({code}): ")),
                "{text}"
            );
            assert!(text.len() > "the server said so (x): ".len() + 10, "{text}");
        }
    }

    #[test]
    fn part_path_sits_next_to_the_target() {
        assert_eq!(
            part_path(Path::new("dir/a.bin")),
            Path::new("dir/a.bin.socklab-part")
        );
    }
}
