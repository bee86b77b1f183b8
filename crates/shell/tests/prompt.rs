//! `shell-client --prompt`'s `>> ` as a person uses it, on a real pseudo-terminal
//! (the line editor: history, Tab completion of the built-ins, Ctrl-C), and as a
//! script uses it (the scripting rule shared by every prompt).

mod common;

use common::{password, Fixture, USER};
use socklab_testkit::pty::Terminal;
use std::process::{Command, Output};
use std::time::Duration;
use tempfile::TempDir;

const CLIENT: &str = env!("CARGO_BIN_EXE_shell-client");
const WAIT: Duration = Duration::from_secs(15);

/// `shell-client ARGS` logged in to `fx`, its history under `state`.
fn client(fx: &Fixture, state: &TempDir, args: &[&str]) -> Command {
    let mut cmd = Command::new(CLIENT);
    cmd.args(["--port", &fx.server.port().to_string(), "--user", USER])
        .args(args)
        .env("SOCKLAB_PASSWORD", password())
        .env("XDG_STATE_HOME", state.path());
    cmd
}

/// `shell-client --prompt` on a terminal of 24 x 80, its first `>> ` drawn.
fn prompt_on_terminal(fx: &Fixture, state: &TempDir) -> Terminal {
    let t = Terminal::start(&client(fx, state, &["--prompt"]), (24, 80));
    t.expect_after(0, ">> ", WAIT);
    t
}

/// `script` fed to `shell-client --prompt ARGS` on stdin.
fn run_script(fx: &Fixture, args: &[&str], script: &str) -> Output {
    let state = TempDir::new().unwrap();
    let mut cmd = client(fx, &state, &["--prompt"]);
    cmd.args(args);
    socklab_testkit::run_with_stdin(&mut cmd, script.as_bytes())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn up_arrow_recalls_the_previous_command_and_ctrl_c_clears_the_line() {
    let fx = Fixture::start(&["--timeout", "60"]);
    let state = TempDir::new().unwrap();
    let mut t = prompt_on_terminal(&fx, &state);
    t.type_in("echo recall-$((6*7))\r");
    let mark = t.expect_in_order(0, &["recall-42", ">> "], WAIT);
    // Up, then Enter: the editor puts the last command back and it runs again.
    t.type_in("\x1b[A\r");
    let mark = t.expect_in_order(mark, &["recall-42", ">> "], WAIT);
    // Ctrl-C on a half-typed line throws it away; the prompt is drawn again.
    t.type_each("thrown away");
    let mark = t.expect_in_order(mark, &["thrown away"], WAIT);
    t.type_in("\x03");
    let mark = t.expect_in_order(mark, &[">> "], WAIT);
    t.type_in("echo kept-$((1+1))\r");
    t.expect_in_order(mark, &["kept-2", ">> "], WAIT);
    assert!(
        !t.screen().contains("not found"),
        "the cleared line ran:\n{}",
        t.screen()
    );
    // Ctrl-D on the empty line leaves, with the last command's code.
    t.type_in("\x04");
    let status = t.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "screen:\n{}", t.screen());
    let history = state.path().join("socklab/shell-client_history");
    let kept =
        std::fs::read_to_string(&history).unwrap_or_else(|e| panic!("{}: {e}", history.display()));
    assert!(kept.contains("echo recall-$((6*7))"), "{kept:?}");
    assert!(!kept.contains("thrown away"), "{kept:?}");
}

#[test]
fn tab_completes_a_built_in_and_exit_n_ends_with_n() {
    let fx = Fixture::start(&["--timeout", "60"]);
    let state = TempDir::new().unwrap();
    let mut t = prompt_on_terminal(&fx, &state);
    let mark = t.mark();
    t.type_each("exi\t");
    t.expect_after(mark, "exit", WAIT);
    // Had Tab not completed it, `exi 4` would run remotely and the prompt go on.
    t.type_in(" 4\r");
    let status = t.wait_exit(WAIT);
    assert_eq!(status.code(), Some(4), "screen:\n{}", t.screen());
}

#[test]
fn a_script_stops_at_its_first_failing_command_with_that_commands_code() {
    let fx = Fixture::start(&["--timeout", "60"]);
    let out = run_script(&fx, &[], "echo before\n(exit 7)\necho after\n");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(7),
        "stdout {stdout:?}, stderr {stderr:?}"
    );
    assert_eq!(stdout, "before\n", "stderr {stderr:?}");
    assert!(stderr.contains("error: (exit 7): exit 7"), "{stderr}");
    assert!(stderr.contains("stopped at line 2"), "{stderr}");

    // A line the server refuses (`cd` to nowhere) fails as well.
    let out = run_script(&fx, &[], "cd /no/such/dir\necho after\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!text(&out.stdout).contains("after"), "{out:?}");
    assert!(text(&out.stderr).contains("error: "), "{out:?}");
}

#[test]
fn keep_going_runs_the_rest_of_the_script_and_still_fails() {
    let fx = Fixture::start(&["--timeout", "60"]);
    let out = run_script(
        &fx,
        &["--keep-going"],
        "true\nfalse\necho after\nexit x\necho last\n",
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(stdout, "after\nlast\n", "stderr {stderr:?}");
    assert!(stderr.contains("error: false: exit 1"), "{stderr}");
    assert!(stderr.contains("0 to 255"), "{stderr}");
    assert!(
        stderr.contains("2 commands of the script failed, the first at line 2"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
}

#[test]
fn a_script_where_every_command_succeeds_exits_0() {
    let fx = Fixture::start(&["--timeout", "60"]);
    let out = run_script(&fx, &[], "true\necho ok\n");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(text(&out.stdout), "ok\n");
    assert_eq!(text(&out.stderr), "");
}
