//! What the client says when a transfer stops: the bytes that crossed and the exact
//! command that continues it (connection lost, or Ctrl-C), and `--overwrite` only
//! where it would help.

mod common;

use common::*;
use socklab_proto::msg::{read_header, write_ok};
use socklab_testkit::random_bytes;
use std::io::Read;
use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn a_server_that_hangs_up_mid_put_gets_the_exact_resume_command() {
    // A server that logs anyone in, accepts the put, takes 100,000 bytes and hangs up.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        fake_login(&mut s);
        let put: serde_json::Value = read_header(&mut s).unwrap().unwrap();
        write_ok(&mut s, &serde_json::json!({"offset": 0})).unwrap();
        let mut body = vec![0u8; 100_000];
        s.read_exact(&mut body).unwrap();
        put
    });
    let fx = Fixture::new();
    std::fs::write(fx.local().join("big file.bin"), random_bytes(64 << 20)).unwrap();
    let out = fx
        .client_command(port, &["put", "big file.bin"])
        .output()
        .unwrap();
    let put = fake.join().unwrap();
    assert_eq!(put["name"], "big file.bin");
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("the server closed the connection after "),
        "{err}"
    );
    let want = format!(
        "to continue, run: ftp-client --port {port} --user {USER} --password-file {} put 'big file.bin' --resume",
        fx.files.password_file().display()
    );
    assert!(err.contains(&want), "expected {want:?} in:\n{err}");
}

#[test]
fn ctrl_c_during_a_download_prints_the_resume_command_and_keeps_the_partial() {
    let fx = Fixture::new();
    // A sparse file: made at once, and too long to download before the signal.
    std::fs::File::create(fx.root().join("big.bin"))
        .unwrap()
        .set_len(256 << 20)
        .unwrap();
    let server = fx.server(&[]);
    let child = fx
        .client_command(server.port(), &["--no-progress", "get", "big.bin"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let part = fx.local().join("big.bin.socklab-part");
    let started = socklab_testkit::wait_until(Duration::from_secs(20), || {
        std::fs::metadata(&part).is_ok_and(|m| m.len() > 0)
    });
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    );
    let out = child.wait_with_output().unwrap();
    assert!(started, "the download never started:\n{}", server.stderr());
    let err = stderr(&out);
    if out.status.success() {
        // The whole file came before the signal: nothing to resume, nothing to say.
        return;
    }
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains(&format!(
            "interrupted; to continue, run: ftp-client --port {} --user {USER} --password-file {} get big.bin --resume",
            server.port(),
            fx.files.password_file().display()
        )),
        "{err}"
    );
    assert!(part.exists(), "the partial download is gone");
    let out = fx.client(&server, &["get", "big.bin", "--resume"]);
    assert_ok(&out, &server);
}

#[test]
fn overwrite_is_suggested_only_where_it_would_help() {
    let fx = Fixture::new();
    std::fs::create_dir(fx.root().join("d")).unwrap();
    std::fs::write(fx.root().join("d/x"), b"x").unwrap();
    std::fs::write(fx.root().join("f.txt"), b"f").unwrap();
    std::fs::write(fx.local().join("f.txt"), b"local").unwrap();
    let server = fx.server(&[]);
    // A put onto a file: --overwrite replaces it.
    let out = fx.client(&server, &["put", "f.txt"]);
    assert!(
        stderr(&out).contains("--overwrite"),
        "{}",
        describe(&out, &server)
    );
    // mkdir of what exists, rmdir of a full directory, a put onto a directory: it
    // would not help, and is not suggested.
    for args in [
        &["mkdir", "d"][..],
        &["rmdir", "d"],
        &["put", "f.txt", "--as", "d"],
    ] {
        let out = fx.client(&server, args);
        assert!(
            !out.status.success(),
            "{args:?}: {}",
            describe(&out, &server)
        );
        assert!(
            !stderr(&out).contains("--overwrite"),
            "{args:?} suggests --overwrite:\n{}",
            describe(&out, &server)
        );
    }
}
