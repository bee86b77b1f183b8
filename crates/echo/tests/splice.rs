//! `echo-server --splice`, end to end: the real binary on a real socket echoes
//! megabytes byte for byte with the bytes never entering the process, and refuses
//! the flags that need to see them.

use socklab_testkit::{random_bytes, start_echo};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::time::Duration;

const SERVER: &str = env!("CARGO_BIN_EXE_echo-server");

/// Sends `data` on one thread while reading the echo on this one (a client that wrote
/// it all first would deadlock once both directions' buffers were full).
fn echo_through(addr: &str, data: &[u8]) -> Vec<u8> {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let out = data.to_vec();
    let sender = std::thread::spawn(move || {
        // Uneven writes, so chunk edges fall anywhere in the pipe.
        for part in out.chunks(77_777) {
            writer.write_all(part).unwrap();
        }
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut back = Vec::with_capacity(data.len());
    (&stream)
        .read_to_end(&mut back)
        .unwrap_or_else(|e| panic!("reading the echo after {} bytes: {e}", back.len()));
    sender.join().unwrap();
    back
}

#[test]
fn splice_echoes_several_mebibytes_byte_for_byte() {
    let srv = start_echo(&["--splice"]);
    let data = random_bytes(8 << 20);
    let back = echo_through(&srv.connect_addr(), &data);
    assert_eq!(back.len(), data.len(), "echoed length");
    if let Some(i) = back.iter().zip(&data).position(|(a, b)| a != b) {
        panic!("echo differs first at byte {i}");
    }
}

#[test]
fn splice_serves_clients_at_once_and_small_messages_promptly() {
    let srv = start_echo(&["--splice"]);
    let mut a = TcpStream::connect(srv.connect_addr()).unwrap();
    let mut b = TcpStream::connect(srv.connect_addr()).unwrap();
    for s in [&a, &b] {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    // Each client gets its own reply while the other is still connected: a small
    // message is not held back waiting for more.
    for (s, msg) in [(&mut a, b"one\n"), (&mut b, b"two\n")] {
        s.write_all(msg).unwrap();
        let mut got = [0u8; 4];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, msg);
    }
}

/// Runs echo-server with `args` and returns its exit status and stderr; it must exit
/// at once (a refusal), so it is given no more than a few seconds.
fn refused(args: &[&str]) -> (std::process::ExitStatus, String) {
    let out = Command::new(SERVER)
        .args(["--port", "0"])
        .args(args)
        .output()
        .expect("running echo-server");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn splice_refuses_upper_because_it_must_see_the_bytes() {
    let (status, stderr) = refused(&["--splice", "--upper"]);
    assert!(!status.success(), "--splice --upper started: {stderr}");
    assert!(
        stderr.contains("--splice") && stderr.contains("--upper"),
        "stderr does not say which flags clash: {stderr}"
    );
}

#[test]
fn splice_refuses_tls_event_loop_and_busy_poll() {
    for other in [&["--tls"][..], &["--event-loop"], &["--busy-poll-us", "50"]] {
        let (status, stderr) = refused(&[&["--splice"][..], other].concat());
        assert!(!status.success(), "--splice {other:?} started: {stderr}");
        assert!(stderr.contains(other[0]), "{other:?}: {stderr}");
    }
}

#[test]
fn help_says_upper_cannot_splice() {
    let out = Command::new(SERVER).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let splice = help
        .split("\n  -")
        .find(|opt| opt.contains("--splice"))
        .unwrap_or_else(|| panic!("no --splice in --help:\n{help}"));
    assert!(splice.contains("--upper"), "--splice's help: {splice}");
}
