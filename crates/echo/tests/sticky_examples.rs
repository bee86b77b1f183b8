//! Lesson 1's 粘包 examples and lesson 0's raw socket print what the lessons claim:
//! each cause of sticky packets happens, the ack handshake fails when the size and the
//! data share a segment, and the raw ping either gets its reply or explains why it
//! may not run. Outcomes only: the rates the examples print are not checked here.

use socklab_testkit::{example, run_example, wait_child, EXAMPLE_LIMIT};
use std::io::Read;
use std::process::{Command, Stdio};

/// The number of reads a line like `TCP_NODELAY off: 10 writes arrived in N reads` reports.
fn reads_after(out: &str, label: &str) -> usize {
    let line = out
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no line with {label:?}:\n{out}"));
    let (_, rest) = line.split_once("arrived in ").expect("count");
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn sticky_example_shows_nagle_the_receive_buffer_and_a_short_recv_gluing_messages() {
    // The paced writes are timing-bound: a reader starved of CPU for the whole burst
    // reads even the TCP_NODELAY segments at once. Up to three runs (bounded) must show
    // the difference once; every other claim is checked on the last run.
    let mut out = String::new();
    let (mut nagle, mut nodelay) = (0, 0);
    for _ in 0..3 {
        out = run_example("sticky", &[]);
        nagle = reads_after(&out, "TCP_NODELAY off:");
        nodelay = reads_after(&out, "TCP_NODELAY on :");
        if nagle < 10 && nodelay > nagle {
            break;
        }
    }
    assert!(
        nagle < 10,
        "Nagle on: ten writes should have left in fewer segments\n{out}"
    );
    assert!(
        nodelay > nagle,
        "TCP_NODELAY on should deliver the paced writes in more reads than Nagle\n{out}"
    );
    assert!(out.contains(r#"server recv -> "helloworld""#), "{out}");
    assert!(
        out.contains("recv(1024) #1 -> 1024 bytes"),
        "the first recv should stop at 1024 bytes\n{out}"
    );
    assert!(
        out.contains(r#"recv(1024) #2 -> 480 bytes, ending "xxnext""#),
        "the second recv should hold the 476-byte rest glued to \"next\"\n{out}"
    );
    assert!(out.contains("2 messages for 2 sends"), "{out}");
}

#[test]
fn ack_handshake_works_alone_and_fails_when_size_and_data_share_a_segment() {
    let out = run_example("ack_handshake", &[]);
    assert!(
        out.contains("ack handshake (size, \"ready\", data): 2000 messages in"),
        "{out}"
    );
    assert!(
        out.contains("length framing (u32 + data): 20000 messages in"),
        "{out}"
    );
    assert!(
        out.contains("ack handshake, TCP_NODELAY off (the tutorials' default): 25 messages in"),
        "{out}"
    );
    assert!(out.contains("messages per second"), "{out}");
    assert!(
        out.contains(r#"recv(1024) -> "11hello world"; int() of it fails"#),
        "letters after the size: the size does not parse\n{out}"
    );
    assert!(
        out.contains(r#"recv(1024) -> "512345", read as size 512345"#),
        "digits after the size: a wrong size parses\n{out}"
    );
    assert!(out.contains("0 of 512345 bytes came"), "{out}");
    assert_eq!(out.matches("FAILED").count(), 2, "{out}");
}

/// Whether this test runs as root: /proc/self belongs to the effective user.
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Root gets the reply; anyone else gets the explanation, with exit 0 either way.
fn assert_ping_replied_or_explained(out: &str) {
    if out.contains("was refused") {
        assert!(out.contains("needs CAP_NET_RAW"), "{out}");
        assert!(out.contains("ping_group_range"), "{out}");
    } else {
        assert!(
            out.contains("socket(AF_INET, SOCK_RAW, IPPROTO_ICMP): allowed"),
            "{out}"
        );
        assert!(out.contains("echo reply from 127.0.0.1"), "{out}");
        assert!(out.contains("checksum ok"), "{out}");
        assert!(out.contains("payload echoed back intact"), "{out}");
    }
}

#[test]
fn raw_ping_gets_its_echo_reply_as_root_or_explains_the_refusal() {
    let out = run_example("raw_ping", &[]);
    if is_root() && !out.contains("was refused") {
        assert!(out.contains("echo reply from 127.0.0.1"), "{out}");
    }
    assert_ping_replied_or_explained(&out);
}

#[test]
fn raw_ping_without_cap_net_raw_explains_and_exits_zero() {
    // As root, drop CAP_NET_RAW from the bounding set (util-linux setpriv); as anyone
    // else, the capability is missing already.
    let mut cmd = if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--bounding-set", "-net_raw"])
            .arg(example("raw_ping"));
        c
    } else {
        Command::new(example("raw_ping"))
    };
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setpriv (util-linux, scripts/setup.sh) runs");
    let status = wait_child(&mut child, EXAMPLE_LIMIT);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (mut out, mut err) = (String::new(), String::new());
    let _ = child.stdout.take().unwrap().read_to_string(&mut out);
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    let status = status.unwrap_or_else(|| panic!("raw_ping still running\n{out}\n{err}"));
    assert!(status.success(), "{status}\nstdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("was refused: Operation not permitted"),
        "{out}\n{err}"
    );
    assert_ping_replied_or_explained(&out);
}
