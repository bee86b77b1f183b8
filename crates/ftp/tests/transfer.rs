//! Round trips through the real ftp-server and ftp-client binaries.

mod common;

use common::*;
use socklab_testkit::{peak_rss_kib, random_bytes};
use std::time::Duration;

fn round_trip(size: usize) {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    let data = random_bytes(size);
    write(&fx.local().join("in.bin"), &data);
    let out = fx.client(&server, &["put", "in.bin", "--as", "data.bin"]);
    assert_ok(&out, &server);
    // Not a terminal: no progress bar, nothing on stderr.
    assert!(out.stderr.is_empty(), "{}", describe(&out, &server));
    assert!(
        stdout(&out).contains(&md5_of(&data)),
        "{}",
        describe(&out, &server)
    );
    assert_eq!(std::fs::read(fx.root().join("data.bin")).unwrap(), data);

    let out = fx.client(&server, &["get", "data.bin", "-o", "back.bin"]);
    assert_ok(&out, &server);
    let back = std::fs::read(fx.local().join("back.bin")).unwrap();
    assert_eq!(back.len(), data.len());
    assert_eq!(md5_of(&back), md5_of(&data));
    assert!(back == data, "downloaded bytes differ");
    assert_eq!(fx.root_names(), ["data.bin"]);
    assert!(fx.partials().is_empty(), "{:?}", fx.partials());
    assert!(!fx.local().join("back.bin.socklab-part").exists());
}

#[test]
fn round_trips_an_empty_file() {
    round_trip(0);
}

#[test]
fn round_trips_one_byte() {
    round_trip(1);
}

#[test]
fn round_trips_tens_of_mib_with_bounded_server_memory() {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    let data = random_bytes(40 << 20);
    write(&fx.local().join("big.bin"), &data);
    let out = fx.client(&server, &["put", "big.bin"]);
    assert_ok(&out, &server);
    let out = fx.client(&server, &["get", "big.bin", "-o", "copy.bin"]);
    assert_ok(&out, &server);
    let back = std::fs::read(fx.local().join("copy.bin")).unwrap();
    assert!(back == data, "40 MiB round trip differs");
    assert!(stdout(&out).contains(&md5_of(&data)));
    // A server that buffered the file would hold 40 MiB; a fixed buffer per transfer
    // keeps its peak far below that.
    let peak = peak_rss_kib(server.pid());
    assert!(
        peak < 28 * 1024,
        "server peak RSS {peak} KiB for a 40 MiB file"
    );
}

#[test]
fn ls_and_stat_show_size_and_mtime_as_a_local_date() {
    let fx = Fixture::new();
    write(&fx.root().join("a.txt"), b"hello");
    // 1,000,000,000 seconds after 1970: 2001-09-09 01:46:40 UTC (the client runs
    // with TZ=UTC).
    std::fs::File::options()
        .write(true)
        .open(fx.root().join("a.txt"))
        .unwrap()
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000))
        .unwrap();
    write(&fx.root().join("b.txt"), b"");
    std::fs::create_dir(fx.root().join("subdir")).unwrap();
    let server = fx.server(&[]);
    let out = fx.client(&server, &["ls"]);
    assert_ok(&out, &server);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "directories are listed as such, the partial dir is not: {text}"
    );
    assert_eq!(
        lines[0], "file                 5  2001-09-09 01:46  a.txt",
        "{text}"
    );
    assert!(
        lines[2].starts_with("dir ") && lines[2].ends_with("subdir"),
        "{text}"
    );
    let out = fx.client(&server, &["stat", "a.txt"]);
    assert_ok(&out, &server);
    assert_eq!(
        stdout(&out),
        "a.txt: file, 5 bytes, modified 2001-09-09 01:46:40 UTC\n"
    );
    let out = fx.client(&server, &["stat", "missing"]);
    assert_fails_with(&out, &server, "not_found");
}

#[test]
fn put_onto_existing_name_is_refused_unless_overwrite() {
    let fx = Fixture::new();
    write(&fx.root().join("x"), b"old");
    write(&fx.local().join("x"), b"new contents");
    let server = fx.server(&[]);
    let out = fx.client(&server, &["put", "x"]);
    assert_fails_with(&out, &server, "exists");
    assert_eq!(std::fs::read(fx.root().join("x")).unwrap(), b"old");
    let out = fx.client(&server, &["put", "x", "--overwrite"]);
    assert_ok(&out, &server);
    assert_eq!(std::fs::read(fx.root().join("x")).unwrap(), b"new contents");
}

