//! Paths and the new operations through the real client: directories, mkdir, rm,
//! rmdir, mv, `-o DIR`, `-o -`, and a resume whose local file changed.

mod common;

use common::*;
use socklab_testkit::random_bytes;
use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

#[test]
fn mkdir_put_ls_get_mv_rm_rmdir_work_on_paths() {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    write(&fx.local().join("报告 1.txt"), b"report");
    for args in [
        &["mkdir", "-p", "数据/2026"][..],
        &["put", "报告 1.txt", "--as", "数据/2026/报告 1.txt"],
    ] {
        let out = fx.client(&server, args);
        assert_ok(&out, &server);
    }
    assert_eq!(
        std::fs::read(fx.root().join("数据/2026/报告 1.txt")).unwrap(),
        b"report"
    );
    let out = fx.client(&server, &["ls", "数据"]);
    assert_ok(&out, &server);
    assert!(stdout(&out).starts_with("dir "), "{}", stdout(&out));
    // mkdir without -p on an existing directory, and into a missing parent.
    let out = fx.client(&server, &["mkdir", "数据"]);
    assert_fails_with(&out, &server, "exists");
    let out = fx.client(&server, &["mkdir", "no/such"]);
    assert_fails_with(&out, &server, "not_found");
    // get of a path lands under its last component, here.
    std::fs::remove_file(fx.local().join("报告 1.txt")).unwrap();
    let out = fx.client(&server, &["get", "数据/2026/报告 1.txt"]);
    assert_ok(&out, &server);
    assert_eq!(
        std::fs::read(fx.local().join("报告 1.txt")).unwrap(),
        b"report"
    );
    // mv never replaces without --overwrite.
    write(&fx.root().join("other"), b"other");
    let out = fx.client(&server, &["mv", "other", "数据/2026/报告 1.txt"]);
    assert_fails_with(&out, &server, "exists");
    let out = fx.client(&server, &["mv", "other", "数据/moved"]);
    assert_ok(&out, &server);
    assert_eq!(
        std::fs::read(fx.root().join("数据/moved")).unwrap(),
        b"other"
    );
    // rmdir refuses a directory that is not empty; rm refuses a directory.
    let out = fx.client(&server, &["rmdir", "数据/2026"]);
    assert_fails_with(&out, &server, "exists");
    let out = fx.client(&server, &["rm", "数据/2026"]);
    assert!(
        !out.status.success() && stderr(&out).contains("rmdir"),
        "{}",
        describe(&out, &server)
    );
    for args in [
        &["rm", "数据/2026/报告 1.txt"][..],
        &["rmdir", "数据/2026"],
        &["rm", "数据/moved"],
        &["rmdir", "数据"],
    ] {
        let out = fx.client(&server, args);
        assert_ok(&out, &server);
    }
    assert_eq!(fx.root_names(), Vec::<String>::new());
}

#[test]
fn the_client_refuses_dot_dot_and_absolute_paths_before_sending() {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    for path in ["../x", "/etc/passwd", "a/../../x", "a//b"] {
        for cmd in ["get", "stat", "rm", "mkdir"] {
            let out = fx.client(&server, &[cmd, path]);
            assert_fails_with(&out, &server, "invalid_name");
        }
    }
    assert!(!server.stderr().contains("refused"), "{}", server.stderr());
}

#[test]
fn anonymous_and_read_only_sessions_cannot_change_the_tree() {
    let fx = Fixture::new();
    std::fs::create_dir(fx.root().join("d")).unwrap();
    let server = fx.server(&["--read-only"]);
    for args in [&["mkdir", "e"][..], &["rmdir", "d"], &["mv", "d", "e"]] {
        let out = fx.client(&server, args);
        assert_fails_with(&out, &server, "forbidden");
    }
    assert!(fx.root().join("d").is_dir());
}

#[test]
fn get_into_an_existing_directory_writes_inside_it() {
    let fx = Fixture::new();
    write(&fx.root().join("a.txt"), b"into the dir");
    std::fs::create_dir(fx.local().join("dir")).unwrap();
    let server = fx.server(&[]);
    let out = fx.client(&server, &["get", "a.txt", "-o", "dir"]);
    assert_ok(&out, &server);
    assert_eq!(
        std::fs::read(fx.local().join("dir/a.txt")).unwrap(),
        b"into the dir"
    );
    assert!(!fx.local().join("dir.socklab-part").exists());
}

