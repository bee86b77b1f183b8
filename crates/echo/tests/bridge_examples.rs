//! The two examples that bridge from the tutorials' API lists (`select`/`fileno()`,
//! `SOCK_SEQPACKET`) print what their docs claim. `cargo test` builds examples into
//! target/<profile>/examples/, next to the directory of the binaries under test.

fn run_example(name: &str) -> String {
    socklab_testkit::run_example(name, &[])
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
