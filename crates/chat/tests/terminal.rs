//! chat-client on a real pseudo-terminal, as a person uses it: messages arrive while a
//! line is half typed, Tab completes, Ctrl-D leaves.

mod common;

use common::{Member, WAIT};
use socklab_testkit::pty::Terminal;
use socklab_testkit::{start_chat, Server};
use std::process::Command;
use tempfile::TempDir;

/// chat-client as `nick` on a terminal of 24 x 80, its history under `state`, once its
/// input line is up.
fn client_on_terminal(srv: &Server, nick: &str, state: &TempDir) -> Terminal {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chat-client"));
    cmd.args(["--port", &srv.port().to_string(), "--nick", nick])
        .env("XDG_STATE_HOME", state.path());
    let t = Terminal::start(&cmd, (24, 80));
    // The /who it asks on a terminal shows who is here; then the input line.
    t.expect_after(0, " members: ", WAIT);
    t.expect_after(0, "> ", WAIT);
    t
}

#[test]
fn a_message_arriving_while_a_line_is_half_typed_leaves_that_line_intact() {
    let srv = start_chat(&[]);
    let state = TempDir::new().unwrap();
    let mut watcher = Member::join(&srv, "watcher");
    let mut t = client_on_terminal(&srv, "alice", &state);
    watcher.expect(&srv, |l| l == "*** alice joined");
    t.type_each("half typed");
    t.expect_after(0, "half typed", WAIT);
    let mark = t.mark();
    watcher.send("interrupting you");
    let after = t.expect_after(mark, "<watcher> interrupting you", WAIT);
    // Below the message, the input line is drawn again with what was typed.
    let shown = t.expect_after(mark, "half typed", WAIT);
    let message_at = after.find("<watcher> interrupting you").unwrap();
    assert!(
        shown.rfind("half typed").unwrap() > message_at,
        "the half-typed line is not below the message: {shown:?}"
    );
    // In one write, as a fast typist or a slow link delivers keys: all of them are read,
    // the Enter included, though the editor also waits for lines to print.
    let mark = t.mark();
    t.type_in(" and finished\r");
    watcher.expect(&srv, |l| l == "<alice> half typed and finished");
    t.expect_in_order(mark, &["finished", "> "], WAIT);
    t.type_in("\x04");
    let status = t.wait_exit(WAIT);
    assert!(status.success(), "{status:?}: {:?}", t.screen());
    watcher.expect(&srv, |l| l == "*** alice left");
}

#[test]
fn tab_completes_commands_and_the_nicks_of_members() {
    let srv = start_chat(&[]);
    let state = TempDir::new().unwrap();
    let mut zebra = Member::join(&srv, "zebra");
    let mut t = client_on_terminal(&srv, "alice", &state);
    zebra.expect(&srv, |l| l == "*** alice joined");
    // "ze" + Tab is zebra, known from the /who answer at the start.
    t.type_each("hello ze\t");
    let mark = t.expect_in_order(0, &["hello zebra"], WAIT);
    t.type_in("\r");
    zebra.expect(&srv, |l| l == "<alice> hello zebra");
    let mark = t.expect_in_order(mark, &["\n", "> "], WAIT);
    // "/he" + Tab is /help, which the server answers.
    t.type_each("/he\t\r");
    let mark = t.expect_in_order(mark, &["/help", "*** commands: ", "> "], WAIT);
    // Up recalls the last line, as at any prompt.
    t.type_in("\x1b[A");
    let mark = t.expect_in_order(mark, &["/help"], WAIT);
    t.type_in("\r");
    t.expect_in_order(mark, &["*** commands: ", "> "], WAIT);
    t.type_in("\x04");
    assert!(t.wait_exit(WAIT).success(), "{:?}", t.screen());
    let history =
        std::fs::read_to_string(state.path().join("socklab/chat-client_history")).unwrap();
    assert!(history.contains("hello zebra"), "{history:?}");
}
