//! The remote shell over TLS, against real peers on loopback: Python's `ssl` module
//! speaking the frames by hand, and shell-client itself.

mod common;

use common::{password, Fixture, USER};
use socklab_testkit::{require_tool, run_with_stdin, wait_until, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use tempfile::TempDir;

const CLIENT: &str = env!("CARGO_BIN_EXE_shell-client");

/// shell-server with `--tls`, its certificate kept in `state`.
fn tls_server(state: &Path, extra: &[&str]) -> Fixture {
    let state = state.to_str().unwrap();
    Fixture::start(&[&["--tls", "--state-dir", state], extra].concat())
}

/// shell-client against `fx` with `args` (the command after them), the known-hosts
/// file `kh`, and `input` on stdin.
fn client(fx: &Fixture, kh: &Path, args: &[&str], input: &[u8]) -> Output {
    let port = fx.server.port().to_string();
    run_with_stdin(
        Command::new(CLIENT)
            .args(["--port", &port, "--user", USER])
            .args(args)
            .env("SOCKLAB_PASSWORD", password())
            .env("SOCKLAB_KNOWN_HOSTS", kh)
            .env_remove("SSLKEYLOGFILE"),
        input,
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Everything a client run and its server said, for assertion messages.
fn show(out: &Output, fx: &Fixture) -> String {
    format!(
        "client exit {:?}\nclient stdout: {}\nclient stderr: {}\nserver log:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr),
        fx.server.stderr()
    )
}

/// Logs in with Python's ssl module (no CA: the printed fingerprint is checked by
/// hashing the certificate), then sends a command, its stdin and its end of input in
/// ONE write, so they arrive in one TLS record: the stdin frames sit decrypted in the
/// server's TLS layer, where a `poll` on the socket cannot see them.
const PYTHON_CLIENT: &str = r#"
import base64, hashlib, json, socket, ssl, struct, sys
host, port, fp, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
raw = socket.create_connection((host, port), timeout=20)
s = ctx.wrap_socket(raw, server_hostname=host)
der = s.getpeercert(binary_form=True)
got = "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
if got != fp:
    sys.exit("fingerprint %s, printed %s" % (got, fp))
def frame(obj, body=b""):
    h = json.dumps(obj).encode()
    return struct.pack(">I", len(h)) + h + body
def read_exact(n):
    buf = b""
    while len(buf) < n:
        part = s.recv(n - len(buf))
        if not part:
            sys.exit("server closed after %r" % buf)
        buf += part
    return buf
def read_header():
    (n,) = struct.unpack(">I", read_exact(4))
    return json.loads(read_exact(n))
s.sendall(frame({"op": "login", "user": user, "password": password}))
reply = read_header()
if not reply.get("ok"):
    sys.exit("login refused: %r" % reply)
data = b"hello over tls\n"
s.sendall(frame({"op": "exec", "cmd": "cat; echo done >&2; exit 7", "stdin": True})
          + frame({"stream": "stdin", "size": len(data)}, data)
          + frame({"stream": "stdin", "size": 0}))
out, err = b"", b""
while True:
    h = read_header()
    if "stream" in h:
        body = read_exact(h["size"])
        if h["stream"] == "stdout":
            out += body
        else:
            err += body
    else:
        break
print(json.dumps({"reply": h, "out": out.decode(), "err": err.decode(), "version": s.version()}))
"#;

#[test]
fn python_ssl_pins_the_printed_fingerprint_and_runs_a_command_whose_stdin_came_in_one_record() {
    require_tool("python3");
    let state = TempDir::new().unwrap();
    let fx = tls_server(state.path(), &["--timeout", "20"]);
    let fp = fx.server.fingerprint();
    let port = fx.server.port().to_string();
    let out = Command::new("python3")
        .args([
            "-c",
            PYTHON_CLIENT,
            "127.0.0.1",
            &port,
            &fp,
            USER,
            password(),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out, &fx));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["version"], "TLSv1.3", "{got}");
    assert_eq!(got["out"], "hello over tls\n", "{}", show(&out, &fx));
    assert_eq!(got["err"], "done\n", "{got}");
    assert_eq!(got["reply"]["ok"], true, "{got}");
    assert_eq!(got["reply"]["exit"], 7, "{got}");
    assert!(
        fx.server
            .wait_for_log("logged in as alice", Duration::from_secs(5)),
        "{}",
        fx.server.stderr()
    );
}

#[test]
fn accept_new_remembers_the_server_and_the_next_connection_trusts_the_known_hosts_line() {
    let (state, home) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let kh = home.path().join("known_hosts");
    let fx = tls_server(state.path(), &[]);
    let fp = fx.server.fingerprint();
    let out = client(&fx, &kh, &["--accept-new", "--", "echo first"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out, &fx));
    assert_eq!(text(&out.stdout), "first\n", "{}", show(&out, &fx));
    let lines = std::fs::read_to_string(&kh).unwrap();
    assert!(lines.contains(&fp), "known_hosts {lines:?} lacks {fp}");

    let out = client(&fx, &kh, &["--tls", "--", "echo second; exit 3"], b"");
    assert_eq!(out.status.code(), Some(3), "{}", show(&out, &fx));
    assert_eq!(text(&out.stdout), "second\n", "{}", show(&out, &fx));
}

#[test]
fn another_certificate_on_the_same_address_exits_255_before_any_login() {
    let (first, second, home) = (
        TempDir::new().unwrap(),
        TempDir::new().unwrap(),
        TempDir::new().unwrap(),
    );
    let kh = home.path().join("known_hosts");
    let fx = tls_server(first.path(), &[]);
    let port = fx.server.port().to_string();
    let out = client(&fx, &kh, &["--accept-new", "--", "true"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out, &fx));
    let Fixture { server, files, .. } = fx;
    drop(server);

    // A server with another certificate where the first one was.
    let server = Server::spawn_with(Command::new(env!("CARGO_BIN_EXE_shell-server")).args([
        "--port",
        &port,
        "--users",
        files.users().to_str().unwrap(),
        "--workdir",
        files.work().to_str().unwrap(),
        "--allow-root",
        "--tls",
        "--state-dir",
        second.path().to_str().unwrap(),
    ]));
    let fx = Fixture {
        server,
        work: files.work(),
        files,
    };
    assert_eq!(fx.server.port().to_string(), port);
    for trust in [&["--tls"][..], &["--accept-new"][..]] {
        let args = [trust, &["--", "touch pwned"]].concat();
        let out = client(&fx, &kh, &args, b"");
        assert_eq!(out.status.code(), Some(255), "{}", show(&out, &fx));
        let err = text(&out.stderr);
        assert!(
            err.to_lowercase().contains("changed"),
            "{}",
            show(&out, &fx)
        );
    }
    // A pinned fingerprint of the first server is refused the same way.
    let out = client(
        &fx,
        &kh,
        &[
            "--fingerprint",
            "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
            "--",
            "true",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(255), "{}", show(&out, &fx));
    std::thread::sleep(Duration::from_millis(200));
    let log = fx.server.stderr();
    assert!(
        !log.contains("logged in"),
        "a login reached the server:\n{log}"
    );
    assert!(!fx.work.join("pwned").exists(), "the command ran");
}

#[test]
fn a_plain_client_is_told_to_add_tls_and_exits_255() {
    let state = TempDir::new().unwrap();
    let home = TempDir::new().unwrap();
    let fx = tls_server(state.path(), &[]);
    let out = client(&fx, &home.path().join("kh"), &["--", "touch pwned"], b"");
    assert_eq!(out.status.code(), Some(255), "{}", show(&out, &fx));
    assert!(
        text(&out.stderr).contains("the server requires TLS: add --tls"),
        "{}",
        show(&out, &fx)
    );
    assert!(!fx.work.join("pwned").exists());
}

#[test]
fn stdin_is_forwarded_over_tls() {
    let state = TempDir::new().unwrap();
    let home = TempDir::new().unwrap();
    let fx = tls_server(state.path(), &["--timeout", "60"]);
    let fp = fx.server.fingerprint();
    // Many frames, several TLS records each way, and output that echoes it all.
    let input: Vec<u8> = (0..300_000u32)
        .map(|i| b"abcdefghij\n"[i as usize % 11])
        .collect();
    let out = client(
        &fx,
        &home.path().join("kh"),
        &["--fingerprint", &fp, "--", "cat | wc -c; echo end >&2"],
        &input,
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out, &fx));
    assert_eq!(text(&out.stdout).trim(), input.len().to_string());
    assert_eq!(text(&out.stderr), "end\n", "{}", show(&out, &fx));
}

#[test]
fn a_command_echoing_megabytes_of_stdin_over_tls_does_not_deadlock() {
    let state = TempDir::new().unwrap();
    let home = TempDir::new().unwrap();
    let fx = tls_server(state.path(), &["--timeout", "60"]);
    let fp = fx.server.fingerprint();
    let input: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let out = client(
        &fx,
        &home.path().join("kh"),
        &["--fingerprint", &fp, "--", "cat"],
        &input,
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out, &fx));
    assert!(
        out.stdout == input,
        "{} bytes back of {}",
        out.stdout.len(),
        input.len()
    );
}

#[test]
fn a_command_that_writes_megabytes_before_it_reads_stdin_does_not_deadlock_over_tls() {
    // Both directions back up at once: the command writes before it reads, so the
    // server stops taking stdin while the client still has stdin to send. A client
    // that waits to send its stdin stops reading the output, the server waits to send
    // the output, and neither moves until the connection is cut.
    const SIZE: usize = 16_000_000;
    let state = TempDir::new().unwrap();
    let home = TempDir::new().unwrap();
    let fx = tls_server(state.path(), &["--timeout", "60"]);
    let fp = fx.server.fingerprint();
    let input = vec![7u8; SIZE];
    let cmd = format!("head -c {SIZE} /dev/zero; wc -c >&2");
    let out = client(
        &fx,
        &home.path().join("kh"),
        &["--fingerprint", &fp, "--", &cmd],
        &input,
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out, &fx));
    assert_eq!(out.stdout.len(), SIZE, "{}", show(&out, &fx));
    assert_eq!(text(&out.stderr).trim(), SIZE.to_string());
}

