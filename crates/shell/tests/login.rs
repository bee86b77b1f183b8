//! Login through the real shell-server: refusals, delays, deadlines, and that nothing
//! runs before login.

mod common;

use common::{password, read_reply, send_frame, Fixture, USER};
use socklab_proto::msg::write_header;
use socklab_proto::{Error, ErrorCode, Request};
use std::io::Write;
use std::time::{Duration, Instant};

fn expect_auth_failed(fx: &Fixture, r: socklab_proto::Result<()>) {
    match r {
        Err(Error::Remote {
            code: ErrorCode::AuthFailed,
            message,
        }) => {
            assert_eq!(message, "invalid username or password")
        }
        other => fx.fail(format!("expected auth_failed, got {other:?}")),
    }
}

#[test]
fn wrong_password_and_unknown_user_get_the_same_delayed_reply_and_the_third_failure_closes() {
    // The real 1 s failure delay: this test is about it.
    let fx = Fixture::start_exact(&[]);
    let mut s = fx.connect();

    let t = Instant::now();
    expect_auth_failed(&fx, socklab_testkit::login(&mut s, USER, "wrong password"));
    let first = t.elapsed();
    let t = Instant::now();
    expect_auth_failed(
        &fx,
        socklab_testkit::login(&mut s, "nobody", "wrong password"),
    );
    let second = t.elapsed();
    // Each failure is answered after the delay, known user or not.
    assert!(
        first >= Duration::from_millis(950),
        "wrong password answered after {first:?}"
    );
    assert!(
        second >= Duration::from_millis(950),
        "unknown user answered after {second:?}"
    );

    expect_auth_failed(&fx, socklab_testkit::login(&mut s, USER, "still wrong"));
    // The third failure closed the connection: a fourth try, even with the right
    // password, gets no reply.
    let _ = write_header(
        &mut s,
        &Request::Login {
            user: USER.into(),
            password: password().into(),
        },
    );
    assert_eq!(
        read_reply(&mut s),
        None,
        "connection still open after 3 failures"
    );
    assert!(
        fx.server.wait_for_log(
            "failed login for user \"alice\" (3/3)",
            Duration::from_secs(5)
        ),
        "{}",
        fx.server.stderr()
    );

    // The server goes on serving others.
    let mut c = fx.client();
    let (st, out, _) = common::exec(&mut c, "echo still here");
    assert_eq!((st.exit, out.as_slice()), (Some(0), &b"still here\n"[..]));
}

#[test]
fn no_password_reaches_the_log() {
    let fx = Fixture::start(&["--timeout", "20"]);
    let mut s = fx.connect();
    expect_auth_failed(
        &fx,
        socklab_testkit::login(&mut s, USER, "Wr0ng-Secret-Guess"),
    );
    socklab_testkit::login(&mut s, USER, password()).unwrap();
    drop(s);
    assert!(
        fx.server
            .wait_for_log("logged in as alice", Duration::from_secs(10)),
        "{}",
        fx.server.stderr()
    );
    let log = fx.server.stderr();
    assert!(
        !log.contains(password()) && !log.contains("Wr0ng-Secret-Guess"),
        "password in log:\n{log}"
    );
    // And the users file holds only the hash.
    let users = std::fs::read_to_string(fx.files.users()).unwrap();
    assert!(
        !users.contains(password()) && users.starts_with("alice:$argon2id$"),
        "{users}"
    );
}

#[test]
fn password_over_1024_bytes_is_refused_and_the_connection_may_retry() {
    let fx = Fixture::start(&[]);
    let mut s = fx.connect();
    expect_auth_failed(&fx, socklab_testkit::login(&mut s, USER, &"x".repeat(1025)));
    // Even the right password with 1 KiB of junk after it.
    let long = format!("{}{}", password(), "y".repeat(1024));
    expect_auth_failed(&fx, socklab_testkit::login(&mut s, USER, &long));
    socklab_testkit::login(&mut s, USER, password()).unwrap();
}

#[test]
fn exec_before_login_gets_auth_required_and_spawns_nothing() {
    let fx = Fixture::start(&[]);
    let mut s = fx.connect();
    write_header(
        &mut s,
        &Request::Exec {
            cmd: "touch spawned".into(),
        },
    )
    .unwrap();
    let reply = read_reply(&mut s).unwrap_or_else(|| fx.fail("no reply to exec before login"));
    assert_eq!(reply["code"], "auth_required", "{reply:?}");
    write_header(&mut s, &Request::List).unwrap();
    let reply = read_reply(&mut s).unwrap_or_else(|| fx.fail("no reply to list before login"));
    assert_eq!(reply["code"], "auth_required", "{reply:?}");
    // The connection is still usable: log in, and the earlier exec never ran.
    socklab_testkit::login(&mut s, USER, password()).unwrap();
    let mut c = socklab_shell::Client::login(fx.connect(), USER, password()).unwrap();
    let (st, out, _) = common::exec(&mut c, "ls -A");
    assert_eq!(st.exit, Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out),
        "",
        "something ran before login"
    );
    assert!(!fx.work.join("spawned").exists());
}

#[test]
fn login_deadline_is_total_not_an_idle_timer() {
    let fx = Fixture::start(&["--login-timeout", "1"]);
    let mut s = fx.connect();
    let mut reader = s.try_clone().unwrap();
    let start = Instant::now();
    let waiter = std::thread::spawn(move || {
        let reply = read_reply(&mut reader);
        let closed = read_reply(&mut reader).is_none();
        (reply, closed, start.elapsed())
    });
    // A header announced as 100 bytes, sent one byte every 100 ms: each read makes
    // progress, so only a total deadline can end it.
    let _ = s.write_all(&100u32.to_be_bytes());
    for _ in 0..80 {
        if waiter.is_finished() || s.write_all(b" ").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (reply, closed, took) = waiter.join().unwrap();
    let reply = reply.unwrap_or_else(|| fx.fail("closed without a timeout reply"));
    assert_eq!(reply["code"], "timeout", "{reply:?}");
    assert!(closed, "connection left open after the login deadline");
    assert!(
        took < Duration::from_secs(6),
        "closed after {took:?}, deadline was 1 s"
    );
}

#[test]
fn malformed_header_before_login_gets_bad_request() {
    let fx = Fixture::start(&[]);
    let mut s = fx.connect();
    send_frame(&mut s, br#"{"op":"login","user":"alice"}"#);
    let reply = read_reply(&mut s).unwrap_or_else(|| fx.fail("no reply"));
    assert_eq!(reply["code"], "bad_request", "{reply:?}");
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("missing field `password`"),
        "{reply:?}"
    );
    assert_eq!(read_reply(&mut s), None);
}
