//! chat-server and chat-client, end to end: the real binaries on loopback, with
//! plain UDP sockets, `nc -u` and a Python stdlib client as the other members.

mod common;

use common::{Client, Member, WAIT};
use socklab_testkit::{random_bytes, require_tool, server_command, start_chat, Server};
use std::io::{BufRead, BufReader, Write};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn three_clients_each_see_the_others_messages_and_not_their_own() {
    let srv = start_chat(&[]);
    let nicks = ["alice", "bob", "carol"];
    let mut clients: Vec<Client> = nicks
        .iter()
        .map(|n| {
            let mut c = Client::spawn(&srv, &["--nick", n]);
            c.expect(&srv, |l| l.starts_with(&format!("*** welcome, {n}")));
            c
        })
        .collect();
    for (c, n) in clients.iter_mut().zip(nicks) {
        c.say(&format!("hello from {n}"));
    }
    for (c, me) in clients.iter_mut().zip(nicks) {
        // Each waits for both others' messages, in whatever order they come.
        let mut wanted: Vec<String> = nicks
            .iter()
            .filter(|o| **o != me)
            .map(|o| format!("<{o}> hello from {o}"))
            .collect();
        while !wanted.is_empty() {
            let got = c.expect(&srv, |l| wanted.iter().any(|w| w == l));
            wanted.retain(|w| *w != got);
        }
    }
    // A /who round trip after the messages: anything of our own would be before it.
    for c in &mut clients {
        c.say("/who");
        c.expect(&srv, |l| l == "*** 3 members: alice, bob, carol");
    }
    for (c, me) in clients.into_iter().zip(nicks) {
        let (ok, lines, stderr) = c.finish();
        assert!(
            ok,
            "{me}: chat-client did not exit 0 on EOF; stderr: {stderr}"
        );
        assert!(
            !lines
                .iter()
                .any(|l| l.contains(&format!("hello from {me}"))),
            "{me} got its own message back: {lines:#?}"
        );
    }
}

#[test]
fn ctrl_d_leaves_and_the_others_see_it() {
    let srv = start_chat(&[]);
    let mut watcher = Member::join(&srv, "watcher");
    let mut c = Client::spawn(&srv, &["--nick", "leaver"]);
    c.expect(&srv, |l| l.starts_with("*** welcome, leaver"));
    watcher.expect(&srv, |l| l == "*** leaver joined");
    let (ok, _, stderr) = c.finish();
    assert!(ok, "chat-client did not exit 0 on EOF: {stderr}");
    watcher.expect(&srv, |l| l == "*** leaver left");
}