#[test]
fn loopback_is_plain_unless_asked_and_any_other_address_is_tls_by_default() {
    let fx = Fixture::start(&[]);
    assert!(!fx.server.stdout().contains("fingerprint"));
    // Beyond loopback: TLS, the certificate beside the users file, no clear-text warning.
    let fx = Fixture::start(&["--host", "0.0.0.0"]);
    let fp = fx.server.fingerprint();
    assert!(fp.starts_with("SHA256:"), "{fp}");
    let state = fx.files.dir().join(".socklab/tls/shell-server/cert.pem");
    assert!(state.exists(), "no {}", state.display());
    assert!(
        !fx.server.stderr().contains("IN CLEAR"),
        "{}",
        fx.server.stderr()
    );
}

#[test]
fn sixty_four_stalled_handshakes_do_not_keep_out_a_real_login() {
    let state = TempDir::new().unwrap();
    let home = TempDir::new().unwrap();
    let fx = tls_server(state.path(), &["--max-conns", "70", "--login-timeout", "3"]);
    let fp = fx.server.fingerprint();
    // Each one sends the first byte of a TLS record, then nothing.
    let mut stalled: Vec<TcpStream> = (0..64)
        .map(|_| {
            let mut s = TcpStream::connect(fx.server.connect_addr()).unwrap();
            s.write_all(&[0x16]).unwrap();
            s
        })
        .collect();
    let out = client(
        &fx,
        &home.path().join("kh"),
        &["--fingerprint", &fp, "--", "echo in"],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out, &fx));
    assert_eq!(text(&out.stdout), "in\n");
    // The login deadline covers the handshake: every stalled one is cut.
    for s in &mut stalled {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = [0u8; 64];
        let closed = wait_until(Duration::from_secs(20), || {
            matches!(s.read(&mut buf), Ok(0) | Err(_))
        });
        assert!(closed, "a stalled handshake was never cut");
    }
}

