//! `socklab-passwd`, the real binary: a password piped on stdin becomes an argon2id
//! line in the users file, and nothing else does.

use socklab_auth::Users;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn passwd(users: &Path, name: &str, stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_socklab-passwd"))
        .arg("--users")
        .arg(users)
        .arg(name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The binary may exit before reading everything (a refused name): ignore EPIPE.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn socklab_passwd_adds_and_updates_users_from_a_pipe_without_storing_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    let out = passwd(&users, "alice", b"first secret\n");
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("added user alice in "),
        "{out:?}"
    );
    let out = passwd(&users, "bob", b"bobs secret");
    assert!(out.status.success(), "{out:?}");
    let out = passwd(&users, "alice", b"second secret\r\n");
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("changed the password of user alice in "),
        "{out:?}"
    );

    let text = std::fs::read_to_string(&users).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.lines().all(|l| l.contains(":$argon2id$")), "{text}");
    assert!(
        !text.contains("secret"),
        "a password is in the file:\n{text}"
    );
    let loaded = Users::load(&users).unwrap();
    assert!(loaded.verify("alice", "second secret"));
    assert!(!loaded.verify("alice", "first secret"));
    assert!(loaded.verify("bob", "bobs secret"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&users).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn socklab_passwd_refuses_empty_overlong_passwords_and_bad_names_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("alice", b"\n".to_vec(), "empty"),
        ("alice", b"1234567\n".to_vec(), "shorter than 8 characters"),
        (
            "alice",
            [vec![b'x'; 1025], b"\n".to_vec()].concat(),
            "longer than 1024",
        ),
        ("bad:name", b"long enough\n".to_vec(), "invalid user name"),
    ];
    for (name, stdin, why) in cases {
        let out = passwd(&users, name, &stdin);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{why}: {out:?}");
        assert!(
            err.starts_with("error: ") && err.contains(why),
            "{why}: {err}"
        );
        assert!(!users.exists(), "{why}: the users file was created");
    }
}
