//! Hostile names, on both ends, and symlinks that try to leave the root.

mod common;

use common::*;
use socklab_proto::msg::{read_header, read_reply, write_header, write_ok, Empty};
use socklab_proto::{Error, ErrorCode, Request};
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;

/// At least 30 names a server must never turn into a path.
fn hostile_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        ".",
        "..",
        "/",
        "//",
        "/etc/passwd",
        "../etc/passwd",
        "../../../../../../etc/shadow",
        "a/b",
        "a/",
        "/a",
        "./a",
        "a/..",
        "..\\..\\windows\\system32",
        "a\\b",
        "\\",
        "C:\\boot.ini",
        "a\0b",
        "\0",
        "\n",
        "a\nb",
        "\r",
        "a\rb",
        "\t",
        "\x1b[2J",
        "\x1b]0;pwned\x07",
        "evil\x1b[1A\x1b[2K",
        "bell\x07",
        "\x7f",
        "\u{85}next-line",
        "\u{9b}31m",
        "del\x08\x08\x08",
        ".socklab-partial/x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("a".repeat(256));
    v.push("é".repeat(128)); // 256 bytes of UTF-8
    v.push(format!("{}/x", "a".repeat(300)));
    v
}

#[test]
fn server_refuses_every_hostile_name_for_every_op() {
    let fx = Fixture::new();
    write(&fx.root().join("ok.txt"), b"fine");
    let server = fx.server(&[]);
    let names = hostile_names();
    assert!(names.len() >= 30);
    let mut s = raw(&server);
    for name in &names {
        let requests = [
            Request::Stat { name: name.clone() },
            Request::Get {
                name: name.clone(),
                offset: 0,
            },
        ];
        // A name that is a valid relative path (`a/b`) names nothing here.
        let want = if socklab_ftp::paths::validate_path(name).is_ok() {
            ErrorCode::NotFound
        } else {
            ErrorCode::InvalidName
        };
        for req in requests {
            write_header(&mut s, &req).unwrap();
            match read_reply::<_, Empty>(&mut s) {
                Err(Error::Remote { code, .. }) if code == want => {}
                other => panic!(
                    "{req:?}: expected {want:?}, got {other:?}\n{}",
                    server.stderr()
                ),
            }
        }
        // A put as an eager one, so its refusal keeps the session (a refused put
        // that waits for `ready` ends it: see smuggling.rs).
        let put = serde_json::json!({"op": "put", "path": name, "size": 4, "overwrite": true, "eager": true});
        write_header(&mut s, &put).unwrap();
        std::io::Write::write_all(&mut s, b"abcd").unwrap();
        write_header(&mut s, &serde_json::json!({"md5": md5_of(b"abcd")})).unwrap();
        match read_reply::<_, Empty>(&mut s) {
            Err(Error::Remote { code, .. }) if code == want => {}
            other => panic!(
                "put {name:?}: expected {want:?}, got {other:?}\n{}",
                server.stderr()
            ),
        }
    }
    // The connection is still in step, and nothing was written anywhere.
    write_header(
        &mut s,
        &Request::Stat {
            name: "ok.txt".into(),
        },
    )
    .unwrap();
    let info: serde_json::Value = read_reply(&mut s).unwrap();
    assert_eq!(info["size"], 4);
    assert_eq!(fx.root_names(), ["ok.txt"]);
    assert!(fx.partials().is_empty());
}

#[test]
fn client_refuses_hostile_names_before_sending_them() {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    // `a/b` is a path now: the client sends it, and the server has nothing there.
    let refused_here =
        |n: &&String| !n.contains('\0') && socklab_ftp::paths::validate_path(n).is_err();
    for name in hostile_names().iter().filter(refused_here) {
        let out = fx.client(&server, &["get", name]);
        assert_fails_with(&out, &server, "invalid_name");
        let out = fx.client(&server, &["stat", name]);
        assert_fails_with(&out, &server, "invalid_name");
        // The error shows the name escaped: no raw control character reaches the terminal.
        assert!(
            !stderr(&out).chars().any(|c| c.is_control() && c != '\n'),
            "{:?}",
            stderr(&out)
        );
    }
    write(&fx.local().join("f"), b"x");
    let out = fx.client(&server, &["put", "f", "--as", "../f"]);
    assert_fails_with(&out, &server, "invalid_name");
    assert!(
        !server.stderr().contains("refused"),
        "the client must not send them:\n{}",
        server.stderr()
    );
}