#[test]
fn get_never_clobbers_a_local_file_unless_overwrite() {
    let fx = Fixture::new();
    write(&fx.root().join("x"), b"remote");
    write(&fx.local().join("x"), b"local");
    let server = fx.server(&[]);
    let out = fx.client(&server, &["get", "x"]);
    assert_fails_with(&out, &server, "exists");
    assert_eq!(std::fs::read(fx.local().join("x")).unwrap(), b"local");
    let out = fx.client(&server, &["get", "x", "--overwrite"]);
    assert_ok(&out, &server);
    assert_eq!(std::fs::read(fx.local().join("x")).unwrap(), b"remote");
}

#[test]
fn two_clients_putting_the_same_name_leave_exactly_one_complete_file() {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    let a = random_bytes(6 << 20);
    let b = random_bytes(6 << 20);
    write(&fx.local().join("a"), &a);
    write(&fx.local().join("b"), &b);
    let (ra, rb) = std::thread::scope(|s| {
        let ta = s.spawn(|| fx.client(&server, &["put", "a", "--as", "same"]));
        let tb = s.spawn(|| fx.client(&server, &["put", "b", "--as", "same"]));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    let oks = [&ra, &rb].iter().filter(|o| o.status.success()).count();
    assert_eq!(
        oks,
        1,
        "exactly one upload wins:\n{}\n{}",
        describe(&ra, &server),
        describe(&rb, &server)
    );
    let loser = if ra.status.success() { &rb } else { &ra };
    let why = stderr(loser);
    assert!(why.contains("(busy)") || why.contains("(exists)"), "{why}");
    let got = std::fs::read(fx.root().join("same")).unwrap();
    assert!(got == a || got == b, "the stored file is neither upload");
    assert_eq!(fx.root_names(), ["same"]);
    assert!(fx.partials().is_empty(), "{:?}", fx.partials());
}

#[test]
fn anonymous_server_allows_reading_without_login_and_refuses_put() {
    let fx = Fixture::new();
    write(&fx.root().join("pub.txt"), b"public");
    write(&fx.local().join("up.txt"), b"nope");
    let server = fx.server(&["--anonymous"]);
    let port = server.port().to_string();
    let out = fx.run_client(&["--port", &port, "--anonymous", "ls"], None);
    assert_ok(&out, &server);
    assert!(stdout(&out).contains("pub.txt"));
    let out = fx.run_client(&["--port", &port, "--anonymous", "get", "pub.txt"], None);
    assert_ok(&out, &server);
    assert_eq!(
        std::fs::read(fx.local().join("pub.txt")).unwrap(),
        b"public"
    );
    let out = fx.run_client(&["--port", &port, "--anonymous", "put", "up.txt"], None);
    assert_fails_with(&out, &server, "forbidden");
    assert_eq!(fx.root_names(), ["pub.txt"]);
    // A logged-in user may still upload to an anonymous server.
    let out = fx.client(&server, &["put", "up.txt"]);
    assert_ok(&out, &server);
}

#[test]
fn login_is_required_without_anonymous() {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    let port = server.port().to_string();
    let out = fx.run_client(&["--port", &port, "--anonymous", "ls"], None);
    assert_fails_with(&out, &server, "auth_required");
    let bad = fx.path("bad-password");
    write(&bad, b"wrong\n");
    let out = fx.run_client(
        &[
            "--port",
            &port,
            "--user",
            USER,
            "--password-file",
            bad.to_str().unwrap(),
            "ls",
        ],
        None,
    );
    assert_fails_with(&out, &server, "auth_failed");
}

#[test]
fn read_only_server_refuses_put_from_logged_in_users() {
    let fx = Fixture::new();
    write(&fx.local().join("f"), b"data");
    let server = fx.server(&["--read-only"]);
    let out = fx.client(&server, &["put", "f"]);
    assert_fails_with(&out, &server, "forbidden");
    assert!(fx.root_names().is_empty());
}

#[test]
fn upload_over_max_file_size_is_refused_before_any_byte() {
    let fx = Fixture::new();
    write(&fx.local().join("f"), &[7u8; 2000]);
    let server = fx.server(&["--max-file-size", "1000"]);
    let out = fx.client(&server, &["put", "f"]);
    assert_fails_with(&out, &server, "too_large");
    assert!(fx.root_names().is_empty());
    assert!(fx.partials().is_empty());
}

#[test]
fn prompt_runs_several_commands_on_one_connection() {
    let fx = Fixture::new();
    write(&fx.local().join("one.txt"), b"1");
    let server = fx.server(&[]);
    let script = "put one.txt\nls\nstat one.txt\nget one.txt -o \"two words.txt\"\nquit\n";
    let out = fx.client_with_stdin(&server, &[], Some(script));
    assert_ok(&out, &server);
    let text = stdout(&out);
    assert!(text.contains("put one.txt: 1 bytes"), "{text}");
    assert!(text.contains("one.txt: file, 1 bytes, modified "), "{text}");
    assert_eq!(
        std::fs::read(fx.local().join("two words.txt")).unwrap(),
        b"1"
    );
    assert_eq!(
        server.stderr().matches("logged in as alice").count(),
        1,
        "{}",
        server.stderr()
    );
}

#[test]
fn prompt_exits_non_zero_when_the_last_command_failed() {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    let out = fx.client_with_stdin(&server, &[], Some("get nothing-here\n"));
    assert_fails_with(&out, &server, "not_found");
}

#[test]
fn server_over_max_conns_answers_busy() {
    let fx = Fixture::new();
    let server = fx.server(&["--max-conns", "1"]);
    let _held = raw(&server);
    let out = fx.client(&server, &["ls"]);
    assert!(!out.status.success(), "{}", describe(&out, &server));
    assert!(
        stderr(&out).contains("connection limit"),
        "{}",
        describe(&out, &server)
    );
}

#[test]
fn sigterm_stops_the_server_with_exit_zero() {
    let fx = Fixture::new();
    let mut server = fx.server(&[]);
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("server exits after SIGTERM");
    assert!(status.success(), "{status:?}\n{}", server.stderr());
}

#[test]
fn server_without_users_or_anonymous_refuses_to_start() {
    let fx = Fixture::new();
    let out = std::process::Command::new(socklab_testkit::bin("ftp-server"))
        .args(["--port", "0", "--root", fx.root().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--users"),
        "{out:?}"
    );
}

#[test]
fn binding_beyond_loopback_turns_tls_on_and_no_tls_warns_that_traffic_is_in_clear() {
    let fx = Fixture::new();
    let server = fx.server(&["--host", "0.0.0.0"]);
    assert!(server.fingerprint().starts_with("SHA256:"));
    assert!(!server.stderr().contains("IN CLEAR"), "{}", server.stderr());
    let clear = fx.server(&["--host", "0.0.0.0", "--no-tls"]);
    assert!(
        clear.wait_for_log("IN CLEAR", Duration::from_secs(10)),
        "{}",
        clear.stderr()
    );
    let local = fx.server(&[]);
    assert!(local.addr.starts_with("127.0.0.1:"), "{}", local.addr);
    assert!(!local.stderr().contains("IN CLEAR"), "{}", local.stderr());
    assert!(
        !local.stdout().contains("fingerprint"),
        "{}",
        local.stdout()
    );
}

#[test]
fn idle_session_is_closed_with_a_timeout_reply() {
    use socklab_proto::msg::read_reply;
    use socklab_proto::{Error, ErrorCode};
    let fx = Fixture::new();
    let server = fx.server(&["--idle-timeout", "1"]);
    let mut s = raw(&server);
    match read_reply::<_, socklab_proto::msg::Empty>(&mut s) {
        Err(Error::Remote {
            code: ErrorCode::Timeout,
            message,
        }) => assert!(message.contains("idle"), "{message}"),
        other => panic!(
            "expected an idle timeout, got {other:?}\n{}",
            server.stderr()
        ),
    }
}

#[test]
fn progress_bar_with_rate_and_eta_is_drawn_only_on_a_terminal() {
    // script(1) gives the client a pseudo-terminal, as an interactive user has.
    socklab_testkit::require_tool("script");
    let fx = Fixture::new();
    let server = fx.server(&[]);
    write(&fx.local().join("big.bin"), &random_bytes(24 << 20));
    let cmd = format!(
        "{} --port {} --user {USER} --password-file {} put big.bin",
        env!("CARGO_BIN_EXE_ftp-client"),
        server.port(),
        fx.files.password_file().display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(fx.local())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", server.stderr());
    assert!(
        text.contains("/s") && text.contains("eta"),
        "no progress bar on a terminal: {text:?}"
    );
    assert!(text.contains("put big.bin: 25165824 bytes"), "{text:?}");
}

#[test]
fn refused_anonymous_put_is_answered_then_the_prompt_reconnects() {
    // The server hangs up after refusing a put that waits for `ready` (a body might
    // follow; see smuggling.rs); the prompt connects again for the next command.
    let fx = Fixture::new();
    write(&fx.root().join("a.txt"), b"a");
    write(&fx.local().join("big.bin"), &vec![7u8; 2 << 20]);
    let server = fx.server(&["--anonymous"]);
    let port = server.port().to_string();
    let out = fx.run_client(
        &["--port", &port, "--anonymous", "--keep-going"],
        Some("put big.bin\nls\n"),
    );
    let text = stdout(&out);
    assert!(
        stderr(&out).contains("(forbidden)"),
        "{}",
        describe(&out, &server)
    );
    assert!(text.contains("a.txt"), "{}", describe(&out, &server));
}

#[test]
fn server_with_an_empty_users_file_refuses_to_start_before_listening() {
    let fx = Fixture::new();
    let users = fx.path("no-users");
    std::fs::write(&users, "").unwrap();
    let out = std::process::Command::new(socklab_testkit::bin("ftp-server"))
        .args(["--port", "0", "--root"])
        .arg(fx.root())
        .arg("--users")
        .arg(&users)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "started anyway: {stdout}");
    assert!(
        !stdout.contains("listening on"),
        "said it listens before refusing: {stdout}"
    );
    assert!(
        stderr.contains("error: nobody could log in: give --users FILE"),
        "{stderr}"
    );
}

#[test]
fn anonymous_session_logging_in_later_is_cut_after_the_third_wrong_password() {
    use socklab_proto::msg::{read_reply, write_header, Empty};
    use socklab_proto::{Error, ErrorCode, Request};
    let fx = Fixture::new();
    let server = fx.server(&["--anonymous"]);
    let mut s = raw_anonymous(&server);
    let login = |s: &mut std::net::TcpStream, password: &str| {
        write_header(
            s,
            &Request::Login {
                user: USER.into(),
                password: password.into(),
            },
        )
        .and_then(|()| read_reply::<_, Empty>(s))
    };
    for attempt in 1..=3 {
        match login(&mut s, "wrong") {
            Err(Error::Remote {
                code: ErrorCode::AuthFailed,
                ..
            }) => {}
            other => panic!("attempt {attempt}: {other:?}\n{}", server.stderr()),
        }
    }
    // The third failure closed the session: the right password comes too late.
    let after = login(&mut s, password());
    assert!(
        after.as_ref().is_err_and(|e| e.is_disconnect()),
        "the session went on after three failures: {after:?}"
    );
    // Each failure is logged with the client's address, for whoever watches the log.
    let log = server.stderr();
    assert!(
        log.lines().any(
            |l| l.contains("127.0.0.1:") && l.contains("failed login for user \"alice\" (3/3)")
        ),
        "{log}"
    );
    // A new session may still log in mid-session.
    let mut s = raw_anonymous(&server);
    login(&mut s, password()).expect("the right password is accepted");
}

#[test]
fn prompt_help_names_quit_and_an_unknown_command_fails_the_script() {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    let out = fx.client_with_stdin(&server, &[], Some("help\nls\n"));
    assert_ok(&out, &server);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("quit, exit, bye or Ctrl-D leaves")
            || stderr(&out).contains("quit, exit, bye or Ctrl-D leaves"),
        "{}",
        describe(&out, &server)
    );
    let out = fx.client_with_stdin(&server, &[], Some("lss\n"));
    assert!(
        !out.status.success(),
        "a script with an unknown command exited 0: {}",
        describe(&out, &server)
    );
    // The script stops at the failing command; what follows cannot make it succeed
    // (the scripting rule, tests/prompt.rs).
    let out = fx.client_with_stdin(&server, &["--keep-going"], Some("get nope\nhelp\nquit\n"));
    assert!(
        !out.status.success(),
        "a script with a failing command exited 0: {}",
        describe(&out, &server)
    );
}
