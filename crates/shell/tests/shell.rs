//! The remote shell through the real binaries: streams, exit codes, signals, limits,
//! process groups, bad input, cd, the REPL, and the Python client from the docs.

mod common;

use common::{
    exec, group_members, password, read_line_of_output, read_reply, send_frame, Fixture, USER,
};
use socklab_proto::msg::write_header;
use socklab_proto::{Error, ErrorCode, Request};
use socklab_shell::wire::{read_incoming, Incoming, StreamName};
use socklab_testkit::{random_bytes, require_tool, wait_until};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::{Duration, Instant};

const MIB: usize = 1024 * 1024;

#[test]
fn stdout_and_stderr_are_byte_exact_and_separate_for_1mib_of_binary_each() {
    let fx = Fixture::start(&["--timeout", "30"]);
    let (a, b) = (random_bytes(MIB), random_bytes(MIB));
    std::fs::write(fx.work.join("a.bin"), &a).unwrap();
    std::fs::write(fx.work.join("b.bin"), &b).unwrap();
    let out = fx.run_client(&["cat a.bin; cat b.bin >&2"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr head: {:?}",
        String::from_utf8_lossy(&out.stderr[..out.stderr.len().min(200)])
    );
    assert!(
        out.stdout == a,
        "stdout differs: {} bytes, want {}",
        out.stdout.len(),
        a.len()
    );
    assert!(
        out.stderr == b,
        "stderr differs: {} bytes, want {}",
        out.stderr.len(),
        b.len()
    );
}

#[test]
fn exit_codes_and_signals_reach_the_client_as_with_ssh() {
    let fx = Fixture::start(&["--timeout", "30"]);
    for code in [0, 1, 2, 255] {
        let out = fx.run_client(&[&format!("echo on-stdout; echo on-stderr >&2; exit {code}")]);
        assert_eq!(out.status.code(), Some(code), "exit {code}: {out:?}");
        assert_eq!(out.stdout, b"on-stdout\n");
        assert_eq!(out.stderr, b"on-stderr\n");
    }
    // Several words are quoted one by one, as ssh users expect of `-- ls -l 'a b'`.
    std::fs::write(fx.work.join("a b"), b"x").unwrap();
    let out = fx.run_client(&["ls", "a b"]);
    assert_eq!(
        (out.status.code(), out.stdout.as_slice()),
        (Some(0), &b"a b\n"[..]),
        "{out:?}"
    );
    // Death by signal: 128 + N, as ssh reports it.
    let out = fx.run_client(&["kill -TERM $$"]);
    assert_eq!(out.status.code(), Some(128 + 15), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("killed by signal 15"),
        "{out:?}"
    );

    let mut c = fx.client();
    let (st, _, _) = exec(&mut c, "kill -KILL $$");
    assert_eq!((st.exit, st.signal, st.timed_out), (None, Some(9), false));
}

#[test]
fn cat_with_no_input_returns_at_once() {
    // With the client's stdin or the server's, cat would wait for the whole --timeout.
    let fx = Fixture::start(&["--timeout", "25"]);
    let mut c = fx.client();
    let (st, out, err) = exec(&mut c, "cat");
    assert_eq!((st.exit, st.timed_out), (Some(0), false), "{st:?}");
    assert!(out.is_empty() && err.is_empty());
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let fx = Fixture::start(&["--timeout", "1"]);
    let mut s = fx.logged_in();
    write_header(
        &mut s,
        &Request::Exec {
            cmd: "cut -d' ' -f5 /proc/$$/stat; sh -c 'sleep 1000 & sleep 1000'".into(),
        },
    )
    .unwrap();
    let pgid: u32 = read_line_of_output(&mut s).trim().parse().unwrap();
    let status = loop {
        match read_incoming(&mut s).unwrap() {
            Incoming::Done(st) => break st,
            Incoming::Chunk(..) => {}
        }
    };
    assert_eq!(
        (status.exit, status.signal, status.timed_out),
        (None, Some(9), true),
        "{status:?}"
    );
    let gone = wait_until(Duration::from_secs(5), || group_members(pgid).is_empty());
    assert!(gone, "left in group {pgid}: {:?}", group_members(pgid));
    // The session survives its command's timeout.
    let mut c = socklab_shell::Client::login(fx.connect(), USER, password()).unwrap();
    assert_eq!(exec(&mut c, "echo ok").1, b"ok\n");
}

#[test]
fn client_disconnecting_mid_command_kills_its_group_within_a_second() {
    let fx = Fixture::start(&["--timeout", "60"]);
    let mut s = fx.logged_in();
    write_header(
        &mut s,
        &Request::Exec {
            cmd: "cut -d' ' -f5 /proc/$$/stat; sleep 1000 & sleep 1000".into(),
        },
    )
    .unwrap();
    let pgid: u32 = read_line_of_output(&mut s).trim().parse().unwrap();
    assert!(
        !group_members(pgid).is_empty(),
        "the command is not running"
    );
    drop(s);
    let start = Instant::now();
    // One second is the promise; allow more on a loaded CI machine, but say how long.
    let gone = wait_until(Duration::from_secs(3), || group_members(pgid).is_empty());
    assert!(
        gone,
        "group {pgid} still has {:?} after {:?}\n{}",
        group_members(pgid),
        start.elapsed(),
        fx.server.stderr()
    );
    assert!(
        fx.server
            .wait_for_log("client went away", Duration::from_secs(5)),
        "{}",
        fx.server.stderr()
    );
}

#[test]
fn output_streams_live_while_the_command_runs() {
    let fx = Fixture::start(&["--timeout", "30"]);
    let mut s = fx.logged_in();
    // The command waits for a file the test creates only after it has seen "first":
    // if output were sent at the end, the test would never see it (and fail on its
    // read timeout).
    let cmd = "echo first; i=0; while [ ! -e go ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; echo second >&2";
    write_header(&mut s, &Request::Exec { cmd: cmd.into() }).unwrap();
    assert_eq!(read_line_of_output(&mut s), "first\n");
    std::fs::write(fx.work.join("go"), b"").unwrap();
    match read_incoming(&mut s).unwrap() {
        Incoming::Chunk(StreamName::Stderr, data) => assert_eq!(data, b"second\n"),
        other => panic!("{other:?}"),
    }
    match read_incoming(&mut s).unwrap() {
        Incoming::Done(st) => assert_eq!((st.exit, st.timed_out), (Some(0), false)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_or_oversized_headers_get_bad_request_and_the_server_keeps_serving() {
    let fx = Fixture::start(&[]);
    let cases: [(&str, Vec<u8>); 4] = [
        (
            "not json",
            8u32.to_be_bytes()
                .iter()
                .copied()
                .chain(*b"not json")
                .collect(),
        ),
        ("oversized", u32::MAX.to_be_bytes().to_vec()),
        ("missing cmd", {
            let mut v = 13u32.to_be_bytes().to_vec();
            v.extend_from_slice(br#"{"op":"exec"}"#);
            v
        }),
        ("wrong type", {
            let mut v = 22u32.to_be_bytes().to_vec();
            v.extend_from_slice(br#"{"op":"exec","cmd":42}"#);
            v
        }),
    ];
    for (what, bytes) in cases {
        let mut s = fx.logged_in();
        s.write_all(&bytes).unwrap();
        let reply = read_reply(&mut s).unwrap_or_else(|| fx.fail(format!("{what}: no reply")));
        assert_eq!(reply["code"], "bad_request", "{what}: {reply:?}");
        assert_eq!(read_reply(&mut s), None, "{what}: connection left open");
    }
    // A header of exactly the limit's length + 1, before login.
    let mut s = fx.connect();
    s.write_all(&(64 * 1024 + 1u32).to_be_bytes()).unwrap();
    let reply = read_reply(&mut s).unwrap_or_else(|| fx.fail("no reply to oversized header"));
    assert_eq!(reply["code"], "bad_request", "{reply:?}");
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("longer than the limit"),
        "{reply:?}"
    );
    // Ops the shell does not serve, and a second login, are refused but keep the session.
    let mut s = fx.logged_in();
    send_frame(&mut s, br#"{"op":"list"}"#);
    assert_eq!(read_reply(&mut s).unwrap()["code"], "bad_request");
    let err = socklab_shell::Client::login(s, USER, password()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Remote {
                code: ErrorCode::BadRequest,
                ..
            }
        ),
        "{err:?}"
    );
    // And the server still serves.
    let mut c = fx.client();
    assert_eq!(exec(&mut c, "echo alive").1, b"alive\n");
}

#[test]
fn cd_changes_the_session_directory() {
    let fx = Fixture::start(&[]);
    std::fs::create_dir(fx.work.join("sub")).unwrap();
    let mut c = fx.client();
    let (st, _, _) = exec(&mut c, "cd sub");
    assert_eq!(
        st.cwd.as_deref(),
        Some(fx.work.join("sub").to_str().unwrap())
    );
    assert_eq!(
        exec(&mut c, "pwd").1,
        format!("{}\n", fx.work.join("sub").display()).into_bytes()
    );
    let (mut o, mut e) = (Vec::new(), Vec::new());
    match c.exec("cd nowhere", &mut o, &mut e) {
        Err(Error::Remote {
            code: ErrorCode::NotFound,
            message,
        }) => {
            assert_eq!(message, "cd: nowhere: no such file or directory")
        }
        other => panic!("{other:?}"),
    }
    // `cd X && cmd` is the shell's business: it does not move the session.
    assert_eq!(exec(&mut c, "cd / && pwd").1, b"/\n");
    assert_eq!(
        exec(&mut c, "cd ..; pwd").1,
        format!("{}\n", fx.work.display()).into_bytes()
    );
    exec(&mut c, "cd /");
    assert_eq!(exec(&mut c, "pwd").1, b"/\n");
    exec(&mut c, "cd");
    assert_eq!(
        exec(&mut c, "pwd").1,
        format!("{}\n", fx.work.display()).into_bytes()
    );
}

#[test]
fn repl_reads_commands_from_stdin_like_the_tutorial() {
    let fx = Fixture::start(&[]);
    std::fs::create_dir(fx.work.join("sub")).unwrap();
    let port = fx.server.port().to_string();
    let pwfile = fx.files.password_file();
    let out = socklab_testkit::run_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_shell-client"))
            .args([
                "--port",
                &port,
                "--user",
                USER,
                "--password-file",
                pwfile.to_str().unwrap(),
            ])
            .env_remove("SOCKLAB_PASSWORD"),
        b"echo hi\ncd sub\npwd\necho oops >&2\nexit 3\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout,
        format!("hi\n{}\n", fx.work.join("sub").display()),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    // The last command's exit code, as an interactive ssh session ends.
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn client_exits_255_when_it_cannot_connect_or_log_in() {
    let fx = Fixture::start(&[]);
    let port = fx.server.port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_shell-client"))
        .args(["--port", &port, "--user", USER, "--", "true"])
        .env("SOCKLAB_PASSWORD", "not the password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("error: invalid username or password"),
        "{out:?}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(env!("CARGO_BIN_EXE_shell-client"))
        .args(["--port", &closed.to_string(), "--user", USER, "--", "true"])
        .env("SOCKLAB_PASSWORD", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is the server running?"),
        "{out:?}"
    );
}

#[test]
fn connection_over_the_cap_is_told_busy() {
    let fx = Fixture::start(&["--max-conns", "1"]);
    let _first = fx.client();
    let mut second = fx.connect();
    let reply = read_reply(&mut second).unwrap_or_else(|| fx.fail("no busy reply"));
    assert_eq!(reply["code"], "busy", "{reply:?}");
}

#[test]
fn warns_loudly_when_bound_beyond_loopback_and_stops_on_sigterm() {
    let mut fx = Fixture::start(&["--host", "0.0.0.0", "--no-tls"]);
    assert!(
        fx.server.wait_for_log("IN CLEAR", Duration::from_secs(10)),
        "{}",
        fx.server.stderr()
    );
    fx.server.signal("TERM");
    let status = fx
        .server
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| fx.fail("no exit after SIGTERM"));
    assert_eq!(
        status.code(),
        Some(0),
        "{status:?} signal {:?}",
        status.signal()
    );

    let fx = Fixture::start(&[]);
    assert!(
        !fx.server.stderr().contains("IN CLEAR"),
        "warned on loopback: {}",
        fx.server.stderr()
    );
}

#[test]
fn python_client_in_protocol_md_runs_against_the_server() {
    require_tool("python3");
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/protocol.md"
    ))
    .unwrap();
    let start_marker = "```python\n# shell_client.py";
    let start = doc
        .find(start_marker)
        .expect("docs/protocol.md has the shell_client.py block")
        + "```python\n".len();
    let len = doc[start..].find("\n```").expect("the block ends");
    let script = &doc[start..start + len];
    let fx = Fixture::start(&[]);
    let path = fx.files.path("shell_client.py");
    std::fs::write(&path, script).unwrap();
    std::fs::write(fx.work.join("b.bin"), [0u8, 255, 10, 13, 128]).unwrap();
    let run = |cmd: &str, password: &str| {
        Command::new("python3")
            .arg(&path)
            .arg(cmd)
            .env("SOCKLAB_HOST", "127.0.0.1")
            .env("SOCKLAB_PORT", fx.server.port().to_string())
            .env("SOCKLAB_USER", USER)
            .env("SOCKLAB_PASSWORD", password)
            .output()
            .unwrap()
    };
    let out = run("echo out; cat b.bin >&2; exit 3", password());
    assert_eq!(out.stdout, b"out\n", "{out:?}\n{}", fx.server.stderr());
    assert_eq!(out.stderr, [0u8, 255, 10, 13, 128]);
    assert_eq!(out.status.code(), Some(3));
    let out = run("kill -TERM $$", password());
    assert_eq!(out.status.code(), Some(143), "{out:?}");
    let out = run("true", "wrong");
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid username or password"),
        "{out:?}"
    );
    // Over TLS, pinned to the printed fingerprint; a wrong pin sends nothing.
    let state = tempfile::TempDir::new().unwrap();
    let tls = Fixture::start(&["--tls", "--state-dir", state.path().to_str().unwrap()]);
    let over_tls = |pin: &str| {
        Command::new("python3")
            .arg(&path)
            .arg("echo secret-$((6*7))")
            .env("SOCKLAB_HOST", "127.0.0.1")
            .env("SOCKLAB_PORT", tls.server.port().to_string())
            .env("SOCKLAB_USER", USER)
            .env("SOCKLAB_PASSWORD", password())
            .env("SOCKLAB_FINGERPRINT", pin)
            .output()
            .unwrap()
    };
    let out = over_tls(&tls.server.fingerprint());
    assert_eq!(
        (out.status.code(), out.stdout.as_slice()),
        (Some(0), &b"secret-42\n"[..]),
        "{out:?}\n{}",
        tls.server.stderr()
    );
    let out = over_tls("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not the pinned"),
        "{out:?}"
    );
}

#[test]
fn idle_session_is_closed_after_idle_timeout() {
    let fx = Fixture::start(&["--idle-timeout", "1"]);
    let mut s = fx.logged_in();
    let reply = read_reply(&mut s).unwrap_or_else(|| fx.fail("closed without a timeout reply"));
    assert_eq!(reply["code"], "timeout", "{reply:?}");
    assert_eq!(read_reply(&mut s), None, "idle session left open");
}

#[test]
fn sigterm_stops_the_server_and_kills_commands_still_running() {
    let mut fx = Fixture::start(&["--timeout", "120"]);
    let mut s = fx.logged_in();
    write_header(
        &mut s,
        &Request::Exec {
            cmd: "cut -d' ' -f5 /proc/$$/stat; sleep 1000".into(),
        },
    )
    .unwrap();
    let pgid: u32 = read_line_of_output(&mut s).trim().parse().unwrap();
    fx.server.signal("TERM");
    // The grace period is 5 s; then the connection is cut and its command killed.
    let status = fx
        .server
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| fx.fail("no exit after SIGTERM"));
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", fx.server.stderr());
    let gone = wait_until(Duration::from_secs(3), || group_members(pgid).is_empty());
    assert!(
        gone,
        "group {pgid} outlived the server: {:?}",
        group_members(pgid)
    );
}

#[test]
fn a_request_sent_while_a_command_runs_is_answered_after_it() {
    // The disconnect watcher peeks at the socket; it must not swallow the bytes of a
    // request the client pipelined behind the running command.
    let fx = Fixture::start(&["--timeout", "30"]);
    let mut s = fx.logged_in();
    write_header(
        &mut s,
        &Request::Exec {
            cmd: "sleep 0.3; echo one".into(),
        },
    )
    .unwrap();
    write_header(
        &mut s,
        &Request::Exec {
            cmd: "echo two".into(),
        },
    )
    .unwrap();
    let mut seen = Vec::new();
    for _ in 0..10 {
        match read_incoming(&mut s).unwrap() {
            Incoming::Chunk(_, data) => seen.extend_from_slice(&data),
            Incoming::Done(st) => {
                assert_eq!(st.exit, Some(0));
                if seen.ends_with(b"two\n") {
                    break;
                }
            }
        }
    }
    assert_eq!(seen, b"one\ntwo\n", "{}", fx.server.stderr());
}

#[test]
fn server_refuses_to_start_without_users() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("users");
    std::fs::write(&empty, "# nobody yet\n").unwrap();
    for (file, why) in [
        (empty.clone(), "has no users"),
        (dir.path().join("missing"), "create it with: socklab-passwd"),
    ] {
        let out = Command::new(socklab_testkit::bin("shell-server"))
            .args([
                "--allow-root",
                "--port",
                "0",
                "--users",
                file.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(err.contains("error: ") && err.contains(why), "{err}");
        assert!(out.stdout.is_empty(), "listened anyway: {out:?}");
    }
}

#[test]
fn survives_the_hostile_header_battery_before_and_after_login() {
    let fx = Fixture::start(&[]);
    let addr = fx.server.connect_addr();
    let healthy = || -> Result<(), String> {
        let mut c = socklab_shell::Client::login(fx.connect(), USER, password())
            .map_err(|e| e.to_string())?;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let st = c
            .exec("echo ok", &mut out, &mut err)
            .map_err(|e| e.to_string())?;
        if st.exit == Some(0) && out == b"ok\n" {
            Ok(())
        } else {
            Err(format!("echo ok gave {st:?} {out:?}"))
        }
    };
    let log = || fx.server.stderr();
    socklab_testkit::hostile::run_header_battery(&addr, None, healthy, log);
    socklab_testkit::hostile::run_header_battery(&addr, Some((USER, password())), healthy, log);
}
