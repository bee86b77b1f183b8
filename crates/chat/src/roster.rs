//! The nicks the client has seen in the chat, for Tab to complete. The server sends no
//! member list unasked, so the client keeps one from the lines it prints: the `/who`
//! answer, joins, leaves, expiries, renames, and who spoke.

use crate::protocol::COMMANDS;
use socklab_prompt::Completion;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// The members seen so far; clones share one list (the receiving thread writes it, the
/// line editor's completion reads it).
#[derive(Debug, Clone, Default)]
pub struct Roster(Arc<Mutex<BTreeSet<String>>>);

impl Roster {
    /// An empty list.
    pub fn new() -> Roster {
        Roster::default()
    }

    /// The nicks, sorted.
    pub fn nicks(&self) -> Vec<String> {
        self.lock().iter().cloned().collect()
    }

    /// Learns what `line`, a line from the server, says about who is here.
    pub fn learn(&self, line: &str) {
        let mut nicks = self.lock();
        if let Some(rest) = line.strip_prefix("*** ") {
            if let Some((_, names)) = rest.split_once(" members: ") {
                nicks.clear();
                nicks.extend(
                    names
                        .split(", ")
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned),
                );
            } else if let Some(nick) = rest.strip_suffix(" joined") {
                nicks.insert(nick.to_owned());
            } else if let Some(nick) = rest.strip_suffix(" left") {
                nicks.remove(nick);
            } else if let Some((nick, _)) = rest.split_once(" expired (") {
                nicks.remove(nick);
            } else if let Some((old, new)) = rest.split_once(" is now known as ") {
                nicks.remove(old);
                nicks.insert(new.to_owned());
            } else if let Some(welcome) = rest.strip_prefix("welcome, ") {
                if let Some((nick, _)) = welcome.split_once(':') {
                    nicks.insert(nick.to_owned());
                }
            }
        } else if let Some(rest) = line.strip_prefix('<') {
            if let Some((nick, _)) = rest.split_once("> ") {
                nicks.insert(nick.to_owned());
            }
        } else if let Some(rest) = line.strip_prefix("* ") {
            if let Some((nick, _)) = rest.split_once(' ') {
                nicks.insert(nick.to_owned());
            }
        }
    }

    /// What Tab completes at the chat's prompt: the `/commands`, and nicks anywhere
    /// else.
    pub fn completion(&self) -> Completion {
        let commands = COMMANDS
            .iter()
            .map(|(usage, _)| usage.split(' ').next().unwrap_or(usage));
        let roster = self.clone();
        Completion::commands(commands).items(move |_, _| roster.nicks())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        // A panic while holding it leaves a list still worth completing from.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roster_follows_who_joins_speaks_renames_and_leaves() {
        let r = Roster::new();
        r.learn("*** welcome, alice: 3 here, /who lists them, /nick NAME renames you");
        r.learn("*** 3 members: alice, bob, carol");
        assert_eq!(r.nicks(), ["alice", "bob", "carol"]);
        r.learn("*** dave joined");
        r.learn("*** bob left");
        r.learn("*** carol expired (silent for 60 s)");
        r.learn("*** dave is now known as dan");
        r.learn("<erin> hi");
        r.learn("* frank waves");
        r.learn("[server] *** ghost joined");
        assert_eq!(r.nicks(), ["alice", "dan", "erin", "frank"]);
    }

    #[test]
    fn tab_completes_commands_first_and_nicks_elsewhere() {
        let r = Roster::new();
        r.learn("*** 2 members: alice, albert");
        let c = r.completion();
        assert_eq!(c.candidates("/h", 2).1, ["/help"]);
        assert_eq!(c.candidates("/me waves at al", 15).1, ["albert", "alice"]);
        assert_eq!(c.candidates("ali", 3).1, ["alice"]);
    }
}