#[test]
fn get_to_dash_writes_stdout_and_no_file() {
    let fx = Fixture::new();
    let data = random_bytes(200_000);
    write(&fx.root().join("a.bin"), &data);
    let server = fx.server(&[]);
    let out = fx.client(&server, &["get", "a.bin", "-o", "-"]);
    assert_ok(&out, &server);
    assert!(
        out.stdout == data,
        "stdout is not the file ({} bytes)",
        out.stdout.len()
    );
    assert!(!fx.local().join("-").exists());
    assert!(!fx.local().join("-.socklab-part").exists());
}

#[test]
fn put_resume_after_the_local_file_changed_stops_before_sending() {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    let data = random_bytes(300_000);
    // An upload cut at 100,000 bytes.
    let mut s = raw(&server);
    let put = serde_json::json!({"op": "put", "name": "f.bin", "size": data.len()});
    socklab_proto::msg::write_header(&mut s, &put).unwrap();
    let _: serde_json::Value = socklab_proto::msg::read_reply(&mut s).unwrap();
    s.write_all(&data[..100_000]).unwrap();
    s.shutdown(Shutdown::Both).unwrap();
    assert!(server.wait_for_log("kept partial upload", std::time::Duration::from_secs(20)));
    // The local file changes in its first part, same size.
    let mut changed = data.clone();
    changed[5] ^= 0xff;
    write(&fx.local().join("f.bin"), &changed);
    let out = fx.client(&server, &["put", "f.bin", "--resume"]);
    assert_fails_with(&out, &server, "checksum_mismatch");
    assert!(
        stderr(&out).contains("the local file changed since the interrupted transfer"),
        "{}",
        describe(&out, &server)
    );
    assert!(!fx.root().join("f.bin").exists());
    // Without --resume it starts over and succeeds.
    let out = fx.client(&server, &["put", "f.bin"]);
    assert_ok(&out, &server);
    assert!(std::fs::read(fx.root().join("f.bin")).unwrap() == changed);
}

#[test]
fn user_defaults_to_the_environment() {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    let out = fx
        .bare_client_for_test(&["--port", &server.port().to_string()])
        .env("USER", USER)
        .arg("--password-file")
        .arg(fx.files.password_file())
        .arg("ls")
        .output()
        .unwrap();
    assert_ok(&out, &server);
    assert!(
        server.wait_for_log("logged in as alice", Duration::from_secs(5)),
        "{}",
        server.stderr()
    );
}

#[test]
fn prompt_cd_pwd_lcd_lls_keep_working_directories_on_both_sides() {
    let fx = Fixture::new();
    std::fs::create_dir_all(fx.root().join("d/e")).unwrap();
    std::fs::write(fx.root().join("d/e/f.txt"), b"deep").unwrap();
    std::fs::create_dir(fx.local().join("sub")).unwrap();
    std::fs::write(fx.local().join("sub/up.txt"), b"up").unwrap();
    let server = fx.server(&[]);
    let script = "cd d\npwd\nls\ncd e\nget f.txt\nlcd sub\nlls\nput up.txt\n\
                  cd ../..\npwd\ncd /d/e\nls\ncd f.txt\ncd nosuch\npwd\n";
    // The two failing cds are part of what is tested: --keep-going runs past them.
    let out = fx.client_with_stdin(&server, &["--keep-going"], Some(script));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.contains(&"/d"), "{}", describe(&out, &server));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("dir") && l.ends_with(" e")),
        "ls in d:\n{}",
        describe(&out, &server)
    );
    // get in d/e wrote into the local directory of the time (before lcd).
    assert_eq!(std::fs::read(fx.local().join("f.txt")).unwrap(), b"deep");
    assert!(
        lines.iter().any(|l| l.ends_with(" up.txt")),
        "lls in sub:\n{}",
        describe(&out, &server)
    );
    // put after lcd read sub/up.txt and stored it in the remote d/e.
    assert_eq!(std::fs::read(fx.root().join("d/e/up.txt")).unwrap(), b"up");
    assert!(lines.contains(&"/"), "{}", describe(&out, &server));
    let err = stderr(&out);
    assert!(
        err.contains("is not a directory"),
        "{}",
        describe(&out, &server)
    );
    assert!(err.contains("nosuch"), "{}", describe(&out, &server));
    // A failed cd leaves the directory as it was.
    assert_eq!(lines.last(), Some(&"/d/e"), "{}", describe(&out, &server));
}