#[test]
fn client_rejects_hostile_names_a_server_sends_back() {
    // A fake server that logs anyone in and answers with names a real one never sends.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake = std::thread::spawn(move || {
        for _ in 0..2 {
            let (mut s, _) = listener.accept().unwrap();
            fake_login(&mut s);
            let request: serde_json::Value = read_header(&mut s).unwrap().unwrap();
            match request["op"].as_str() {
                Some("list") => {
                    let files = serde_json::json!({"files": [
                        {"name": "good.txt", "size": 1, "mtime": 0},
                        {"name": "../../etc/passwd", "size": 1, "mtime": 0},
                        {"name": "\u{1b}[2Jcleared", "size": 1, "mtime": 0},
                    ]});
                    write_ok(&mut s, &files).unwrap();
                }
                Some("get") => {
                    write_ok(&mut s, &serde_json::json!({"name": "../evil", "size": 1})).unwrap();
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    });
    let fx = Fixture::new();
    let out = fx.client_command(port, &["ls"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("good.txt"), "{text}");
    assert!(
        !text.contains("passwd") && !text.contains('\x1b'),
        "{text:?}"
    );
    let warn = stderr(&out);
    assert!(
        warn.contains("invalid name") && !warn.contains('\x1b'),
        "{warn:?}"
    );
    let out = fx
        .client_command(port, &["get", "good.txt"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    assert!(stderr(&out).contains("../evil"), "{}", stderr(&out));
    assert!(!fx.path("evil").exists() && !fx.local().join("good.txt").exists());
    fake.join().unwrap();
}

#[test]
fn names_on_disk_that_are_unsafe_or_not_utf8_are_not_listed() {
    let fx = Fixture::new();
    write(&fx.root().join("fine.txt"), b"1");
    write(&fx.root().join("esc\x1b[2J"), b"2");
    write(
        &fx.root().join(std::ffi::OsStr::from_bytes(b"latin1-\xe9")),
        b"3",
    );
    let server = fx.server(&[]);
    let out = fx.client(&server, &["ls"]);
    assert_ok(&out, &server);
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    assert!(stdout(&out).contains("fine.txt"));
    // A local file whose name is not UTF-8 needs --as NAME.
    write(
        &fx.local().join(std::ffi::OsStr::from_bytes(b"caf\xe9")),
        b"4",
    );
    let out = fx.client(&server, &["put", "caf\u{e9}"]);
    assert!(!out.status.success());
    let local_bad = fx.local().join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    let out = fx
        .client_command(server.port(), &["put"])
        .arg(&local_bad)
        .output()
        .unwrap();
    assert_fails_with(&out, &server, "invalid_name");
}

#[test]
fn symlink_leading_outside_the_root_is_never_followed() {
    let fx = Fixture::new();
    let secret = fx.path("secret.txt");
    write(&secret, b"top secret");
    std::os::unix::fs::symlink(&secret, fx.root().join("link")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", fx.root().join("rel-link")).unwrap();
    std::os::unix::fs::symlink("/etc", fx.root().join("etc")).unwrap();
    write(&fx.root().join("inside.txt"), b"inside");
    std::os::unix::fs::symlink("inside.txt", fx.root().join("alias")).unwrap();
    let server = fx.server(&[]);

    for name in ["link", "rel-link"] {
        let out = fx.client(&server, &["get", name]);
        assert_fails_with(&out, &server, "forbidden");
        assert!(!fx.local().join(name).exists());
    }
    // stat describes the link itself, never what it points at.
    let out = fx.client(&server, &["stat", "etc"]);
    assert_ok(&out, &server);
    assert!(
        stdout(&out).contains("symlink"),
        "{}",
        describe(&out, &server)
    );
    // Symlinks are listed as what they are, and none is followed, even one that
    // stays inside.
    let out = fx.client(&server, &["ls"]);
    let listed = stdout(&out);
    assert!(
        listed.contains("link") && listed.contains("alias") && listed.contains("inside.txt"),
        "{listed}"
    );
    let out = fx.client(&server, &["get", "alias"]);
    assert_fails_with(&out, &server, "forbidden");

    // put onto the link's name is `exists`; with --overwrite it replaces the link
    // itself, and the file outside is untouched.
    write(&fx.local().join("new"), b"replacement");
    let out = fx.client(&server, &["put", "new", "--as", "link"]);
    assert_fails_with(&out, &server, "exists");
    let out = fx.client(&server, &["put", "new", "--as", "link", "--overwrite"]);
    assert_ok(&out, &server);
    assert_eq!(std::fs::read(&secret).unwrap(), b"top secret");
    assert!(!std::fs::symlink_metadata(fx.root().join("link"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read(fx.root().join("link")).unwrap(),
        b"replacement"
    );
}
