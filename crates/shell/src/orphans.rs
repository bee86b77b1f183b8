//! The second line of containment: the server is a child subreaper too.
//!
//! A keeper can be killed by its own command (`kill -9 $PPID`, same user). Its
//! descendants would then be re-parented to init and escape. With
//! `PR_SET_CHILD_SUBREAPER` on the server they come to the server instead, and since
//! the server's only legitimate children are its keepers (registered here while they
//! run), any other child is such an orphan: [`sweep`] kills and reaps it, round after
//! round, as the keeper itself would have.

use crate::keeper::children_of;
use crate::limits::MAX_KILL_ROUNDS;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{getpid, Pid};
use socklab_proto::{Error, Result};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// PIDs of the keepers now running. Held while a keeper is spawned, so a sweep never
/// sees a keeper that is not registered yet.
static KEEPERS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Makes this process a child subreaper. Called once, when the server starts.
pub(crate) fn become_subreaper() -> Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| Error::io("PR_SET_CHILD_SUBREAPER", e.into()))
}

/// Runs `spawn` (which starts a keeper and returns its PID) with the registry locked,
/// and registers the keeper.
pub(crate) fn register<T>(spawn: impl FnOnce() -> Result<(T, u32)>) -> Result<T> {
    let mut keepers = KEEPERS.lock().unwrap_or_else(|p| p.into_inner());
    let (value, pid) = spawn()?;
    keepers.insert(pid as i32);
    Ok(value)
}

/// Forgets a keeper that has been reaped.
pub(crate) fn unregister(pid: u32) {
    KEEPERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&(pid as i32));
}

/// Kills and reaps every child of the server that is not a running keeper.
pub(crate) fn sweep() {
    let me = getpid().as_raw();
    for _ in 0..MAX_KILL_ROUNDS {
        let strays: Vec<i32> = {
            let keepers = KEEPERS.lock().unwrap_or_else(|p| p.into_inner());
            children_of(me)
                .into_iter()
                .filter(|pid| !keepers.contains(pid))
                .collect()
        };
        if strays.is_empty() {
            return;
        }
        for pid in strays {
            log::warn!("process {pid} outlived its keeper; killing it");
            let pid = Pid::from_raw(pid);
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
    }
}