#[test]
fn nc_takes_part_in_the_chat() {
    require_tool("nc");
    let srv = start_chat(&[]);
    let mut tester = Member::join(&srv, "tester");
    let mut nc = Command::new("nc")
        .args(["-u", "127.0.0.1", &srv.port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = nc.stdin.take().unwrap();
    // nc sends what each read of its stdin returns: one line, one datagram.
    writeln!(stdin, "/nick ncuser").unwrap();
    tester.expect(&srv, |l| l == "*** ncuser joined");
    writeln!(stdin, "hello from nc").unwrap();
    tester.expect(&srv, |l| l == "<ncuser> hello from nc");
    tester.send("hi nc");
    let stdout = nc.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut got = Vec::new();
    let found = socklab_testkit::wait_until(WAIT, || {
        while let Ok(l) = rx.try_recv() {
            got.push(l);
        }
        got.iter().any(|l| l == "<tester> hi nc")
    });
    let _ = nc.kill();
    let _ = nc.wait();
    assert!(
        found,
        "nc printed {got:#?}; server stderr:\n{}",
        srv.stderr()
    );
}

#[test]
fn python_stdlib_socket_takes_part_in_the_chat() {
    require_tool("python3");
    let srv = start_chat(&[]);
    let mut tester = Member::join(&srv, "tester");
    let script = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
addr = ("127.0.0.1", int(sys.argv[1]))
s.sendto(b"/nick py", addr)
s.sendto("h\u00e9llo from python".encode(), addr)
while True:
    data, _ = s.recvfrom(65536)
    line = data.decode("utf-8", "replace").rstrip("\n")
    print(line, flush=True)
    if line.startswith("<tester>"):
        break
"#;
    let mut py = Command::new("python3")
        .args(["-c", script, &srv.port().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tester.expect(&srv, |l| l == "*** py joined");
    tester.expect(&srv, |l| l == "<py> héllo from python");
    tester.send("hello python");
    let status = socklab_testkit::wait_child(&mut py, WAIT);
    if status.is_none() {
        let _ = py.kill();
    }
    let out = py.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.is_some_and(|s| s.success()) && stdout.contains("<tester> hello python"),
        "python printed {stdout}, stderr {}; server:\n{}",
        String::from_utf8_lossy(&out.stderr),
        srv.stderr()
    );
}

#[test]
fn rename_is_announced_and_who_lists_the_new_nick() {
    let srv = start_chat(&[]);
    let mut alice = Member::join(&srv, "alice");
    let mut anon = Member::new(&srv);
    anon.send("hi");
    let addr = anon.addr();
    alice.expect(&srv, |l| l == format!("*** {addr} joined"));
    alice.expect(&srv, |l| l == format!("<{addr}> hi"));
    anon.send("/nick bob");
    alice.expect(&srv, |l| l == format!("*** {addr} is now known as bob"));
    anon.expect(&srv, |l| l == format!("*** {addr} is now known as bob"));
    alice.send("/who");
    alice.expect(&srv, |l| l == "*** 2 members: alice, bob");

    // A repeated join (a client whose welcome was lost tries again) is answered.
    anon.send("/nick bob");
    anon.expect(&srv, |l| l == "*** you are already bob");
    anon.send("/nick ALICE");
    anon.expect(&srv, |l| l == "error: nick \"ALICE\" is taken");
    anon.send("/nick [server]");
    anon.expect(&srv, |l| l.starts_with("error: a nick is 1 to 32 bytes"));
    anon.send("/me waves");
    alice.expect(&srv, |l| l == "* bob waves");
    anon.send("/dance");
    anon.expect(&srv, |l| l.starts_with("error: unknown command /dance"));
}

#[test]
fn silent_member_expires_but_a_client_sending_heartbeats_stays() {
    let srv = start_chat(&["--expire", "1"]);
    let mut watcher = Member::join(&srv, "watcher");
    let mut silent = Member::join(&srv, "silent");
    let mut client = Client::spawn(&srv, &["--nick", "idle", "--heartbeat", "0.3"]);
    client.expect(&srv, |l| l.starts_with("*** welcome, idle"));
    // The watcher keeps itself alive the same way: a /ping every 300 ms.
    let mut expired = None;
    let start = std::time::Instant::now();
    while expired.is_none() && start.elapsed() < WAIT {
        watcher.send("/ping");
        expired = watcher
            .drain(Duration::from_millis(300))
            .into_iter()
            .find(|l| l.starts_with("*** silent expired"));
    }
    assert_eq!(
        expired.as_deref(),
        Some("*** silent expired (silent for 1 s)"),
        "watcher saw {:#?}\nserver:\n{}",
        watcher.seen,
        srv.stderr()
    );
    silent.expect(&srv, |l| {
        l.starts_with("error: you were silent for more than 1 s")
    });
    // Another second and a half: the idle client, pinging, is still a member.
    for _ in 0..5 {
        watcher.send("/ping");
        std::thread::sleep(Duration::from_millis(300));
    }
    watcher.send("/who");
    let who = watcher.expect(&srv, |l| l.starts_with("*** 2 members"));
    assert_eq!(who, "*** 2 members: watcher, idle");
    // Sending again rejoins.
    silent.send("back");
    watcher.expect(&srv, |l| l.ends_with(" joined") && l.contains("127.0.0.1:"));
    drop(client);
}

#[test]
fn member_over_the_rate_cap_is_dropped_and_told_once() {
    let srv = start_chat(&["--rate", "1", "--burst", "5"]);
    let mut reader = Member::join(&srv, "reader");
    let mut flooder = Member::join(&srv, "flooder");
    reader.expect(&srv, |l| l == "*** flooder joined");
    // Joining took one token of five: four messages pass, perhaps a fifth as the
    // bucket refills at 1/s, and the rest are dropped.
    for i in 0..20 {
        flooder.send(&format!("flood {i}"));
    }
    let relayed: Vec<String> = reader
        .drain(Duration::from_millis(1500))
        .into_iter()
        .filter(|l| l.starts_with("<flooder> flood"))
        .collect();
    assert!(
        (4..=5).contains(&relayed.len()),
        "expected 4 or 5 relayed, got {relayed:#?}\nserver:\n{}",
        srv.stderr()
    );
    let errors: Vec<String> = flooder
        .drain(Duration::from_millis(300))
        .into_iter()
        .filter(|l| l.starts_with("error: slow down"))
        .collect();
    assert_eq!(errors.len(), 1, "flooder got {:#?}", flooder.seen);
}

#[test]
fn words_from_the_filter_file_are_masked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("filter.txt");
    std::fs::write(&path, "# words to mask\ndarn\nheck\n").unwrap();
    let srv = start_chat(&["--filter", path.to_str().unwrap()]);
    let mut reader = Member::join(&srv, "reader");
    let writer = Member::join(&srv, "writer");
    writer.send("Darn it, HECK! darning is fine");
    reader.expect(&srv, |l| l == "<writer> **** it, ****! darning is fine");
    writer.send("/me says darn");
    reader.expect(&srv, |l| l == "* writer says ****");
}

#[test]
fn oversized_datagram_gets_the_error_line_and_the_server_keeps_serving() {
    let srv = start_chat(&[]);
    let mut reader = Member::join(&srv, "reader");
    let mut big = Member::join(&srv, "big");
    reader.expect(&srv, |l| l == "*** big joined");
    for size in [2049, 30_000, 65_000] {
        big.send_bytes(&vec![b'x'; size]);
        big.expect(&srv, |l| l == "error: message too long (max 2048 bytes)");
    }
    // Exactly at the limit passes.
    big.send(&"y".repeat(2048));
    reader.expect(&srv, |l| l == format!("<big> {}", "y".repeat(2048)));
    assert!(
        !reader.seen.iter().any(|l| l.contains("xxx")),
        "an oversized message was relayed: {:?}",
        reader.seen.iter().map(|l| l.len()).collect::<Vec<_>>()
    );

    // A stranger's oversized datagram: no reply, no join.
    let mut stranger = Member::new(&srv);
    stranger.send_bytes(&vec![b'z'; 5000]);
    assert_eq!(
        stranger.drain(Duration::from_millis(500)),
        Vec::<String>::new()
    );
    reader.send("/who");
    reader.expect(&srv, |l| l == "*** 2 members: reader, big");
}

#[test]
fn lower_max_message_flag_is_enforced() {
    let srv = start_chat(&["--max-message", "16"]);
    let mut m = Member::join(&srv, "m");
    m.send("this message is longer than sixteen bytes");
    m.expect(&srv, |l| l == "error: message too long (max 16 bytes)");
}

#[test]
fn random_bytes_and_invalid_utf8_do_not_crash_the_server() {
    // A rate cap high enough that the noise is processed, not dropped unread.
    let srv = start_chat(&["--rate", "100000", "--burst", "1000"]);
    let noisy = Member::join(&srv, "noisy");
    let stranger = Member::new(&srv);
    for i in 0..200 {
        let len = 1 + (i * 37) % 3000;
        noisy.send_bytes(&random_bytes(len));
        stranger.send_bytes(&random_bytes(len));
    }
    // The reader joins after the noise (the server handles datagrams in order), so its
    // receive buffer is not flooded: UDP would drop what does not fit.
    let mut reader = Member::join(&srv, "reader");
    noisy.send_bytes(b"caf\xff \x1b[2J done");
    let line = reader.expect(&srv, |l| l.starts_with("<noisy> caf"));
    assert_eq!(line, "<noisy> caf\u{fffd} \u{fffd}[2J done");
    reader.send("/ping");
    reader.expect(&srv, |l| l == "/pong");
    assert!(
        srv.wait_for_log("joined as reader", Duration::from_secs(5)),
        "{}",
        srv.stderr()
    );
}

#[test]
fn dual_stack_server_relays_between_ipv4_and_ipv6() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipping: no IPv6 loopback on this machine");
        return;
    }
    let srv = start_chat(&["--host", "::"]);
    assert!(srv.addr.starts_with("[::]:"), "{}", srv.addr);
    let mut v6 = Member::new_at("[::1]:0", &format!("[::1]:{}", srv.port()));
    // Bound beyond loopback: the join goes through a cookie.
    v6.send(&format!("{:<128}", "/nick six"));
    let line = v6.expect(&srv, |l| common::cookie_token(l).is_some());
    let token = common::cookie_token(&line).unwrap().to_owned();
    v6.send(&format!("{:<128}", format!("/join {token} six")));
    v6.expect(&srv, |l| l.starts_with("*** welcome, six"));
    let v4 = Member::join(&srv, "four");
    v6.expect(&srv, |l| l == "*** four joined");
    v4.send("over IPv4");
    v6.expect(&srv, |l| l == "<four> over IPv4");

    let mut c = Client::spawn(&srv, &["--host", "::1", "--nick", "client6"]);
    c.expect(&srv, |l| l.starts_with("*** welcome, client6"));
    v4.send("to the client");
    c.expect(&srv, |l| l == "<four> to the client");
}

