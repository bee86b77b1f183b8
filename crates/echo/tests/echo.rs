//! End-to-end tests of echo-server and echo-client: real binaries, real sockets on
//! loopback with port 0, and real peers (nc, socat).

use socklab_testkit::{random_bytes, require_tool, rss_kib, wait_child, wait_until, Server};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const SERVER: &str = env!("CARGO_BIN_EXE_echo-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_echo-client");

/// Which server mode a test runs against: every server-side test runs in both.
type Mode = &'static [&'static str];
const THREADED: Mode = &[];
const EVENT_LOOP: Mode = &["--event-loop"];

fn server(args: &[&str]) -> Server {
    server_in(THREADED, args)
}

fn server_in(mode: Mode, args: &[&str]) -> Server {
    socklab_testkit::start_echo(&[mode, args].concat())
}

/// Runs each named test body once per server mode, as `threaded::NAME` and
/// `event_loop::NAME`.
macro_rules! in_both_modes {
    ($($name:ident),* $(,)?) => {
        mod threaded {
            $(#[test] fn $name() { super::$name(super::THREADED) })*
        }
        mod event_loop {
            $(#[test] fn $name() { super::$name(super::EVENT_LOOP) })*
        }
    };
}

in_both_modes!(
    nc_gets_its_line_back,
    upper_uppercases_ascii_and_keeps_utf8_intact,
    socat_works_as_a_client,
    pipe_mode_is_byte_exact_for_one_gibibyte,
    serves_two_hundred_concurrent_clients,
    dual_stack_server_on_ipv6_any_serves_ipv4_and_ipv6,
    serves_af_unix_and_removes_the_socket_file_on_stop,
    refuses_clients_over_max_conns_at_once_and_keeps_serving_the_others,
    idle_client_is_closed_after_idle_timeout,
    client_that_writes_without_reading_neither_grows_memory_nor_blocks_others,
    vanishing_clients_do_not_hurt_the_server,
    sigterm_stops_the_server_with_exit_zero,
    survives_running_out_of_file_descriptors_without_spinning,
    busy_polling_stops_once_the_connections_go_quiet,
);

/// Sends `data`, half-closes, and returns everything the server sent back.
fn round_trip(addr: &str, data: &[u8]) -> Vec<u8> {
    try_round_trip(addr, data).unwrap_or_else(|e| panic!("round trip with {addr}: {e}"))
}

fn try_round_trip(addr: &str, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(data)?;
    s.shutdown(Shutdown::Write)?;
    let mut got = Vec::new();
    s.read_to_end(&mut got)?;
    Ok(got)
}

/// A port that was free a moment ago, for peers (socat) that cannot report port 0.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn nc_gets_its_line_back(mode: Mode) {
    require_tool("nc");
    let srv = server_in(mode, &[]);
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "printf 'hello\\n' | nc -N 127.0.0.1 {}",
            srv.port()
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello\n",
        "stderr: {}",
        srv.stderr()
    );
}

fn upper_uppercases_ascii_and_keeps_utf8_intact(mode: Mode) {
    require_tool("nc");
    let srv = server_in(mode, &["--upper"]);
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "printf 'hello, wörld ñ 日本\\n' | nc -N 127.0.0.1 {}",
            srv.port()
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "HELLO, WöRLD ñ 日本\n"
    );
    // Every byte value other than a-z comes back unchanged.
    let all: Vec<u8> = (0..=255u8).collect();
    let got = round_trip(&srv.connect_addr(), &all);
    let want: Vec<u8> = all.iter().map(u8::to_ascii_uppercase).collect();
    assert_eq!(got, want);
}

fn socat_works_as_a_client(mode: Mode) {
    require_tool("socat");
    let srv = server_in(mode, &[]);
    let mut child = Command::new("socat")
        .args(["-t", "5", "-", &format!("TCP:127.0.0.1:{}", srv.port())])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"via socat\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "via socat\n",
        "server log: {}",
        srv.stderr()
    );
}

/// How long 3 MiB through socat may take; far more than it needs, so only a stuck
/// run reaches it.
const SOCAT_LIMIT: Duration = Duration::from_secs(60);