#[test]
fn an_openssl_ca_certificate_via_cert_and_key_is_trusted_with_ca_and_its_fingerprint_printed() {
    require_tool("openssl");
    let (pki, home) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let files = socklab_testkit::tls::openssl_ca(pki.path(), "IP:127.0.0.1");
    let fx = Fixture::start(&[
        "--cert",
        files.cert.to_str().unwrap(),
        "--key",
        files.key.to_str().unwrap(),
    ]);
    assert_eq!(
        fx.server.fingerprint(),
        socklab_testkit::tls::openssl_fingerprint(&files.cert)
    );
    let kh = home.path().join("kh");
    let ca = files.ca.to_str().unwrap();
    let out = client(&fx, &kh, &["--ca", ca, "--", "echo via ca"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out, &fx));
    assert_eq!(text(&out.stdout), "via ca\n");
    // The same CA, but the name asked for is not the certificate's: refused, 255.
    let port = fx.server.port().to_string();
    let out = run_with_stdin(
        Command::new(CLIENT)
            .args(["--host", "localhost", "--port", &port, "--user", USER])
            .args(["--ca", ca, "--", "touch pwned"])
            .env("SOCKLAB_PASSWORD", password())
            .env("SOCKLAB_KNOWN_HOSTS", &kh),
        b"",
    );
    assert_eq!(out.status.code(), Some(255), "{}", show(&out, &fx));
    let err = text(&out.stderr);
    assert!(err.contains("certificate"), "{}", show(&out, &fx));
    assert!(!fx.work.join("pwned").exists());
}

