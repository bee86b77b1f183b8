//! The two examples that bridge from the tutorials' API lists (`select`/`fileno()`,
//! `SOCK_SEQPACKET`) print what their docs claim. `cargo test` builds examples into
//! target/<profile>/examples/, next to the directory of the binaries under test.

use socklab_testkit::wait_until;
use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

/// Both examples end in about a second; a hung one fails with its output.
const EXAMPLE_LIMIT: Duration = Duration::from_secs(60);

/// Runs example `name`, asserts it exited 0 in time, and returns its stdout.
fn run_example(name: &str) -> String {
    let path = socklab_testkit::example(name);
    let mut child = Command::new(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut status = None;
    let finished = wait_until(EXAMPLE_LIMIT, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if !finished {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    assert!(
        finished,
        "{name} still running after {EXAMPLE_LIMIT:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let status = status.unwrap();
    assert!(
        status.success(),
        "{name} failed ({status})\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

#[test]
fn select_echo_serves_every_client_from_one_thread_and_names_the_limits() {
    let out = run_example("select_echo");
    assert!(out.contains("listener fileno() = "), "{out}");
    assert!(out.contains("FD_SETSIZE = 1024"), "{out}");
    assert_eq!(
        out.matches("select says the listener is readable: accepted")
            .count(),
        5,
        "{out}"
    );
    assert!(
        out.contains("5 clients served from one thread in "),
        "{out}"
    );
    assert!(out.contains("clients: 15 of 15 echoes matched"), "{out}");
    assert!(out.contains("epoll"), "{out}");
}

#[test]
fn seqpacket_keeps_boundaries_on_a_connection_and_reports_truncation() {
    let out = run_example("seqpacket");
    for m in ["one", "two", "three"] {
        assert!(out.contains(&format!("seqpacket recv -> \"{m}\"")), "{out}");
    }
    assert!(
        out.contains("the same over SOCK_STREAM: one read -> \"onetwothree\""),
        "{out}"
    );
    assert!(
        out.contains("read returned 64 bytes; the other 36 are gone"),
        "{out}"
    );
    assert!(
        out.contains("the next read is the next message: \"after\""),
        "{out}"
    );
    assert!(
        out.contains("recv(MSG_TRUNC) into 64 bytes returned 100"),
        "{out}"
    );
    assert!(out.contains("read returned 0 bytes: EOF"), "{out}");
}