#[test]
fn echo_client_works_against_socat_echo_server() {
    require_tool("socat");
    // socat cannot print the port it picked, so try a few recently free ports.
    // `-b 4096`: socat's `PIPE` is a pipe that socat alone writes and drains, with a
    // blocking write once poll says "writable", which promises room for one page.
    // A write of at most one page always fits then; its default 8 KiB write can need
    // two, and then it waits forever for itself (seen as `anon_pipe_write` in its
    // /proc/PID/wchan, here and in the benchmarks).
    let mut socat = None;
    for _ in 0..5 {
        let port = free_port();
        let mut child = Command::new("socat")
            .args([
                "-b",
                "4096",
                &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"),
                "PIPE",
            ])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if wait_until(Duration::from_secs(5), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        }) {
            socat = Some((child, port));
            break;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    let (mut socat, port) = socat.expect("socat started on a free port");
    let data = random_bytes(3 << 20);
    let sent = data.clone();
    let (done_tx, done_rx) = mpsc::channel();
    let client = thread::spawn(move || {
        let result = pipe_through_client(&["--port", &port.to_string()], &sent);
        let _ = done_tx.send(());
        result
    });
    let finished = done_rx.recv_timeout(SOCAT_LIMIT).is_ok();
    // socat forks a child per connection: end those (ours) before the listener, so a
    // stuck one cannot keep echo-client waiting.
    let _ = Command::new("pkill")
        .args(["-KILL", "-P", &socat.id().to_string()])
        .status();
    let _ = socat.kill();
    let _ = socat.wait();
    let (status, out, err) = client.join().unwrap();
    assert!(
        finished,
        "3 MiB through socat did not come back within {SOCAT_LIMIT:?} \
         ({} bytes came; echo-client said: {err})",
        out.len()
    );
    assert!(status.success(), "echo-client failed: {err}");
    assert!(
        out == data,
        "echo through socat differs ({} of {} bytes)",
        out.len(),
        data.len()
    );
}

/// Runs echo-client in pipe mode with `data` on stdin; returns (status, stdout, stderr).
fn pipe_through_client(args: &[&str], data: &[u8]) -> (std::process::ExitStatus, Vec<u8>, String) {
    let mut child = Command::new(CLIENT)
        .args(args)
        .arg("--pipe")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let feeder = thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    (
        out.status,
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn pipe_mode_is_byte_exact_for_one_gibibyte(mode: Mode) {
    // Streams 1 GiB through echo-client and the server and compares every byte as it
    // comes back, without holding the data in memory: a 1 MiB random block, each
    // copy tagged with its index so a dropped or repeated block is caught.
    const BLOCK: usize = 1 << 20;
    const BLOCKS: usize = 1024;
    let srv = server_in(mode, &[]);
    let block = random_bytes(BLOCK);
    let tagged = |i: usize| {
        let mut b = block.clone();
        b[..8].copy_from_slice(&(i as u64).to_be_bytes());
        b
    };
    let mut child = Command::new(CLIENT)
        .args(["--port", &srv.port().to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feed_block = block.clone();
    let feeder = thread::spawn(move || -> std::io::Result<()> {
        let mut b = feed_block;
        for i in 0..BLOCKS {
            b[..8].copy_from_slice(&(i as u64).to_be_bytes());
            stdin.write_all(&b)?;
        }
        Ok(())
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut got = vec![0u8; BLOCK];
    for i in 0..BLOCKS {
        stdout
            .read_exact(&mut got)
            .unwrap_or_else(|e| panic!("block {i}: {e}; server log: {}", srv.stderr()));
        assert!(got == tagged(i), "block {i} of {BLOCKS} differs");
    }
    assert_eq!(
        stdout.read(&mut got).unwrap(),
        0,
        "more bytes than were sent"
    );
    feeder.join().unwrap().unwrap();
    let status = wait_child(&mut child, Duration::from_secs(30)).expect("client exits");
    assert!(status.success());
}

fn serves_two_hundred_concurrent_clients(mode: Mode) {
    let srv = server_in(mode, &[]);
    let addr = srv.connect_addr();
    // Connect them all first, so they really are connected at the same time.
    let mut conns: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        c.write_all(format!("client {i}\n").as_bytes()).unwrap();
    }
    let handles: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            thread::spawn(move || {
                let mut line = String::new();
                BufReader::new(c).read_line(&mut line).unwrap();
                (i, line)
            })
        })
        .collect();
    for h in handles {
        let (i, line) = h.join().unwrap();
        assert_eq!(line, format!("client {i}\n"));
    }
}

fn dual_stack_server_on_ipv6_any_serves_ipv4_and_ipv6(mode: Mode) {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipping: this machine has no IPv6 loopback");
        return;
    }
    let srv = server_in(mode, &["--host", "::"]);
    assert!(srv.addr.starts_with("[::]:"), "bound {}", srv.addr);
    let port = srv.port();
    assert_eq!(round_trip(&format!("127.0.0.1:{port}"), b"v4\n"), b"v4\n");
    assert_eq!(round_trip(&format!("[::1]:{port}"), b"v6\n"), b"v6\n");
    // The log is drained by a thread: wait (bounded) for the line instead of racing it.
    assert!(
        srv.wait_for_log("[::ffff:127.0.0.1]", Duration::from_secs(5)),
        "v4 client not seen as mapped: {}",
        srv.stderr()
    );
}

fn serves_af_unix_and_removes_the_socket_file_on_stop(mode: Mode) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("echo.sock");
    let mut srv = Server::spawn(
        SERVER,
        &[mode, &["--unix", path.to_str().unwrap()]].concat(),
    );
    assert_eq!(srv.addr, path.display().to_string());
    let mut s = UnixStream::connect(&path).unwrap();
    s.write_all(b"over unix\n").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    assert_eq!(got, "over unix\n");
    // The client works over AF_UNIX too.
    let (status, out, err) = pipe_through_client(&["--unix", path.to_str().unwrap()], b"client\n");
    assert!(status.success(), "{err}");
    assert_eq!(out, b"client\n");
    srv.signal("TERM");
    let status = srv
        .wait_exit(Duration::from_secs(10))
        .expect("server stops");
    assert!(status.success(), "exit {status:?}: {}", srv.stderr());
    assert!(!path.exists(), "socket file left behind");
}

fn refuses_clients_over_max_conns_at_once_and_keeps_serving_the_others(mode: Mode) {
    let srv = server_in(mode, &["--max-conns", "2"]);
    let addr = srv.connect_addr();
    let mut a = TcpStream::connect(&addr).unwrap();
    let mut b = TcpStream::connect(&addr).unwrap();
    for s in [&mut a, &mut b] {
        s.write_all(b"x").unwrap();
        let mut one = [0u8; 1];
        s.read_exact(&mut one).unwrap();
    }
    let mut c = TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 1];
    let n = c.read(&mut buf);
    assert!(
        matches!(n, Ok(0)) || n.is_err(),
        "third client was served: {n:?}"
    );
    assert!(
        srv.wait_for_log("refused", Duration::from_secs(5)),
        "no refusal logged: {}",
        srv.stderr()
    );
    // The first two are still served.
    a.write_all(b"still here").unwrap();
    let mut got = [0u8; 10];
    a.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"still here");
    // Once one leaves, a new client is served again.
    drop(b);
    assert!(
        wait_until(Duration::from_secs(5), || {
            try_round_trip(&addr, b"again").is_ok_and(|got| got == b"again")
        }),
        "no new client served after one left: {}",
        srv.stderr()
    );
}

