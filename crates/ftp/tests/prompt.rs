//! The `ftp> ` prompt as a person uses it, on a real pseudo-terminal (the line editor:
//! Tab completion of remote paths, history), and as a script uses it (the scripting
//! rule every prompt keeps: stop at the first failing command, `--keep-going`).

mod common;

use common::*;
use socklab_testkit::pty::Terminal;
use socklab_testkit::Server;
use std::time::Duration;
use tempfile::TempDir;

const WAIT: Duration = Duration::from_secs(15);

/// ftp-client logged in as alice on a terminal of 24 x 80, in `local/`, its history
/// under `state`, at its first `ftp> `.
fn client_on_terminal(fx: &Fixture, srv: &Server, state: &TempDir) -> Terminal {
    let mut cmd = fx.client_command(srv.port(), &[]);
    cmd.env("XDG_STATE_HOME", state.path());
    let t = Terminal::start(&cmd, (24, 80));
    t.expect_after(0, "ftp> ", WAIT);
    t
}

/// Ends the session as a person does, Ctrl-D at the prompt, and checks it exits 0.
fn exit_with_ctrl_d(t: &mut Terminal) {
    t.type_in("\x04");
    let status = t.wait_exit(WAIT);
    assert!(status.success(), "{status:?}; screen:\n{:?}", t.screen());
}

#[test]
fn tab_completes_a_remote_file_name_and_the_get_fetches_it() {
    let fx = Fixture::new();
    write(&fx.root().join("remote-only.bin"), b"from the server");
    let srv = fx.server(&[]);
    let state = TempDir::new().unwrap();
    let mut t = client_on_terminal(&fx, &srv, &state);
    // No local file of that name: only the server's `list` can complete it.
    t.type_each("get remote-o\t");
    t.expect_after(0, "get remote-only.bin", WAIT);
    let mark = t.mark();
    t.type_in("\r");
    t.expect_in_order(mark, &["got remote-only.bin: 15 bytes", "ftp> "], WAIT);
    assert_eq!(
        std::fs::read(fx.local().join("remote-only.bin")).unwrap(),
        b"from the server",
        "screen:\n{:?}",
        t.screen()
    );
    exit_with_ctrl_d(&mut t);
}

#[test]
fn tab_completes_a_path_in_a_subdirectory_relative_to_the_remote_cwd() {
    let fx = Fixture::new();
    std::fs::create_dir_all(fx.root().join("d/inner")).unwrap();
    write(&fx.root().join("d/inner/deep-file.txt"), b"deep");
    let srv = fx.server(&[]);
    let state = TempDir::new().unwrap();
    let mut t = client_on_terminal(&fx, &srv, &state);
    t.type_in("cd d\r");
    let mark = t.expect_in_order(0, &["cd d", "ftp> "], WAIT);
    // `in` completes to the directory `inner/` (listed in d, the working directory),
    // then `de` inside it to the file.
    t.type_each("stat in\t");
    t.expect_after(mark, "stat inner/", WAIT);
    t.type_each("de\t");
    t.expect_after(mark, "stat inner/deep-file.txt", WAIT);
    let mark = t.mark();
    t.type_in("\r");
    t.expect_in_order(mark, &["file, 4 bytes", "ftp> "], WAIT);
    exit_with_ctrl_d(&mut t);
}

#[test]
fn tab_completes_local_paths_after_put_and_asks_the_server_again_on_the_next_line() {
    let fx = Fixture::new();
    write(&fx.local().join("upload-me.txt"), b"up");
    let srv = fx.server(&[]);
    let state = TempDir::new().unwrap();
    let mut t = client_on_terminal(&fx, &srv, &state);
    // The server has no such name yet: nothing to complete; Ctrl-C drops the line.
    t.type_each("get uplo\t");
    let mark = t.mark();
    t.type_in("\x03");
    t.expect_after(mark, "ftp> ", WAIT);
    // After put, the local file's name completes from this machine's directory.
    t.type_each("put uplo\t");
    t.expect_after(mark, "put upload-me.txt", WAIT);
    let mark = t.mark();
    t.type_in("\r");
    t.expect_in_order(mark, &["put upload-me.txt: 2 bytes", "ftp> "], WAIT);
    // A new line, a new list: the name just uploaded is there.
    t.type_each("stat uplo\t");
    t.expect_after(mark, "stat upload-me.txt", WAIT);
    let mark = t.mark();
    t.type_in("\r");
    t.expect_in_order(mark, &["upload-me.txt: file, 2 bytes", "ftp> "], WAIT);
    exit_with_ctrl_d(&mut t);
}