/// Sends a ClientHello in pieces over `spend` seconds, completes the handshake, then
/// sends nothing; prints how long after connecting the server closed.
const PYTHON_SLOW_HANDSHAKE: &str = r#"
import socket, ssl, sys, time
host, port, spend = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
s = socket.create_connection((host, port), timeout=30)
start = time.monotonic()
try:
    obj.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
pieces = 6
step = len(hello) // pieces + 1
for i in range(0, len(hello), step):
    s.sendall(hello[i:i + step])
    time.sleep(spend / pieces)
while True:
    try:
        obj.do_handshake()
        break
    except ssl.SSLWantReadError:
        pending = out.read()
        if pending:
            s.sendall(pending)
        data = s.recv(65536)
        if not data:
            sys.exit("closed in the handshake")
        inc.write(data)
pending = out.read()
if pending:
    s.sendall(pending)
try:
    while s.recv(65536):
        pass
except OSError:
    pass
print(time.monotonic() - start)
"#;

#[test]
fn the_handshake_counts_against_the_login_deadline() {
    require_tool("python3");
    let state = TempDir::new().unwrap();
    let fx = tls_server(state.path(), &["--login-timeout", "4"]);
    let port = fx.server.port().to_string();
    // 3 s of a 4 s deadline in the handshake: the login gets what is left, not 4 s more.
    let out = Command::new("python3")
        .args(["-c", PYTHON_SLOW_HANDSHAKE, "127.0.0.1", &port, "3"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out, &fx));
    let secs: f64 = text(&out.stdout).trim().parse().unwrap();
    assert!(
        (2.5..6.0).contains(&secs),
        "closed {secs} s after connecting (deadline 4 s from accept)\n{}",
        show(&out, &fx)
    );
}

#[test]
fn a_tls_client_reaching_a_plain_server_says_so_and_exits_255() {
    let home = TempDir::new().unwrap();
    let fx = Fixture::start(&[]);
    let out = client(
        &fx,
        &home.path().join("kh"),
        &["--accept-new", "--", "touch pwned"],
        b"",
    );
    assert_eq!(out.status.code(), Some(255), "{}", show(&out, &fx));
    assert!(
        text(&out.stderr).contains("does not speak TLS"),
        "{}",
        show(&out, &fx)
    );
    assert!(!fx.work.join("pwned").exists());
}

/// Over TLS the client's input leaves a frame at a time as the socket takes it, so
/// when a command ends the socket may have taken part of a frame: the rest must
/// follow, or the server, which skips stray input between commands by its sizes,
/// would read the next request as the end of that frame and never answer it.
#[test]
fn the_next_command_on_a_tls_session_runs_after_one_that_left_its_input_unread() {
    use socklab_net::tls::{client, ClientOptions, MaybeTls, Service, Trust};
    use socklab_shell::client::Client;
    let state = TempDir::new().unwrap();
    let fx = tls_server(state.path(), &["--timeout", "20"]);
    let opts = ClientOptions {
        service: Service::Shell,
        trust: Trust::Fingerprint(fx.server.fingerprint()),
        handshake_timeout: Duration::from_secs(10),
    };
    let port = fx.server.port();
    let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let tls = client::connect(sock, "127.0.0.1", port, &opts).unwrap();
    let mut session = Client::login_on(MaybeTls::Tls(tls), USER, password()).unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    // Bounded: a desynchronised session would wait for a reply forever.
    std::thread::spawn(move || {
        let mut results = Vec::new();
        for round in 0..5 {
            // Endless input that the command stops reading after 1 MB.
            let zero = std::fs::File::open("/dev/zero").unwrap();
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let first = session.exec_with_input(
                "head -c 1000000 >/dev/null",
                Some(zero.into()),
                &mut out,
                &mut err,
            );
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let next = session.exec(&format!("echo next {round}"), &mut out, &mut err);
            results.push((first.map(|s| s.exit), next.map(|s| s.exit), text(&out)));
        }
        let _ = done_tx.send(results);
    });
    let results = done_rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("no reply within 60 s\n{}", fx.server.stderr()));
    for (round, (first, next, out)) in results.into_iter().enumerate() {
        assert!(
            matches!(first, Ok(Some(0))) && matches!(next, Ok(Some(0))),
            "round {round}: first {first:?}, next {next:?}\n{}",
            fx.server.stderr()
        );
        assert_eq!(out, format!("next {round}\n"), "round {round}");
    }
}
