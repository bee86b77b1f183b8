//! The socket-API examples show what they claim: each test runs the built example
//! (`cargo test` builds examples into target/<profile>/examples/, next to the
//! directory of the binaries under test) and checks the lines it prints.
//!
//! The examples bound every wait themselves; the test adds an outer limit so that a
//! hung example fails with its output instead of hanging the suite.

use socklab_testkit::run_example;

/// The number in the first match of `prefix<number>` in `text`.
fn number_after(text: &str, prefix: &str) -> Option<usize> {
    let rest = &text[text.find(prefix)? + prefix.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[test]
fn numbered_client_reads_nine_lines_in_order_then_stops_at_eof() {
    let out = run_example("numbered", &[]);
    let lines: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("client: i = "))
        .collect();
    let expected: Vec<String> = (1..=9).map(|i| i.to_string()).collect();
    assert_eq!(lines, expected, "{out}");
    assert!(out.contains("client: EOF after 9 lines"), "{out}");
    assert!(out.contains("(getsockname / getpeername)"), "{out}");
}

#[test]
fn blocking_example_shows_wait_timeout_wouldblock_and_poll() {
    let out = run_example("blocking", &[]);
    assert!(out.contains("gettimeout() = None"), "{out}");
    assert!(out.contains(r#"then got "hello""#), "{out}");
    assert!(out.contains("gettimeout() = Some(100ms)"), "{out}");
    // Linux reports an expired SO_RCVTIMEO as EAGAIN (WouldBlock); others as TimedOut.
    assert!(
        out.contains("timeout read gave up after")
            && (out.contains("Err(WouldBlock)") || out.contains("Err(TimedOut)")),
        "{out}"
    );
    assert!(out.contains("non-blocking read returned in"), "{out}");
    assert!(out.contains("all WouldBlock: busy-waiting"), "{out}");
    assert!(
        out.contains(r#"read until WouldBlock got "world""#),
        "{out}"
    );
    assert!(out.contains("read returned 0 bytes: EOF"), "{out}");
    assert!(!out.contains("unexpected"), "{out}");
}

#[test]
fn backlog_queues_clients_of_a_busy_iterative_server_and_drops_the_overflow() {
    let out = run_example("backlog", &[]);
    assert!(
        out.contains("echo server --iterative on 127.0.0.1:"),
        "{out}"
    );
    let queued = out.matches("queued in the backlog, not accepted").count();
    let timed_out = out.matches("connect timed out after").count();
    // Linux queues backlog + 1 = 2; allow a little slack for other kernels.
    assert!((1..=3).contains(&queued), "queued {queued}\n{out}");
    assert!(timed_out >= 1, "no client was dropped\n{out}");
    assert!(
        out.contains("no reply within 300 ms"),
        "a queued client was answered before being accepted\n{out}"
    );
    assert_eq!(
        out.matches("served after waiting in the queue").count(),
        queued,
        "every queued client is served once the busy one leaves\n{out}"
    );
    assert!(
        out.contains("a client that timed out tries again: connected"),
        "{out}"
    );
}

#[test]
fn reuseport_lets_two_listeners_share_a_port_and_both_accept() {
    let out = run_example("reuseport", &[]);
    let (off, on) = out
        .split_once("SO_REUSEPORT on")
        .expect("both halves printed");
    assert!(off.contains("bind failed: Address already in use"), "{out}");
    assert!(on.contains("bound, both are listening"), "{out}");
    let a = number_after(on, "listener A accepted ").expect("A's count");
    let b = number_after(on, "listener B accepted ").expect("B's count");
    let clients: usize = on
        .lines()
        .find_map(|l| l.trim().split_once(" clients connected"))
        .and_then(|(n, _)| n.parse().ok())
        .expect("client count");
    assert_eq!(clients, 20, "{out}");
    assert_eq!(
        a + b,
        clients,
        "every client accepted by one of them\n{out}"
    );
    // 20 clients all hashing to one listener has odds of 2 in a million.
    assert!(a > 0 && b > 0, "{out}");
}

#[test]
fn v6only_decides_whether_ipv4_reaches_an_ipv6_listener() {
    let out = run_example("v6only", &[]);
    if out.contains("skipping: no IPv6") {
        eprintln!("skipping: no IPv6 on this machine\n{out}");
        return;
    }
    let (off, on) = out
        .split_once("IPV6_V6ONLY on:")
        .expect("both halves printed");
    assert!(
        off.contains("the server sees it as [::ffff:127.0.0.1]:"),
        "{out}"
    );
    assert!(
        off.contains("0.0.0.0:") && off.contains("bind failed"),
        "{out}"
    );
    assert!(on.contains("IPv4 client to 127.0.0.1:"), "{out}");
    assert!(on.contains("Connection refused"), "{out}");
    assert!(on.contains("the server sees it as [::1]:"), "{out}");
    assert!(on.contains("bound, the IPv4 side is free"), "{out}");
}

#[test]
fn unix_example_streams_keeps_datagram_boundaries_and_pairs_threads() {
    let out = run_example("unix", &[]);
    assert!(out.contains("a file of type socket: true"), "{out}");
    assert!(out.contains(r#"client got "hello over a path""#), "{out}");
    assert!(
        out.contains("binding the same path again: Address already in use"),
        "{out}"
    );
    assert!(
        out.contains("after removing the file: bound again"),
        "{out}"
    );
    for m in ["one", "two", "three"] {
        assert!(
            out.contains(&format!("server recvfrom -> {m:?} from /")),
            "{out}"
        );
    }
    assert!(
        out.contains(r#"client got 3 replies: ["ONE", "TWO", "THREE"]"#),
        "{out}"
    );
    assert!(out.contains("comes from (unnamed)"), "{out}");
    assert!(out.contains(r#"worker thread read "ping""#), "{out}");
    assert!(
        out.contains(r#"main thread read "pong", then EOF"#),
        "{out}"
    );
}

#[test]
fn create_connection_tries_each_address_until_one_answers() {
    let out = run_example("create_connection", &[]);
    assert!(out.contains(r#"getaddrinfo("localhost") -> "#), "{out}");
    let tries: Vec<&str> = out.lines().filter(|l| l.starts_with("try ")).collect();
    assert!(tries.len() >= 2, "at least two addresses tried\n{out}");
    let (last, failed) = tries.split_last().unwrap();
    assert!(last.ends_with(": connected"), "{out}");
    assert!(failed.iter().all(|l| l.ends_with("next address")), "{out}");
    assert!(out.contains(r#"echoed "hi""#), "{out}");
    assert!(
        out.contains(r#"net::connect("localhost", "#) && out.contains("in one call: connected"),
        "{out}"
    );
}

#[test]
fn create_connection_puts_ipv6_loopback_first_when_a_name_has_one_address() {
    let out = run_example("create_connection", &["127.0.0.1"]);
    let tries: Vec<&str> = out.lines().filter(|l| l.starts_with("try ")).collect();
    // 127.0.0.1 resolves to itself only, so ::1 is tried first and fails, then it connects.
    assert_eq!(tries.len(), 2, "{out}");
    assert!(tries[0].contains("[::1]:"), "{out}");
    assert!(
        tries[1].starts_with("try 2: 127.0.0.1:") && tries[1].ends_with(": connected"),
        "{out}"
    );
}
