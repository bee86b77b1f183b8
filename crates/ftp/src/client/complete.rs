//! Tab at the `ftp> ` prompt: the prompt's commands, local paths after `put` and `lcd`,
//! and remote paths after the commands that name one, asked of the server with `list`.
//!
//! Invariants: the completion runs on the main thread inside the editor's `read`,
//! while the prompt holds no lock, so `try_lock` on the session never waits (if it
//! ever fails, Tab offers nothing rather than block). The names of a directory are
//! asked once per prompt line: [`RemoteNames::forget`] runs before every command, since
//! a `put`, `rm` or `cd` changes what there is.

use super::cwd::RemoteDir;
use super::prompt::breaks_session;
use super::session::Session;
use crate::wire::Kind;
use socklab_prompt::Completion;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// What Tab completes as the first word.
const COMMANDS: [&str; 16] = [
    "ls", "stat", "get", "put", "mkdir", "rm", "rmdir", "mv", "cd", "pwd", "lcd", "lls", "help",
    "quit", "exit", "bye",
];

/// The commands whose arguments are remote paths.
const REMOTE: [&str; 7] = ["get", "ls", "stat", "rm", "rmdir", "mv", "cd"];

/// The connection shared by the prompt's commands and its completion; `None` after an
/// error that broke it, until the next command connects again.
pub(super) type Shared = Arc<Mutex<Option<Session>>>;

/// Locks `m`, going on with the value if a panic poisoned it (nothing here leaves a
/// value half-changed).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A directory's entries: each name and what it is.
type Entries = Vec<(String, Kind)>;

/// The remote names seen during one prompt line, by directory (`None`: the root).
#[derive(Debug, Clone, Default)]
pub(super) struct RemoteNames(Arc<Mutex<HashMap<Option<String>, Entries>>>);

impl RemoteNames {
    /// Forgets every name: the next Tab asks the server again.
    pub(super) fn forget(&self) {
        lock(&self.0).clear();
    }

    /// The entries of `dir`, asked of the server the first time in this line.
    fn of(&self, session: &Shared, dir: Option<String>) -> Entries {
        let mut cache = lock(&self.0);
        if let Some(found) = cache.get(&dir) {
            return found.clone();
        }
        let Ok(mut guard) = session.try_lock() else {
            return Vec::new();
        };
        let Some(s) = guard.as_mut().filter(|s| !s.is_closed()) else {
            return Vec::new();
        };
        match s.list(dir.as_deref()) {
            Ok((files, _, _)) => {
                let found: Entries = files.into_iter().map(|f| (f.name, f.kind)).collect();
                cache.insert(dir, found.clone());
                found
            }
            Err(e) => {
                // A failed list that broke the connection: the next command reconnects.
                if breaks_session(&e) {
                    *guard = None;
                }
                Vec::new()
            }
        }
    }
}

/// The prompt's completion: remote names relative to `cwd`, through `session`.
pub(super) fn completion(
    session: &Shared,
    cwd: &Arc<Mutex<RemoteDir>>,
    names: &RemoteNames,
) -> Completion {
    let (session, cwd, names) = (Arc::clone(session), Arc::clone(cwd), names.clone());
    Completion::commands(COMMANDS)
        .local_paths_after(["put", "lcd"])
        .items(move |command, word| {
            if !REMOTE.contains(&command) {
                return Vec::new();
            }
            // `sub/fi`: list `sub` (under the working directory) and offer `sub/…`.
            let (typed_dir, _) = word.rsplit_once('/').unwrap_or(("", word));
            let prefix = if word.contains('/') {
                format!("{typed_dir}/")
            } else {
                String::new()
            };
            let here = lock(&cwd).clone();
            let dir = if prefix.is_empty() {
                Ok(here)
            } else if typed_dir.is_empty() {
                here.resolve("/")
            } else {
                here.resolve(typed_dir)
            };
            let Ok(dir) = dir else {
                return Vec::new();
            };
            names
                .of(&session, dir.path())
                .into_iter()
                .filter(|(_, kind)| command != "cd" || *kind == Kind::Dir)
                // A directory ends in `/`, so Tab stops there and the next Tab goes in.
                .map(|(name, kind)| match kind {
                    Kind::Dir => format!("{prefix}{name}/"),
                    _ => format!("{prefix}{name}"),
                })
                .collect()
        })
}
