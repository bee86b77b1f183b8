//! What the client tells a user whose transfer stopped: the exact command that
//! continues it, when the connection is lost or on Ctrl-C, and whether `--overwrite`
//! would help a refusal.
//!
//! The command being run is noted here, process-wide, by `execute` before it starts
//! (a client runs one command at a time); the Ctrl-C thread and the error messages
//! read it.

use super::commands::Command;
use std::sync::Mutex;

/// What the command being run is, for the hints.
#[derive(Debug, Clone, Default)]
struct Doing {
    /// The command that continues it, when it is a transfer that can resume.
    resume: Option<String>,
    /// Whether `--overwrite` would make an `exists` refusal of it go through.
    overwrite_helps: bool,
    /// Still running (the error it ended with is explained after it is over).
    running: bool,
}

static DOING: Mutex<Option<Doing>> = Mutex::new(None);

/// The command line that reaches the server as the user (`ftp-client --host … --user
/// …`, never a password); empty when unknown (a library caller).
static BASE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Notes the command line that reaches this server as this user, for the command
/// that continues an interrupted transfer.
pub(crate) fn set_command_line(words: Vec<String>) {
    if let Ok(mut base) = BASE.lock() {
        *base = words;
    }
}

/// Notes `command` as the one being run.
pub(super) fn start(command: &Command) {
    let base = BASE.lock().map(|b| b.clone()).unwrap_or_default();
    let (words, overwrite_helps) = match command {
        Command::Get {
            name,
            output,
            recursive,
            checksum,
            overwrite,
            ..
        } if output.as_deref() != Some(std::path::Path::new("-")) => {
            let mut w = vec!["get".to_owned(), name.clone()];
            if let Some(o) = output {
                w.extend(["-o".to_owned(), o.display().to_string()]);
            }
            flags(&mut w, *recursive, *checksum, *overwrite);
            (Some(w), !*recursive)
        }
        Command::Put {
            path,
            as_name,
            recursive,
            checksum,
            overwrite,
            ..
        } => {
            let mut w = vec!["put".to_owned(), path.display().to_string()];
            if let Some(a) = as_name {
                w.extend(["--as".to_owned(), a.clone()]);
            }
            flags(&mut w, *recursive, *checksum, *overwrite);
            (Some(w), !*recursive)
        }
        Command::Mv { .. } => (None, true),
        _ => (None, false),
    };
    let resume = words.filter(|_| !base.is_empty()).map(|mut w| {
        w.push("--resume".to_owned());
        base.iter()
            .chain(&w)
            .map(|s| quoted(s))
            .collect::<Vec<_>>()
            .join(" ")
    });
    if let Ok(mut doing) = DOING.lock() {
        *doing = Some(Doing {
            resume,
            overwrite_helps,
            running: true,
        });
    }
}

fn flags(w: &mut Vec<String>, recursive: bool, checksum: bool, overwrite: bool) {
    for (on, flag) in [
        (recursive, "-r"),
        (checksum, "--checksum"),
        (overwrite, "--overwrite"),
    ] {
        if on {
            w.push(flag.to_owned());
        }
    }
}

/// The command is over: Ctrl-C has nothing to continue now.
pub(super) fn finish() {
    if let Ok(mut doing) = DOING.lock() {
        if let Some(d) = doing.as_mut() {
            d.running = false;
        }
    }
}

/// What continues the transfer under way: the exact command, or in general words.
pub(crate) fn resume_hint() -> Option<String> {
    let doing = DOING.lock().ok()?.clone()?;
    Some(match doing.resume {
        Some(cmd) => format!("to continue, run: {cmd}"),
        None => "run the same command with --resume to continue".to_owned(),
    })
}

/// Whether `--overwrite` would help the command under way past `exists`.
pub(super) fn overwrite_helps() -> bool {
    DOING
        .lock()
        .ok()
        .and_then(|d| d.as_ref().map(|d| d.overwrite_helps))
        .unwrap_or(false)
}

/// `s` as a shell reads it back: plain when it is harmless, else single-quoted.
fn quoted(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// On Ctrl-C: print what continues the transfer under way (if one is), then exit 130
/// as a shell expects. The partial data stays where a `--resume` finds it.
pub(crate) fn on_interrupt() {
    use signal_hook::consts::SIGINT;
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT]) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                let running = DOING
                    .lock()
                    .is_ok_and(|d| d.as_ref().is_some_and(|d| d.running && d.resume.is_some()));
                match resume_hint() {
                    Some(h) if running => eprintln!("\ninterrupted; {h}"),
                    _ => eprintln!(),
                }
                std::process::exit(130);
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resume_command_is_quoted_for_a_shell() {
        assert_eq!(quoted("a.bin"), "a.bin");
        assert_eq!(quoted("two words"), "'two words'");
        assert_eq!(quoted("it's"), r"'it'\''s'");
    }
}
