//! echo-client's `>> ` prompt as a person uses it, on a real pseudo-terminal (the
//! line editor: history, long lines), and as a script uses it (the scripting rule).

use socklab_testkit::pty::Terminal;
use socklab_testkit::{start_echo, wait_child, wait_until, Server};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

const CLIENT: &str = env!("CARGO_BIN_EXE_echo-client");
const WAIT: Duration = Duration::from_secs(15);

/// echo-client on a terminal of 24 x 80, talking to `srv`, its history under `state`.
fn client_on_terminal(srv: &Server, state: &TempDir) -> Terminal {
    let mut cmd = Command::new(CLIENT);
    cmd.args(["--port", &srv.port().to_string()])
        .env("XDG_STATE_HOME", state.path());
    let t = Terminal::start(&cmd, (24, 80));
    t.expect_after(0, ">> ", WAIT);
    t
}

#[test]
fn up_arrow_recalls_the_previous_line_and_the_history_file_keeps_it() {
    let srv = start_echo(&["--upper"]);
    let state = TempDir::new().unwrap();
    let mut t = client_on_terminal(&srv, &state);
    t.type_in("hello history\r");
    let mark = t.expect_in_order(0, &["HELLO HISTORY", ">> "], WAIT);
    // Up, then Enter: the editor puts the last line back and sends it again.
    t.type_in("\x1b[A\r");
    t.expect_in_order(mark, &["HELLO HISTORY", ">> "], WAIT);
    // Ctrl-D on the empty line leaves, with success.
    t.type_in("\x04");
    let status = t.wait_exit(WAIT);
    assert!(status.success(), "{status:?}; screen:\n{:?}", t.screen());
    let history = state.path().join("socklab/echo-client_history");
    let kept =
        std::fs::read_to_string(&history).unwrap_or_else(|e| panic!("{}: {e}", history.display()));
    assert!(kept.contains("hello history"), "{kept:?}");
}

#[test]
fn a_10000_byte_line_typed_at_the_prompt_is_echoed_whole() {
    // A terminal in its usual (canonical) mode keeps at most 4095 bytes of a line and
    // drops the rest; the editor reads it raw, so nothing is cut.
    let srv = start_echo(&["--upper"]);
    let state = TempDir::new().unwrap();
    let mut t = client_on_terminal(&srv, &state);
    let line = "y".repeat(10_000);
    let mark = t.mark();
    t.type_in(&line);
    t.type_in("\r");
    t.expect_in_order(
        mark,
        &[&line.to_uppercase(), ">> "],
        Duration::from_secs(60),
    );
    t.type_in("\x04");
    assert!(t.wait_exit(WAIT).success(), "{:?}", t.screen());
}

#[test]
fn ctrl_c_clears_the_line_being_typed_and_the_prompt_goes_on() {
    let srv = start_echo(&["--upper"]);
    let state = TempDir::new().unwrap();
    let mut t = client_on_terminal(&srv, &state);
    t.type_in("thrown away");
    t.expect_after(0, "thrown away", WAIT);
    let mark = t.mark();
    t.type_in("\x03");
    // The prompt drawn again, empty: a person sees it before typing on.
    t.expect_after(mark, ">> ", WAIT);
    let mark = t.mark();
    t.type_in("kept\r");
    t.expect_in_order(mark, &["KEPT", ">> "], WAIT);
    assert!(!t.screen().contains("THROWN AWAY"), "{:?}", t.screen());
    t.type_in("\x04");
    assert!(t.wait_exit(WAIT).success(), "{:?}", t.screen());
}

#[test]
fn a_script_stops_with_an_error_when_the_server_goes_away_mid_way() {
    // An echo fails only with its connection, so nothing after it can run: the
    // script ends there, `error: …`, non-zero, whatever --keep-going would say.
    let srv = start_echo(&[]);
    let mut child = Command::new(CLIENT)
        .args(["--port", &srv.port().to_string(), "--prompt"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    stdin.write_all(b"first\n").unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("first\n") {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "no echo of the first line: {seen:?}");
        seen.extend_from_slice(&buf[..n]);
    }
    // SIGKILL: the kernel closes the connection at once (a SIGTERM would let it finish).
    srv.signal("KILL");
    assert!(wait_until(WAIT, || std::net::TcpStream::connect(
        srv.connect_addr()
    )
    .is_err()));
    stdin.write_all(b"second\nthird\n").unwrap();
    drop(stdin);
    let status = wait_child(&mut child, WAIT).expect("echo-client did not end");
    stdout.read_to_end(&mut seen).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let out = String::from_utf8_lossy(&seen);
    assert_eq!(status.code(), Some(1), "stdout {out:?}, stderr {stderr:?}");
    assert!(stderr.starts_with("error: "), "{stderr:?}");
    assert!(!out.contains("third"), "ran on after the failure: {out:?}");
}

#[test]
fn sigterm_while_the_editor_holds_the_terminal_puts_its_modes_back() {
    let srv = start_echo(&[]);
    let state = TempDir::new().unwrap();
    let mut t = client_on_terminal(&srv, &state);
    // Half a line typed: the editor is reading, the terminal raw.
    t.type_in("half typ");
    t.expect_after(0, "half typ", WAIT);
    t.assert_sigterm_puts_modes_back(WAIT);
}
