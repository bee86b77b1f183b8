//! PTY sessions, driven the way a person drives them: shell-client runs on a real
//! pseudo-terminal made by the test (it is that terminal's session leader, through
//! `setsid -c`), and the test types into the master side and reads the screen there.

mod common;

use common::terminal::{running, Terminal};
use common::Fixture;
use socklab_testkit::wait_until;
use std::time::{Duration, Instant};

#[test]
fn login_shell_on_a_pty_has_a_terminal_resizes_takes_ctrl_c_and_exits_with_its_code() {
    let fx = Fixture::start(&["--timeout", "120"]);
    let mut t = Terminal::start(&fx, &[], (33, 101));
    let before = t.initial_modes().to_owned();
    t.wait_for_shell(&fx);
    let out = t.run("tty");
    assert!(out.contains("/dev/pts/"), "{out}");
    let out = t.run("stty size");
    assert!(out.contains("33 101\r\n"), "{out}");
    t.resize(40, 120);
    let changed = wait_until(Duration::from_secs(5), || {
        t.run("stty size").contains("40 120\r\n")
    });
    assert!(
        changed,
        "the remote terminal was not resized:\n{}",
        t.screen()
    );
    // Ctrl-C stops the remote command, not the session.
    let from = t.mark();
    let nap = format!("sleep 32.{}", std::process::id());
    t.type_in(&format!("{nap}\r"));
    assert!(
        wait_until(Duration::from_secs(10), || running(&nap)),
        "{}",
        t.screen()
    );
    let pressed = Instant::now();
    t.type_in("\x03");
    t.type_in("echo after-$((40+2))\r");
    t.expect_after(from, "after-42", Duration::from_secs(2));
    assert!(!running(&nap), "Ctrl-C left {nap} running");
    assert!(pressed.elapsed() < Duration::from_secs(2));
    t.type_in("exit 3\r");
    let status = t.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(3), "{}", t.screen());
    assert_eq!(t.modes(), before, "terminal modes not restored");
}

#[test]
fn dash_t_runs_a_command_on_a_pty_and_sigterm_restores_the_terminal() {
    let fx = Fixture::start(&["--timeout", "60"]);
    let mut t = Terminal::start(&fx, &["-t", "--", "tty; exit 4"], (24, 80));
    let before = t.initial_modes().to_owned();
    let status = t.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(4), "{}", t.screen());
    assert!(t.screen().contains("/dev/pts/"), "{}", t.screen());
    assert_eq!(t.modes(), before);

    let mut t = Terminal::start(&fx, &["-t", "--", "echo up; sleep 60"], (24, 80));
    let before = t.initial_modes().to_owned();
    t.expect_after(0, "up", Duration::from_secs(15));
    assert_ne!(t.modes(), before, "the client did not switch to raw mode");
    socklab_testkit::signal(t.pid(), "TERM");
    t.wait_exit(Duration::from_secs(10));
    assert_eq!(t.modes(), before, "SIGTERM left the terminal raw");
}

#[test]
fn ctrl_c_at_the_prompt_interrupts_the_command_and_keeps_the_session() {
    let fx = Fixture::start(&["--timeout", "60"]);
    std::fs::create_dir(fx.work.join("sub")).unwrap();
    let mut t = Terminal::start(&fx, &["-T"], (24, 80));
    t.expect_after(0, ">> ", Duration::from_secs(15));
    let from = t.mark();
    t.type_in("cd sub\r");
    t.expect_after(from, ">> ", Duration::from_secs(5));
    let from = t.mark();
    let nap = format!("sleep 33.{}", std::process::id());
    t.type_in(&format!("{nap}\r"));
    assert!(
        wait_until(Duration::from_secs(10), || running(&nap)),
        "{}",
        t.screen()
    );
    t.type_in("\x03");
    t.expect_after(from, ">> ", Duration::from_secs(2));
    assert!(!running(&nap), "Ctrl-C left {nap} running");
    let from = t.mark();
    t.type_in("pwd\r");
    t.expect_after(from, "/sub", Duration::from_secs(5));
    // Keys typed while a command runs go to that command: wait for the prompt.
    let from = t.screen().rfind("/sub").unwrap();
    t.expect_after(from, ">> ", Duration::from_secs(5));
    t.type_in("exit 7\r");
    assert_eq!(
        t.wait_exit(Duration::from_secs(10)).code(),
        Some(7),
        "{}",
        t.screen()
    );
}