/// chat-client fed `script`, with `flags`; returns (exit code, stderr) once it left,
/// and what `reader` saw of it up to its leaving.
fn run_script(
    srv: &Server,
    reader: &mut Member,
    flags: &[&str],
    script: &[&str],
) -> (Option<i32>, String) {
    let mut args = vec!["--nick", "talker", "--max-message", "10"];
    args.extend_from_slice(flags);
    let mut c = Client::spawn(srv, &args);
    c.expect(srv, |l| l.starts_with("*** welcome, talker"));
    // One write; the client may stop reading before the end, so a broken pipe is fine.
    let mut stdin = c.stdin.take().unwrap();
    let _ = stdin.write_all(format!("{}\n", script.join("\n")).as_bytes());
    drop(stdin);
    let status = socklab_testkit::wait_child(&mut c.child, WAIT);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut c.child.stderr.take().unwrap(), &mut stderr).unwrap();
    // It leaves with /quit whether it stopped or not; "left" comes after whatever it sent.
    reader.expect(srv, |l| l == "*** talker left");
    (status.and_then(|s| s.code()), stderr)
}

#[test]
fn a_script_stops_at_the_line_the_client_refuses_and_exits_non_zero() {
    let srv = start_chat(&[]);
    let mut reader = Member::join(&srv, "reader");
    let (code, stderr) = run_script(
        &srv,
        &mut reader,
        &[],
        &["first", "this is far too long", "never"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("error: message too long (20 bytes, max 10 bytes); not sent"),
        "{stderr}"
    );
    assert!(stderr.contains("stopped at line 2"), "{stderr}");
    assert!(
        reader.seen.iter().any(|l| l == "<talker> first"),
        "{:#?}",
        reader.seen
    );
    assert!(
        !reader
            .seen
            .iter()
            .any(|l| l.contains("far too long") || l.contains("never")),
        "{:#?}",
        reader.seen
    );
}

#[test]
fn keep_going_sends_the_rest_of_the_script_and_still_exits_non_zero() {
    let srv = start_chat(&[]);
    let mut reader = Member::join(&srv, "reader");
    let (code, stderr) = run_script(
        &srv,
        &mut reader,
        &["--keep-going"],
        &["/nick a!", "this is far too long", "short"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("error: /nick a!: a nick is"), "{stderr}");
    assert!(
        stderr.contains("2 commands of the script failed, the first at line 1"),
        "{stderr}"
    );
    assert!(
        reader.seen.iter().any(|l| l == "<talker> short"),
        "{:#?}",
        reader.seen
    );
    assert!(
        !reader.seen.iter().any(|l| l.contains("far too long")),
        "{:#?}",
        reader.seen
    );
}

#[test]
fn help_is_answered_by_the_server_to_a_plain_udp_socket() {
    // What `nc -u` users type: the server answers, no chat-client needed.
    let srv = start_chat(&[]);
    let mut m = Member::join(&srv, "plain");
    m.send("/help");
    let help = m.expect(&srv, |l| l.starts_with("*** commands: "));
    for command in ["/nick NAME", "/who", "/me ACTION", "/quit", "/help"] {
        assert!(help.contains(command), "{command} missing from {help:?}");
    }
    m.send("/dance");
    let unknown = m.expect(&srv, |l| l.starts_with("error: unknown command /dance"));
    assert!(unknown.contains("/help"), "{unknown:?}");
}

#[test]
fn client_with_an_invalid_nick_exits_non_zero() {
    let srv = start_chat(&[]);
    let out = Command::new(env!("CARGO_BIN_EXE_chat-client"))
        .args(["--port", &srv.port().to_string(), "--nick", "bad nick"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: --nick bad nick: a nick is"),
        "{stderr}"
    );
}

#[test]
fn full_chat_refuses_a_new_member_with_a_padded_join() {
    let srv = start_chat(&["--max-members", "1"]);
    let mut first = Member::join(&srv, "first");
    let mut second = Member::new(&srv);
    second.send(&format!("{:<128}", "/nick second"));
    second.expect(&srv, |l| l == "error: the chat is full (max 1 members)");
    // An unpadded datagram is smaller than the refusal: no answer at all.
    let mut third = Member::new(&srv);
    third.send("hi");
    assert_eq!(
        third.drain(Duration::from_millis(500)),
        Vec::<String>::new()
    );
    first.send("/who");
    first.expect(&srv, |l| l == "*** 1 members: first");
}

#[test]
fn server_stdin_lines_are_broadcast_and_eof_does_not_stop_it() {
    let mut feeder = Command::new("sh")
        .args(["-c", "sleep 1.5; echo 'maintenance at noon'"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let srv = Server::spawn_with(
        server_command("chat-server", &[]).stdin(Stdio::from(feeder.stdout.take().unwrap())),
    );
    let mut m = Member::join(&srv, "listener");
    m.expect(&srv, |l| l == "[server] maintenance at noon");
    let _ = feeder.wait();
    // stdin is at EOF now; the chat goes on.
    m.send("/ping");
    m.expect(&srv, |l| l == "/pong");
}

#[test]
fn sigterm_tells_the_members_and_exits_zero() {
    let mut srv = start_chat(&[]);
    let mut m = Member::join(&srv, "m");
    srv.signal("TERM");
    m.expect(&srv, |l| l == "*** the server is shutting down");
    let status = srv.wait_exit(WAIT);
    assert!(
        status.is_some_and(|s| s.success()),
        "exit {status:?}; stderr:\n{}",
        srv.stderr()
    );
}

#[test]
fn client_exits_with_an_error_when_nothing_listens_at_the_port() {
    // A port that was free a moment ago: the kernel answers the join with ICMP port
    // unreachable, which the connected socket reports as ECONNREFUSED.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(env!("CARGO_BIN_EXE_chat-client"))
        .args(["--port", &port.to_string(), "--nick", "lonely"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exited zero; stderr: {stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: nothing listens at 127.0.0.1:{port} (ICMP port unreachable): is chat-server running?"
        )
    );
}

#[test]
fn client_exits_with_the_servers_reason_when_the_chat_is_full() {
    let srv = start_chat(&["--max-members", "1"]);
    let _first = Member::join(&srv, "first");
    let out = Command::new(env!("CARGO_BIN_EXE_chat-client"))
        .args(["--port", &srv.port().to_string(), "--nick", "second"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exited zero; stderr: {stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: 127.0.0.1:{} refused the join: the chat is full (max 1 members)",
            srv.port()
        )),
        "{stderr}"
    );
}

#[test]
fn client_warns_when_no_welcome_comes_and_still_sends_what_is_typed() {
    // A bound socket that never answers: no ICMP "port unreachable" either, as from a
    // server that is down behind a firewall that drops the datagrams.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    silent
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chat-client"))
        .args(["--port", &port, "--nick", "alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "hello anyway").unwrap();
    let mut buf = [0u8; 2048];
    let mut got = Vec::new();
    let start = std::time::Instant::now();
    while start.elapsed() < WAIT && !got.iter().any(|l: &String| l == "hello anyway") {
        if let Ok(n) = silent.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).trim_end().to_owned());
        }
    }
    drop(stdin);
    let status = socklab_testkit::wait_child(&mut child, WAIT);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.is_some_and(|s| s.success()), "{status:?}: {stderr}");
    let joins = got.iter().filter(|l| *l == "/nick alice").count();
    assert_eq!(joins, 3, "expected 3 joins then the message, got {got:#?}");
    assert!(got.iter().any(|l| l == "hello anyway"), "{got:#?}");
    assert!(
        stderr.starts_with(&format!(
            "warning: no answer from 127.0.0.1:{port} to 3 joins: "
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("joined"), "{stderr}");
}

#[test]
fn ctrl_c_leaves_and_the_others_see_it_at_once() {
    let srv = start_chat(&[]);
    let mut watcher = Member::join(&srv, "watcher");
    let mut c = Client::spawn(&srv, &["--nick", "interrupted"]);
    c.expect(&srv, |l| l.starts_with("*** welcome, interrupted"));
    watcher.expect(&srv, |l| l == "*** interrupted joined");
    socklab_testkit::signal(c.child.id(), "INT");
    // Without the /quit the client sends on its way out, this would only come after the
    // server's expiry, far beyond WAIT.
    watcher.expect(&srv, |l| l == "*** interrupted left");
    let status = socklab_testkit::wait_child(&mut c.child, WAIT);
    // It dies by the signal, as a program without the handler would, so that a shell
    // loop around it stops too.
    assert_eq!(
        status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s)),
        Some(2),
        "chat-client should die by SIGINT after leaving; it ended {status:?}"
    );
}

#[test]
fn client_started_with_sigint_ignored_keeps_ignoring_it() {
    // As `nohup` or a script's background job would start it: SIGINT ignored.
    let srv = start_chat(&[]);
    let mut watcher = Member::join(&srv, "watcher");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' INT; exec '{}' --port {} --nick stubborn --linger 30",
            env!("CARGO_BIN_EXE_chat-client"),
            srv.port()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    watcher.expect(&srv, |l| l == "*** stubborn joined");
    socklab_testkit::signal(child.id(), "INT");
    // stdin is at EOF, so the client has sent its /quit already and lingers: what
    // matters is that SIGINT did not end it.
    let ended = socklab_testkit::wait_child(&mut child, Duration::from_millis(500));
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        ended.is_none(),
        "SIGINT ended a client that had it ignored: {ended:?}"
    );
}
