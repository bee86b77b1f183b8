//! Full-screen and terminal-bound programs in a PTY session, driven through a real
//! pseudo-terminal as a person would: `vi`, `top`, `less`, password prompts read
//! from `/dev/tty` (Python's `getpass`, and sudo's from a server run as an account
//! that is not root), and a shell's job control.

mod common;

use common::account::{Account, SUDO_ACCOUNT};
use common::terminal::{running, Terminal};
use common::Fixture;
use socklab_testkit::{require_tool, wait_until};
use std::time::Duration;

const SCREEN: Duration = Duration::from_secs(15);

/// A login shell on a PTY, its prompt up.
fn login_shell(fx: &Fixture) -> Terminal {
    let t = Terminal::start(fx, &[], (24, 80));
    t.wait_for_shell(fx);
    t
}

/// Waits for the shell's prompt after byte `from`: keys typed while a full-screen
/// program is still leaving may be flushed with its terminal settings.
fn back_at_prompt(t: &Terminal, from: usize) {
    let seen = wait_until(SCREEN, || {
        let s = t.screen();
        let tail = &s[from.min(s.len())..];
        tail.contains("# ") || tail.contains("$ ")
    });
    assert!(seen, "no prompt after the program:\n{}", t.screen());
    std::thread::sleep(Duration::from_millis(300));
}

/// Ends the session with `exit 0` and checks the client's terminal is as it was.
fn leave(mut t: Terminal) {
    t.type_in("exit 0\r");
    let status = t.wait_exit(SCREEN);
    assert_eq!(status.code(), Some(0), "{}", t.screen());
    assert_eq!(t.modes(), t.initial_modes(), "terminal modes not restored");
}

#[test]
fn vi_opens_takes_keys_writes_and_quits() {
    require_tool("vi");
    let fx = Fixture::start(&["--timeout", "60"]);
    let mut t = login_shell(&fx);
    let from = t.mark();
    t.type_in("vi notes.txt\r");
    // An empty buffer: vi marks the lines past the end with `~`.
    t.expect_after(from, "~", SCREEN);
    std::thread::sleep(Duration::from_millis(300));
    t.type_in("ihello from vi\x1b");
    let quit = t.mark();
    t.type_in(":wq\r");
    let written = wait_until(SCREEN, || {
        std::fs::read_to_string(fx.work.join("notes.txt")).is_ok_and(|s| s == "hello from vi\n")
    });
    assert!(
        written,
        "vi did not write the file: {:?}\n{}",
        std::fs::read_to_string(fx.work.join("notes.txt")),
        t.screen()
    );
    back_at_prompt(&t, quit);
    // :q! leaves without writing.
    let from = t.mark();
    t.type_in("vi scratch.txt\r");
    t.expect_after(from, "~", SCREEN);
    std::thread::sleep(Duration::from_millis(300));
    t.type_in("ithrown away\x1b");
    let quit = t.mark();
    t.type_in(":q!\r");
    back_at_prompt(&t, quit);
    let out = t.run("echo back-$((40+2))");
    assert!(out.contains("back-42"), "{out}");
    assert!(!fx.work.join("scratch.txt").exists(), ":q! wrote the file");
    leave(t);
}

#[test]
fn top_shows_its_screen_and_q_quits() {
    require_tool("top");
    let fx = Fixture::start(&["--timeout", "60"]);
    let mut t = login_shell(&fx);
    let from = t.mark();
    t.type_in("top -d 1\r");
    t.expect_after(from, "load average", SCREEN);
    t.expect_after(from, "PID", SCREEN);
    let quit = t.mark();
    t.type_in("q");
    back_at_prompt(&t, quit);
    let out = t.run("echo top-done");
    assert!(out.contains("top-done"), "{out}");
    leave(t);
}

#[test]
fn less_pages_jumps_to_the_end_and_q_quits() {
    require_tool("less");
    let fx = Fixture::start(&["--timeout", "60"]);
    let mut t = login_shell(&fx);
    let from = t.mark();
    // Plain `less`: no `-X`, no `-F`, a real full-screen pager.
    t.type_in("seq 1 500 | LESS= less\r");
    t.expect_after(from, "23", SCREEN);
    let at_end = t.mark();
    t.type_in("G");
    t.expect_after(at_end, "500", SCREEN);
    t.expect_after(at_end, "(END)", SCREEN);
    let quit = t.mark();
    t.type_in("q");
    back_at_prompt(&t, quit);
    let out = t.run("echo less-done");
    assert!(out.contains("less-done"), "{out}");
    leave(t);
}