#[test]
fn ctrl_d_ctrl_z_job_control_and_a_pager_work_on_the_pty() {
    let fx = Fixture::start(&["--timeout", "120"]);
    let mut t = Terminal::start(&fx, &[], (24, 80));
    t.wait_for_shell(&fx);
    // Ctrl-D: end of input for cat, through the remote line discipline.
    let from = t.mark();
    t.type_in("cat; echo cat-ended-$((1+1))\r");
    std::thread::sleep(Duration::from_millis(300));
    t.type_in("\x04");
    t.expect_after(from, "cat-ended-2", Duration::from_secs(5));
    // Ctrl-Z: the remote shell's job control stops the job; `kill %1` ends it.
    let from = t.mark();
    let nap = format!("sleep 31.{}", std::process::id());
    t.type_in(&format!("{nap}\r"));
    let started = wait_until(Duration::from_secs(10), || running(&nap));
    assert!(started, "{nap} did not start:\n{}", t.screen());
    t.type_in("\x1a");
    t.expect_after(from, "Stopped", Duration::from_secs(5));
    let out = t.run("jobs; kill -9 %1");
    assert!(out.contains(&nap), "{out}");
    // A full-screen program: less pages its input and quits on q. (vi works as well,
    // but first asks the terminal where its cursor is, which this test's terminal
    // does not answer.)
    if std::path::Path::new("/usr/bin/less").exists() {
        let from = t.mark();
        t.type_in("seq 1000 | less\r");
        t.expect_after(from, "\n23", Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(300));
        t.type_in("q");
        let out = t.run("echo less-left-$((2+2))");
        assert!(out.contains("less-left-4"), "{out}");
    }
    t.type_in("exit\r");
    assert_eq!(
        t.wait_exit(Duration::from_secs(10)).code(),
        Some(0),
        "{}",
        t.screen()
    );
}

#[test]
fn sigterm_at_the_prompt_between_commands_still_ends_the_client() {
    let fx = Fixture::start(&["--timeout", "60"]);
    let mut t = Terminal::start(&fx, &["-T"], (24, 80));
    t.expect_after(0, ">> ", Duration::from_secs(15));
    let from = t.mark();
    // A command on a PTY installs the client's terminal signal handling...
    t.type_in("echo one\r");
    t.expect_after(from, "one", Duration::from_secs(5));
    let from = t.screen().rfind("one").unwrap();
    t.expect_after(from, ">> ", Duration::from_secs(5));
    // ...which must not outlive it: at the prompt, SIGTERM ends the client as usual.
    socklab_testkit::signal(t.pid(), "TERM");
    let status = t.wait_exit(Duration::from_secs(5));
    assert!(!status.success(), "{status:?}");
    assert_eq!(t.modes(), t.initial_modes());
}

#[test]
fn a_pty_session_works_over_tls_keystrokes_in_and_the_screen_out() {
    let state = tempfile::TempDir::new().unwrap();
    let st = state.path().to_str().unwrap();
    let fx = Fixture::start(&["--timeout", "60", "--tls", "--state-dir", st]);
    let fp = fx.server.fingerprint();
    let mut t = Terminal::start(
        &fx,
        &[
            "--fingerprint",
            &fp,
            "-t",
            "--",
            "tty; read line; echo \"got:$line\"; exit 5",
        ],
        (24, 80),
    );
    let before = t.initial_modes().to_owned();
    t.expect_after(0, "/dev/pts/", Duration::from_secs(15));
    t.type_in("typed over tls\r");
    let status = t.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(5), "{}", t.screen());
    assert!(t.screen().contains("got:typed over tls"), "{}", t.screen());
    assert_eq!(t.modes(), before, "terminal modes not restored");
}
