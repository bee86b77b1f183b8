//! ftp-server and ftp-client over TLS, on loopback: trust decisions (a changed
//! certificate, trust on first use), the plain/TLS mismatches each way, stalled
//! handshakes against the connection cap, and multi-MiB transfers checked by md5.

mod common;

use common::*;
use socklab_testkit::{random_bytes, Server};
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// ftp-server with TLS, keeping its certificate in `state`.
fn tls_server(fx: &Fixture, state: &Path, args: &[&str]) -> Server {
    let state = state.to_str().unwrap();
    fx.server(&[&["--tls", "--state-dir", state], args].concat())
}

/// ftp-server with TLS on exactly `port` (a restart on the same address).
fn tls_server_on(fx: &Fixture, state: &Path, port: u16) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ftp-server"));
    cmd.args([
        "--port",
        &port.to_string(),
        "--login-delay-ms",
        "10",
        "--tls",
    ])
    .arg("--state-dir")
    .arg(state)
    .arg("--root")
    .arg(fx.root())
    .arg("--users")
    .arg(fx.files.users())
    .stdin(Stdio::null());
    Server::spawn_with(&mut cmd)
}

#[test]
fn put_and_get_of_a_few_mib_over_tls_are_byte_exact_with_the_md5_checked() {
    let fx = Fixture::new();
    let server = tls_server(&fx, &fx.path("state"), &[]);
    let fp = server.fingerprint();
    let data = random_bytes(5 << 20);
    let md5 = md5_of(&data);
    write(&fx.local().join("big.bin"), &data);

    let out = fx.client(&server, &["--fingerprint", &fp, "put", "big.bin"]);
    assert_ok(&out, &server);
    assert!(std::fs::read(fx.root().join("big.bin")).unwrap() == data);
    assert!(
        server.wait_for_log(&md5, Duration::from_secs(5)),
        "{}",
        server.stderr()
    );

    let out = fx.client(
        &server,
        &["--fingerprint", &fp, "get", "big.bin", "-o", "copy.bin"],
    );
    assert_ok(&out, &server);
    let copy = std::fs::read(fx.local().join("copy.bin")).unwrap();
    assert_eq!(md5_of(&copy), md5, "{}", describe(&out, &server));
    assert!(stdout(&out).contains(&md5), "{}", describe(&out, &server));

    // A resumed download sends the rest through the TLS stream, prefix checked.
    let part = socklab_ftp::client::part_path(&fx.local().join("again.bin"));
    std::fs::write(&part, &data[..(3 << 20) + 17]).unwrap();
    let args = [
        "--fingerprint",
        &fp,
        "get",
        "big.bin",
        "-o",
        "again.bin",
        "--resume",
    ];
    let out = fx.client(&server, &args);
    assert_ok(&out, &server);
    assert!(std::fs::read(fx.local().join("again.bin")).unwrap() == data);
}

#[test]
fn a_different_certificate_on_the_same_address_is_refused_before_the_login() {
    let fx = Fixture::new();
    let first = tls_server(&fx, &fx.path("state-a"), &[]);
    let port = first.port();
    let out = fx.client(&first, &["--accept-new", "ls"]);
    assert_ok(&out, &first);
    // Trusted now: a second connection needs only --tls.
    let out = fx.client(&first, &["--tls", "ls"]);
    assert_ok(&out, &first);
    let pinned = first.fingerprint();
    drop(first);

    let second = tls_server_on(&fx, &fx.path("state-b"), port);
    assert_ne!(second.fingerprint(), pinned);
    write(&fx.local().join("secret.txt"), b"not for them");
    for args in [
        vec!["--tls", "put", "secret.txt"],
        vec!["--accept-new", "put", "secret.txt"],
        vec!["--fingerprint", &pinned, "put", "secret.txt"],
    ] {
        let out = fx.client(&second, &args);
        assert!(
            !out.status.success(),
            "{args:?}: {}",
            describe(&out, &second)
        );
        let err = stderr(&out);
        assert!(
            err.contains("CHANGED") || err.contains("not the pinned"),
            "{args:?}: {}",
            describe(&out, &second)
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !second.stderr().contains("logged in"),
        "{}",
        second.stderr()
    );
    assert!(!fx.root().join("secret.txt").exists());
}

#[test]
fn a_plain_client_is_told_to_add_tls_and_a_tls_client_to_drop_it() {
    let fx = Fixture::new();
    let tls = tls_server(&fx, &fx.path("state"), &[]);
    let out = fx.client(&tls, &["ls"]);
    assert!(!out.status.success(), "{}", describe(&out, &tls));
    assert!(
        stderr(&out).contains("the server requires TLS: add --tls"),
        "{}",
        describe(&out, &tls)
    );

    let plain = fx.server(&[]);
    let out = fx.client(&plain, &["--accept-new", "ls"]);
    assert!(!out.status.success(), "{}", describe(&out, &plain));
    assert!(
        stderr(&out).contains("the server does not speak TLS: try without --tls"),
        "{}",
        describe(&out, &plain)
    );
}

#[test]
fn sixty_four_stalled_handshakes_do_not_keep_a_client_out_within_max_conns() {
    let fx = Fixture::new();
    let server = tls_server(&fx, &fx.path("state"), &["--max-conns", "70"]);
    let fp = server.fingerprint();
    // Each sends the first bytes of a ClientHello record, then nothing.
    let stalled: Vec<TcpStream> = (0..64)
        .map(|_| {
            let mut s = TcpStream::connect(server.connect_addr()).unwrap();
            s.write_all(&[0x16, 0x03, 0x01, 0x02]).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    write(&fx.local().join("a.txt"), b"through");
    let out = fx.client(&server, &["--fingerprint", &fp, "put", "a.txt"]);
    assert_ok(&out, &server);
    assert_eq!(std::fs::read(fx.root().join("a.txt")).unwrap(), b"through");
    drop(stalled);
}