#[test]
fn iterative_mode_makes_the_second_client_wait_in_the_backlog() {
    let srv = server(&["--iterative"]);
    let addr = srv.connect_addr();
    let mut first = TcpStream::connect(&addr).unwrap();
    first.write_all(b"1").unwrap();
    first.read_exact(&mut [0u8; 1]).unwrap();
    // The second connect succeeds (the kernel completes it from the backlog) but no
    // echo comes back while the first client is being served.
    let mut second = TcpStream::connect(&addr).unwrap();
    second.write_all(b"2").unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut one = [0u8; 1];
    assert!(
        second.read_exact(&mut one).is_err(),
        "second client served while the first was connected"
    );
    drop(first);
    second
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    second.read_exact(&mut one).unwrap();
    assert_eq!(&one, b"2");
}

fn idle_client_is_closed_after_idle_timeout(mode: Mode) {
    let srv = server_in(mode, &["--idle-timeout", "1"]);
    let mut s = TcpStream::connect(srv.connect_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let n = s.read(&mut [0u8; 1]).unwrap_or(0);
    assert_eq!(n, 0, "idle connection not closed");
    assert!(
        srv.wait_for_log("dropped after 0 bytes", Duration::from_secs(5)),
        "{}",
        srv.stderr()
    );
}

fn client_that_writes_without_reading_neither_grows_memory_nor_blocks_others(mode: Mode) {
    let srv = server_in(mode, &[]);
    let addr = srv.connect_addr();
    let before = rss_kib(srv.pid());
    // A hostile client tries to push 1 GiB without reading a byte of the echo. Its writes
    // block once the socket buffers are full; the server must not buffer the rest.
    let hog = TcpStream::connect(&addr).unwrap();
    hog.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    let writer = {
        let mut hog = hog.try_clone().unwrap();
        thread::spawn(move || {
            let chunk = vec![b'x'; 1 << 20];
            let mut sent = 0usize;
            while sent < 1 << 30 {
                match hog.write(&chunk) {
                    Ok(n) => sent += n,
                    Err(_) => break,
                }
            }
            sent
        })
    };
    let sent = writer.join().unwrap();
    assert!(
        sent < 1 << 30,
        "all 1 GiB was accepted: something buffers without bound"
    );
    // Meanwhile another client is served normally.
    assert_eq!(round_trip(&addr, b"not starved\n"), b"not starved\n");
    let after = rss_kib(srv.pid());
    assert!(
        after < before + 32 * 1024,
        "server RSS grew from {before} KiB to {after} KiB after {sent} bytes"
    );
    drop(hog);
}

fn vanishing_clients_do_not_hurt_the_server(mode: Mode) {
    let srv = server_in(mode, &[]);
    let addr = srv.connect_addr();
    for _ in 0..20 {
        // Connect, send half a line, and vanish (RST if unread data remains).
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(&random_bytes(100_000)).unwrap();
        drop(s);
    }
    assert_eq!(
        round_trip(&addr, b"alive\n"),
        b"alive\n",
        "{}",
        srv.stderr()
    );
}

fn sigterm_stops_the_server_with_exit_zero(mode: Mode) {
    let mut srv = server_in(mode, &[]);
    assert_eq!(round_trip(&srv.connect_addr(), b"hi"), b"hi");
    srv.signal("TERM");
    let status = srv
        .wait_exit(Duration::from_secs(10))
        .expect("stops within 10 s");
    assert!(status.success(), "exit {status:?}: {}", srv.stderr());
    assert!(
        srv.wait_for_log("stopped", Duration::from_secs(5)),
        "{}",
        srv.stderr()
    );
}

#[test]
fn prompt_mode_prints_each_echo_after_the_prompt() {
    let srv = server(&["--upper"]);
    let mut child = Command::new(CLIENT)
        .args(["--port", &srv.port().to_string(), "--prompt"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let long = "y".repeat(5000); // Longer than the tutorial's recv(1024).
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("hello\n\n{long}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert_eq!(
        text,
        format!(">> HELLO\n>> >> {}\n>> \n", long.to_uppercase())
    );
}

#[test]
fn client_says_clearly_when_nothing_listens() {
    let port = free_port();
    let out = Command::new(CLIENT)
        .args(["--port", &port.to_string(), "--pipe"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(
        err.starts_with("error: cannot connect to 127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains("is the server running?"), "{err}");
}

#[test]
fn no_reuse_addr_flag_is_accepted_and_serves() {
    let srv = server(&["--no-reuse-addr"]);
    assert_eq!(round_trip(&srv.connect_addr(), b"ok"), b"ok");
}

#[test]
fn busy_poll_above_its_limit_is_refused_before_binding() {
    let out = Command::new(SERVER)
        .args(["--port", "0", "--busy-poll-us", "10001"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains("--busy-poll-us"), "stderr: {err}");
    assert!(
        out.stdout.is_empty(),
        "it must not have started: {:?}",
        out.stdout
    );
}

/// The Python client in docs/protocol.md's echo section, as a user would copy it.
fn protocol_doc_echo_snippet() -> String {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/protocol.md"
    ))
    .expect("docs/protocol.md");
    let section = doc.split("<!-- BEGIN echo").nth(1).expect("echo section");
    let code = section
        .split("```python\n")
        .nth(1)
        .expect("python block in the echo section");
    code.split("```").next().unwrap().to_owned()
}

#[test]
fn python_client_from_protocol_doc_talks_to_the_server() {
    require_tool("python3");
    let srv = server(&[]);
    let code = protocol_doc_echo_snippet();
    let out = Command::new("python3")
        .env("SOCKLAB_HOST", "127.0.0.1")
        .env("SOCKLAB_PORT", srv.port().to_string())
        .arg("-c")
        .arg(format!(
            "{code}\nprint(echo(bytes(range(256)) * 100) == bytes(range(256)) * 100)"
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}\nserver: {}",
        String::from_utf8_lossy(&out.stderr),
        srv.stderr()
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "True\n");
}

#[test]
fn event_loop_holds_ten_thousand_connections_in_under_64_mib() {
    const CLIENTS: usize = 10_000;
    // This test process holds the client ends, so it needs the descriptors too.
    let limit = rlimit::increase_nofile_limit(CLIENTS as u64 + 1_000).unwrap_or(0);
    if limit < CLIENTS as u64 + 500 {
        eprintln!("skipping: the open-file hard limit here is {limit}, below {CLIENTS} sockets");
        return;
    }
    let srv = server_in(
        EVENT_LOOP,
        &["--max-conns", &CLIENTS.to_string(), "--backlog", "4096"],
    );
    let addr = srv.connect_addr();
    let mut conns = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let s = TcpStream::connect(&addr)
            .unwrap_or_else(|e| panic!("connect #{i}: {e}; server: {}", tail(&srv.stderr())));
        conns.push(s);
    }
    // Every connection open at once; now each gets a round trip.
    for (i, s) in conns.iter_mut().enumerate() {
        s.write_all(&(i as u32).to_be_bytes()).unwrap();
    }
    for (i, s) in conns.iter_mut().enumerate() {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut got = [0u8; 4];
        s.read_exact(&mut got)
            .unwrap_or_else(|e| panic!("reply #{i}: {e}; server: {}", tail(&srv.stderr())));
        assert_eq!(
            u32::from_be_bytes(got),
            i as u32,
            "client {i} got another's echo"
        );
    }
    let rss = rss_kib(srv.pid());
    assert!(
        rss < 64 * 1024,
        "event-loop server RSS {rss} KiB with {CLIENTS} connections"
    );
    eprintln!("event loop: {CLIENTS} connections, server RSS {rss} KiB");
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// CPU time (user + system) of `pid` so far, in clock ticks (1/100 s on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the ")" that ends the command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(14) + field(15)
}

fn survives_running_out_of_file_descriptors_without_spinning(mode: Mode) {
    require_tool("prlimit");
    // 64 descriptors: about 55 connections, then accept fails with EMFILE.
    let mut cmd = Command::new("prlimit");
    cmd.args([
        "--nofile=64:64",
        SERVER,
        "--port",
        "0",
        "--max-conns",
        "1000",
    ])
    .args(mode);
    let srv = Server::spawn_with(&mut cmd);
    let addr: std::net::SocketAddr = srv.connect_addr().parse().unwrap();
    let mut clients = Vec::new();
    for _ in 0..200 {
        // Past the backlog the kernel drops SYNs, so some connects time out: fine.
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            clients.push(s);
        }
    }
    assert!(
        clients.len() > 60,
        "only {} connects completed",
        clients.len()
    );
    assert!(
        srv.wait_for_log("Too many open files", Duration::from_secs(5)),
        "{}",
        tail(&srv.stderr())
    );
    // Saturated: the server must wait, not spin. 2 s of wall time, < 10% of a core.
    let before = cpu_ticks(srv.pid());
    thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(srv.pid()) - before;
    assert!(
        used < 20,
        "server used {used} ticks (1/100 s) of CPU in 2 s while out of descriptors"
    );
    // Once the clients leave, it accepts and serves again.
    drop(clients);
    assert!(
        wait_until(Duration::from_secs(10), || {
            try_round_trip(&srv.connect_addr(), b"back").is_ok_and(|got| got == b"back")
        }),
        "not serving after clients left: {}",
        tail(&srv.stderr())
    );
}

/// With `--busy-poll-us 100`, a connection spins for at most 100 µs after a reply:
/// connections that have gone quiet must cost no CPU, however many there are.
fn busy_polling_stops_once_the_connections_go_quiet(mode: Mode) {
    let srv = server_in(mode, &["--busy-poll-us", "100"]);
    let addr = srv.connect_addr();
    let mut conns: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    for s in &mut conns {
        for _ in 0..50 {
            s.write_all(b"ping").unwrap();
            let mut b = [0u8; 4];
            s.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"ping");
        }
    }
    let before = cpu_ticks(srv.pid());
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(srv.pid()) - before;
    // 10 ticks = 10% of one core: spinning through the quiet second would be 100.
    assert!(
        used < 10,
        "server used {used} ticks (1/100 s) in a quiet second with 20 idle connections; log: {}",
        tail(&srv.stderr())
    );
}