#[test]
fn up_arrow_recalls_the_previous_command_and_the_history_file_keeps_it() {
    let fx = Fixture::new();
    let srv = fx.server(&[]);
    let state = TempDir::new().unwrap();
    let mut t = client_on_terminal(&fx, &srv, &state);
    t.type_in("pwd\r");
    let mark = t.expect_in_order(0, &["pwd", "/", "ftp> "], WAIT);
    t.type_in("mkdir made\r");
    let mark = t.expect_in_order(mark, &["mkdir made", "ftp> "], WAIT);
    assert!(fx.root().join("made").is_dir(), "{:?}", t.screen());
    // Up, Up: `pwd` again, then Enter runs it.
    t.type_in("\x1b[A");
    t.expect_after(mark, "mkdir made", WAIT);
    t.type_in("\x1b[A");
    t.expect_after(mark, "pwd", WAIT);
    let mark = t.mark();
    t.type_in("\r");
    t.expect_in_order(mark, &["/", "ftp> "], WAIT);
    exit_with_ctrl_d(&mut t);
    let history = state.path().join("socklab/ftp-client_history");
    let kept =
        std::fs::read_to_string(&history).unwrap_or_else(|e| panic!("{}: {e}", history.display()));
    assert!(
        kept.contains("pwd") && kept.contains("mkdir made"),
        "{kept:?}"
    );
}

#[test]
fn a_typo_at_the_terminal_does_not_fail_the_exit_status() {
    let fx = Fixture::new();
    let srv = fx.server(&[]);
    let state = TempDir::new().unwrap();
    let mut t = client_on_terminal(&fx, &srv, &state);
    t.type_in("lss\r");
    let mark = t.expect_in_order(0, &["error: ", "ftp> "], WAIT);
    t.type_in("bye\r");
    let status = t.wait_exit(WAIT);
    assert!(
        status.success(),
        "{status:?}; screen after the typo:\n{:?}",
        &t.screen()[mark.min(t.screen().len())..]
    );
}

/// A root with `a.txt`, so every `ls` prints a line naming it.
fn with_a_file() -> Fixture {
    let fx = Fixture::new();
    write(&fx.root().join("a.txt"), b"a");
    fx
}

#[test]
fn a_script_stops_at_its_first_failing_command() {
    let fx = with_a_file();
    let srv = fx.server(&[]);
    let out = fx.client_with_stdin(&srv, &[], Some("ls\nget missing\nls\n"));
    assert!(!out.status.success(), "{}", describe(&out, &srv));
    let err = stderr(&out);
    assert!(err.contains("error: "), "{}", describe(&out, &srv));
    assert!(err.contains("(not_found)"), "{}", describe(&out, &srv));
    assert!(
        err.contains("stopped at line 2"),
        "{}",
        describe(&out, &srv)
    );
    assert_eq!(
        stdout(&out).matches("a.txt").count(),
        1,
        "the ls after the failing get ran:\n{}",
        describe(&out, &srv)
    );
}

#[test]
fn keep_going_runs_the_rest_of_the_script_and_still_fails() {
    let fx = with_a_file();
    let srv = fx.server(&[]);
    let out = fx.client_with_stdin(&srv, &["--keep-going"], Some("ls\nget missing\nls\n"));
    assert!(!out.status.success(), "{}", describe(&out, &srv));
    assert_eq!(
        stdout(&out).matches("a.txt").count(),
        2,
        "the ls after the failing get did not run:\n{}",
        describe(&out, &srv)
    );
    let err = stderr(&out);
    assert!(err.contains("(not_found)"), "{}", describe(&out, &srv));
    assert!(
        err.contains("1 command of the script failed, the first at line 2"),
        "{}",
        describe(&out, &srv)
    );
}

#[test]
fn a_script_of_good_commands_exits_zero_and_a_typo_fails_it() {
    let fx = with_a_file();
    write(&fx.local().join("up.txt"), b"up");
    let srv = fx.server(&[]);
    let script = "ls\nmkdir d\ncd d\nput up.txt\npwd\nls\nmv up.txt moved.txt\n\
                  get moved.txt\nrm moved.txt\ncd ..\nrmdir d\nhelp\nbye\nls nosuch\n";
    let out = fx.client_with_stdin(&srv, &[], Some(script));
    assert_ok(&out, &srv);
    assert!(
        stdout(&out).lines().any(|l| l == "/d"),
        "{}",
        describe(&out, &srv)
    );
    assert_eq!(
        std::fs::read(fx.local().join("moved.txt")).unwrap(),
        b"up",
        "{}",
        describe(&out, &srv)
    );
    assert_eq!(fx.root_names(), ["a.txt"], "{}", describe(&out, &srv));
    // An unknown command is a failing command like any other.
    let out = fx.client_with_stdin(&srv, &[], Some("lss\nls\n"));
    assert!(!out.status.success(), "{}", describe(&out, &srv));
    assert!(
        stderr(&out).contains("error: unrecognized subcommand 'lss'"),
        "{}",
        describe(&out, &srv)
    );
    assert!(!stdout(&out).contains("a.txt"), "{}", describe(&out, &srv));
}

#[test]
fn sigterm_while_the_editor_holds_the_terminal_puts_its_modes_back() {
    let fx = Fixture::new();
    let srv = fx.server(&[]);
    let state = TempDir::new().unwrap();
    let mut t = client_on_terminal(&fx, &srv, &state);
    // Half a command typed: the editor is reading, the terminal raw.
    t.type_in("get half");
    t.expect_after(0, "get half", WAIT);
    t.assert_sigterm_puts_modes_back(WAIT);
}