/// A prompt on `/dev/tty` with echo off, as `getpass` and sudo write it; this one
/// works whoever the server runs as.
#[test]
fn a_password_prompt_on_dev_tty_shows_reads_and_does_not_echo() {
    require_tool("python3");
    let fx = Fixture::start(&["--timeout", "60"]);
    let mut t = login_shell(&fx);
    let from = t.mark();
    t.type_in(
        "python3 -c 'import getpass; print(\"got\", getpass.getpass(\"Sec\" + \"ret> \")[::-1])'\r",
    );
    // Not in the echoed command line, which has it in two halves.
    t.expect_after(from, "Secret> ", SCREEN);
    let prompt = t.mark();
    t.type_in("hunter2\r");
    // Printed reversed, so seeing it proves the read, and not seeing the typed
    // word proves the echo was off.
    t.expect_after(prompt, "got 2retnuh", SCREEN);
    let after = t.screen()[prompt..].to_string();
    assert!(
        !after.contains("hunter2"),
        "the password was echoed: {after:?}"
    );
    leave(t);
}

/// `sudo -k; sudo true` in a PTY session: sudo forgets its ticket, asks for the
/// password on the session's terminal (shown, not echoed), takes it and succeeds.
/// sudo asks root nothing, so the server runs as setup.sh's account, which may
/// run sudo with its password.
#[test]
fn sudo_asks_for_the_password_on_the_session_terminal_and_takes_it() {
    require_tool("sudo");
    let Some(account) = Account::unlock(SUDO_ACCOUNT) else {
        return;
    };
    let fx = Fixture::start_as(&account, &["--timeout", "60"]);
    let mut t = login_shell(&fx);
    let from = t.mark();
    t.type_in("sudo -k; sudo true; echo sudo-rc=$?\r");
    let prompt = format!("[sudo] password for {}:", account.name);
    t.expect_after(from, &prompt, SCREEN);
    let typed = t.mark();
    t.type_in(&format!("{}\r", account.password));
    t.expect_after(typed, "sudo-rc=0", SCREEN);
    let after = t.screen()[typed..].to_string();
    assert!(
        !after.contains(&account.password),
        "the password was echoed: {after:?}"
    );
    leave(t);
}

#[test]
fn job_control_ctrl_z_jobs_fg_and_ctrl_c() {
    let fx = Fixture::start(&["--timeout", "60"]);
    let mut t = login_shell(&fx);
    let nap = format!("sleep 34.{}", std::process::id());
    let from = t.mark();
    t.type_in(&format!("{nap}\r"));
    assert!(wait_until(SCREEN, || running(&nap)), "{}", t.screen());
    t.type_in("\x1a");
    t.expect_after(from, "Stopped", SCREEN);
    let stopped = wait_until(SCREEN, || state_of(&nap) == Some('T'));
    assert!(stopped, "Ctrl-Z did not stop it: {:?}", state_of(&nap));
    let out = t.run("jobs");
    assert!(out.contains(&nap), "jobs: {out}");
    let from = t.mark();
    t.type_in("fg\r");
    t.expect_after(from, &nap, SCREEN);
    let resumed = wait_until(SCREEN, || matches!(state_of(&nap), Some('S' | 'R')));
    assert!(resumed, "fg did not resume it: {:?}", state_of(&nap));
    t.type_in("\x03");
    assert!(
        wait_until(Duration::from_secs(2), || !running(&nap)),
        "Ctrl-C left {nap} running"
    );
    let out = t.run("echo after-fg");
    assert!(out.contains("after-fg"), "{out}");
    leave(t);
}

/// The state letter (`/proc/PID/stat` field 3) of the process whose command line is
/// `cmdline`.
fn state_of(cmdline: &str) -> Option<char> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let c = std::fs::read(e.path().join("cmdline")).ok()?;
        let c = String::from_utf8_lossy(&c)
            .trim_end_matches('\0')
            .replace('\0', " ");
        if c != cmdline {
            return None;
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        stat[stat.rfind(')')? + 1..].trim_start().chars().next()
    })
}
