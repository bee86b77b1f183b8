//! Lesson 5: echo-server and echo-client over TLS, against real peers (openssl
//! s_client, socat OPENSSL:, Python's ssl module) and each other, on loopback.

use socklab_testkit::tls::{openssl_ca, openssl_fingerprint};
use socklab_testkit::{require_tool, run_with_stdin, wait_child, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const SERVER: &str = env!("CARGO_BIN_EXE_echo-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_echo-client");

/// `echo-server --port 0 --tls` keeping its certificate in `state`.
fn tls_server(state: &Path, args: &[&str]) -> Server {
    let state = state.to_str().unwrap();
    socklab_testkit::start_echo(&[&["--tls", "--state-dir", state], args].concat())
}

/// echo-client with `args`, `input` on stdin, the known-hosts file `kh`. A client
/// that refuses the server exits without reading its stdin: that is not an error.
fn client(kh: &Path, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(CLIENT)
        .args(args)
        .env("SOCKLAB_KNOWN_HOSTS", kh)
        .env_remove("SSLKEYLOGFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Everything a failed client run says, for assertion messages.
fn show(out: &Output, srv: &Server) -> String {
    format!(
        "client exit {:?}\nclient stdout: {}\nclient stderr: {}\nserver log:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr),
        srv.stderr()
    )
}

#[test]
fn openssl_s_client_completes_tls13_and_gets_its_line_back_from_the_printed_fingerprint() {
    require_tool("openssl");
    let dir = TempDir::new().unwrap();
    let srv = tls_server(dir.path(), &[]);
    let printed = srv.fingerprint();
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &srv.connect_addr(), "-tls1_3"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let screen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().unwrap();
    let into = std::sync::Arc::clone(&screen);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hello over tls\n").unwrap();
    // End of input makes s_client close, so wait for the echo first.
    socklab_testkit::wait_until(Duration::from_secs(15), || {
        text(&screen.lock().unwrap()).contains("\nhello over tls\n")
    });
    drop(stdin);
    if wait_child(&mut child, Duration::from_secs(15)).is_none() {
        let _ = child.kill();
    }
    let _ = child.wait();
    reader.join().unwrap();
    let out = screen.lock().unwrap().clone();
    let stdout = text(&out);
    assert!(stdout.contains("TLSv1.3"), "no TLS 1.3 in:\n{stdout}");
    assert!(
        stdout.contains("\nhello over tls\n"),
        "no echo in:\n{stdout}\nlog:\n{}",
        srv.stderr()
    );
    // The certificate openssl got, hashed by openssl, matches the printed line.
    let pem_start = stdout
        .find("-----BEGIN CERTIFICATE-----")
        .expect("s_client shows the certificate");
    let pem_end =
        stdout.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----".len();
    let cert = dir.path().join("seen.pem");
    std::fs::write(&cert, format!("{}\n", &stdout[pem_start..pem_end])).unwrap();
    assert_eq!(openssl_fingerprint(&cert), printed);
    assert!(
        srv.wait_for_log(&printed, Duration::from_secs(5)),
        "the fingerprint is logged too"
    );
}

#[test]
fn socat_openssl_works_as_an_echo_client() {
    require_tool("socat");
    let dir = TempDir::new().unwrap();
    let srv = tls_server(dir.path(), &[]);
    let out = run_with_stdin(
        Command::new("socat").args([
            "-t",
            "5",
            "-",
            &format!("OPENSSL:{},verify=0", srv.connect_addr()),
        ]),
        b"via socat and tls\n",
    );
    assert_eq!(
        text(&out.stdout),
        "via socat and tls\n",
        "{}\nlog: {}",
        text(&out.stderr),
        srv.stderr()
    );
}

#[test]
fn python_ssl_pins_the_printed_fingerprint_and_gets_its_bytes_back() {
    require_tool("python3");
    let dir = TempDir::new().unwrap();
    let srv = tls_server(dir.path(), &[]);
    let script = r#"
import base64, hashlib, socket, ssl, sys
port, expected = int(sys.argv[1]), sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE  # trust by fingerprint, checked below
with socket.create_connection(("127.0.0.1", port)) as raw:
    with ctx.wrap_socket(raw) as s:
        der = s.getpeercert(binary_form=True)
        got = "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
        if got != expected:
            sys.exit("fingerprint " + got + " is not " + expected)
        data = bytes(range(256)) * 64
        s.sendall(data)
        back = b""
        while len(back) < len(data):
            back += s.recv(65536)
        assert back == data, "echo differs"
        print(s.version(), len(back))
"#;
    let out = Command::new("python3")
        .args(["-c", script, &srv.port().to_string(), &srv.fingerprint()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}\nlog: {}",
        text(&out.stdout),
        text(&out.stderr),
        srv.stderr()
    );
    assert_eq!(text(&out.stdout), "TLSv1.3 16384\n");
}

#[test]
fn a_second_server_with_another_certificate_on_the_same_address_is_refused_and_gets_nothing() {
    let dir = TempDir::new().unwrap();
    let kh = dir.path().join("known_hosts");
    let first = tls_server(&dir.path().join("a"), &[]);
    let port = first.port().to_string();
    let out = client(&kh, &["--port", &port, "--accept-new"], b"first\n");
    assert_eq!(text(&out.stdout), "first\n", "{}", show(&out, &first));
    drop(first);
    // Another server, another certificate, the same host:port.
    let state = dir.path().join("b");
    let second = Server::spawn(
        SERVER,
        &[
            "--port",
            &port,
            "--tls",
            "--state-dir",
            state.to_str().unwrap(),
        ],
    );
    let out = client(&kh, &["--port", &port, "--tls"], b"secret\n");
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{}", show(&out, &second));
    assert!(out.stdout.is_empty(), "{}", show(&out, &second));
    assert!(stderr.contains("HAS CHANGED"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:1", kh.display())),
        "names the line: {stderr}"
    );
    assert!(stderr.contains(&second.fingerprint()), "{stderr}");
    // The server saw a handshake and a close: no byte of the session.
    assert!(
        socklab_testkit::wait_until(Duration::from_secs(5), || second
            .stderr()
            .contains("dropped")
            || second.stderr().contains("closed")),
        "{}",
        second.stderr()
    );
    assert!(
        !second.stderr().contains("closed after"),
        "{}",
        second.stderr()
    );
    // Pinning the old fingerprint is refused the same way.
    let pinned = client(
        &kh,
        &[
            "--port",
            &port,
            "--fingerprint",
            &openssl_fingerprint(&dir.path().join("a/cert.pem")),
        ],
        b"x\n",
    );
    assert!(
        !pinned.status.success() && pinned.stdout.is_empty(),
        "{}",
        show(&pinned, &second)
    );
    assert!(
        text(&pinned.stderr).contains("not the pinned"),
        "{}",
        text(&pinned.stderr)
    );
}

#[test]
fn a_tls_client_reaching_a_plain_server_is_told_to_try_without_tls() {
    let srv = socklab_testkit::start_echo(&[]);
    let dir = TempDir::new().unwrap();
    let out = client(
        &dir.path().join("kh"),
        &["--port", &srv.port().to_string(), "--accept-new"],
        b"x\n",
    );
    assert!(!out.status.success(), "{}", show(&out, &srv));
    assert!(
        text(&out.stderr).contains("the server does not speak TLS: try without --tls"),
        "{}",
        show(&out, &srv)
    );
}

#[test]
fn a_plain_client_reaching_a_tls_server_is_told_tls_required() {
    let dir = TempDir::new().unwrap();
    let srv = tls_server(dir.path(), &[]);
    let mut s = TcpStream::connect(srv.connect_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"hello\n").unwrap();
    let mut got = String::new();
    let _ = s.read_to_string(&mut got);
    assert!(
        got.contains("tls_required"),
        "got {got:?}; log: {}",
        srv.stderr()
    );
}

#[test]
fn a_client_offering_another_services_alpn_name_is_refused_in_the_handshake() {
    use socklab_net::tls::{client, ClientOptions, Service, Trust};
    let dir = TempDir::new().unwrap();
    let srv = tls_server(dir.path(), &[]);
    let opts = |service| ClientOptions {
        service,
        trust: Trust::Fingerprint(srv.fingerprint()),
        handshake_timeout: Duration::from_secs(10),
    };
    let stream = TcpStream::connect(srv.connect_addr()).unwrap();
    let err = client::connect(stream, "127.0.0.1", srv.port(), &opts(Service::Shell)).unwrap_err();
    assert!(
        err.to_string().contains("does not serve socklab-shell/1"),
        "{err}"
    );
    // The echo service's own name is accepted.
    let stream = TcpStream::connect(srv.connect_addr()).unwrap();
    let mut ok = client::connect(stream, "127.0.0.1", srv.port(), &opts(Service::Echo)).unwrap();
    assert_eq!(ok.alpn(), Some(&b"socklab-echo/1"[..]));
    ok.write_all(b"ok\n").unwrap();
    let mut back = [0u8; 3];
    ok.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ok\n");
}

/// The first bytes of a real TLS ClientHello, made by Python's ssl module.
fn client_hello() -> Vec<u8> {
    require_tool("python3");
    let script = "import ssl,sys\n\
        c=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT);c.check_hostname=False;c.verify_mode=ssl.CERT_NONE\n\
        i,o=ssl.MemoryBIO(),ssl.MemoryBIO();s=c.wrap_bio(i,o)\n\
        try: s.do_handshake()\n\
        except ssl.SSLWantReadError: pass\n\
        sys.stdout.buffer.write(o.read())\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout.len() > 100,
        "{}",
        text(&out.stderr)
    );
    assert_eq!(out.stdout[0], 0x16);
    out.stdout
}

#[test]
fn a_client_hello_sent_a_byte_at_a_time_is_cut_at_the_handshake_deadline() {
    let dir = TempDir::new().unwrap();
    let srv = tls_server(dir.path(), &["--handshake-timeout", "2"]);
    let hello = client_hello();
    let mut s = TcpStream::connect(srv.connect_addr()).unwrap();
    let start = Instant::now();
    let mut cut_after = None;
    // A byte every 300 ms: each read is quick, only the total deadline can cut it.
    for (i, b) in hello.iter().enumerate().take(40) {
        if s.write_all(&[*b]).is_err() {
            cut_after = Some(i);
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
        let mut probe = [0u8; 1];
        s.set_nonblocking(true).unwrap();
        let closed = matches!(s.read(&mut probe), Ok(0));
        s.set_nonblocking(false).unwrap();
        if closed {
            cut_after = Some(i);
            break;
        }
    }
    let took = start.elapsed();
    assert!(
        cut_after.is_some(),
        "still open after 40 bytes and {took:?}; log: {}",
        srv.stderr()
    );
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(6),
        "cut after {took:?}"
    );
    assert!(
        srv.wait_for_log("timed out", Duration::from_secs(5)),
        "{}",
        srv.stderr()
    );
}

#[test]
fn sixty_four_half_done_handshakes_do_not_stop_a_real_client() {
    let dir = TempDir::new().unwrap();
    let srv = tls_server(dir.path(), &[]);
    let hello = client_hello();
    let stalled: Vec<TcpStream> = (0..64)
        .map(|_| {
            let mut s = TcpStream::connect(srv.connect_addr()).unwrap();
            s.write_all(&hello[..10]).unwrap();
            s
        })
        .collect();
    let start = Instant::now();
    let out = client(
        &dir.path().join("kh"),
        &[
            "--port",
            &srv.port().to_string(),
            "--fingerprint",
            &srv.fingerprint(),
        ],
        b"still served\n",
    );
    assert_eq!(text(&out.stdout), "still served\n", "{}", show(&out, &srv));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    drop(stalled);
}

#[test]
fn a_certificate_from_openssl_is_accepted_with_ca_and_refused_for_another_host_name() {
    let dir = TempDir::new().unwrap();
    let files = openssl_ca(dir.path(), "DNS:localhost");
    let srv = socklab_testkit::start_echo(&[
        "--cert",
        files.cert.to_str().unwrap(),
        "--key",
        files.key.to_str().unwrap(),
    ]);
    assert_eq!(srv.fingerprint(), openssl_fingerprint(&files.cert));
    let kh = dir.path().join("kh");
    let port = srv.port().to_string();
    let ca = files.ca.to_str().unwrap();
    let ok = client(
        &kh,
        &["--host", "localhost", "--port", &port, "--ca", ca],
        b"named\n",
    );
    assert_eq!(text(&ok.stdout), "named\n", "{}", show(&ok, &srv));
    // 127.0.0.1 is the same server, but not a name the certificate was issued for.
    let wrong = client(
        &kh,
        &["--host", "127.0.0.1", "--port", &port, "--ca", ca],
        b"x\n",
    );
    assert!(
        !wrong.status.success() && wrong.stdout.is_empty(),
        "{}",
        show(&wrong, &srv)
    );
    assert!(
        text(&wrong.stderr).contains("not trusted by --ca"),
        "{}",
        text(&wrong.stderr)
    );
    assert!(!kh.exists(), "--ca never writes the known-hosts file");
}

#[test]
fn accept_new_adds_exactly_one_line_that_the_next_connection_uses() {
    let dir = TempDir::new().unwrap();
    let srv = tls_server(&dir.path().join("state"), &[]);
    let kh = dir.path().join("config/socklab/known_hosts");
    let port = srv.port().to_string();
    let out = client(&kh, &["--port", &port, "--accept-new"], b"one\n");
    assert_eq!(text(&out.stdout), "one\n", "{}", show(&out, &srv));
    let written = std::fs::read_to_string(&kh).unwrap();
    assert_eq!(written, format!("127.0.0.1:{port} {}\n", srv.fingerprint()));
    let out = client(&kh, &["--port", &port, "--tls"], b"two\n");
    assert_eq!(text(&out.stdout), "two\n", "{}", show(&out, &srv));
    assert_eq!(
        std::fs::read_to_string(&kh).unwrap(),
        written,
        "nothing more added"
    );
    // Without the line, and without a terminal, it is refused with the fix spelled out.
    std::fs::write(&kh, "").unwrap();
    let out = client(&kh, &["--port", &port, "--tls"], b"three\n");
    assert!(
        !out.status.success() && out.stdout.is_empty(),
        "{}",
        show(&out, &srv)
    );
    assert!(
        text(&out.stderr).contains("--accept-new"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_corrupt_known_hosts_line_is_a_clear_error_naming_the_file_and_line() {
    let dir = TempDir::new().unwrap();
    let srv = tls_server(&dir.path().join("state"), &[]);
    let kh = dir.path().join("known_hosts");
    std::fs::write(
        &kh,
        format!(
            "# mine\n127.0.0.1:1 {}\nnot a line at all\n",
            srv.fingerprint()
        ),
    )
    .unwrap();
    let out = client(
        &kh,
        &["--port", &srv.port().to_string(), "--accept-new"],
        b"x\n",
    );
    assert!(
        !out.status.success() && out.stdout.is_empty(),
        "{}",
        show(&out, &srv)
    );
    assert!(
        text(&out.stderr).contains(&format!("{}:3:", kh.display())),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_certificate_is_kept_so_a_restarted_server_has_the_same_fingerprint() {
    let dir = TempDir::new().unwrap();
    let first = tls_server(dir.path(), &[]).fingerprint();
    let again = tls_server(dir.path(), &[]).fingerprint();
    assert_eq!(first, again);
    let other = TempDir::new().unwrap();
    assert_ne!(tls_server(other.path(), &[]).fingerprint(), first);
}

#[test]
fn pipe_mode_over_tls_is_byte_exact_and_sslkeylogfile_gets_the_secrets() {
    let dir = TempDir::new().unwrap();
    let srv = tls_server(&dir.path().join("state"), &[]);
    let data = socklab_testkit::random_bytes(8 * 1024 * 1024 + 17);
    let keylog = dir.path().join("keys.log");
    let out = run_with_stdin(
        Command::new(CLIENT)
            .args([
                "--port",
                &srv.port().to_string(),
                "--fingerprint",
                &srv.fingerprint(),
            ])
            .env("SSLKEYLOGFILE", &keylog),
        &data,
    );
    assert!(out.status.success(), "{}", show(&out, &srv));
    assert!(
        out.stdout == data,
        "{} bytes back for {}",
        out.stdout.len(),
        data.len()
    );
    let keys = std::fs::read_to_string(&keylog).unwrap_or_default();
    assert!(
        keys.contains("CLIENT_TRAFFIC_SECRET_0"),
        "key log: {keys:?}"
    );
}

/// echo-client on a real terminal (a PTY made by script(1)), answering the trust
/// question with `answer`; returns the terminal's text and the client's exit status.
fn on_a_terminal(kh: &Path, port: u16, answer: &str) -> (String, std::process::ExitStatus) {
    use std::sync::{Arc, Mutex};
    require_tool("script");
    let cmd = format!("{CLIENT} --port {port} --tls");
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("SOCKLAB_KNOWN_HOSTS", kh)
        // The prompt's history goes to the test's directory, not the user's.
        .env("XDG_STATE_HOME", kh.parent().unwrap())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let screen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let into = Arc::clone(&screen);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let shown = |needle: &str| {
        socklab_testkit::wait_until(Duration::from_secs(15), || {
            screen.lock().unwrap().contains(needle)
        })
    };
    let mut stdin = child.stdin.take().unwrap();
    assert!(
        shown("(yes/no)? "),
        "no question: {:?}",
        screen.lock().unwrap()
    );
    stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
    if answer == "yes" {
        assert!(shown(">> "), "no prompt: {:?}", screen.lock().unwrap());
        stdin.write_all(b"hello\n").unwrap();
        assert!(shown("\nhello"), "no echo: {:?}", screen.lock().unwrap());
        // Ctrl-D ends the prompt on a terminal.
        stdin.write_all(&[4]).unwrap();
    }
    let status = wait_child(&mut child, Duration::from_secs(15));
    if status.is_none() {
        let _ = child.kill();
    }
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let text = screen.lock().unwrap().clone();
    (text, status)
}

#[test]
fn on_a_terminal_an_unknown_server_is_asked_about_and_yes_remembers_it() {
    let dir = TempDir::new().unwrap();
    let srv = tls_server(&dir.path().join("state"), &[]);
    let kh = dir.path().join("known_hosts");
    let (screen, status) = on_a_terminal(&kh, srv.port(), "yes");
    assert!(status.success(), "{screen}\nlog: {}", srv.stderr());
    assert!(
        screen.contains(&srv.fingerprint()),
        "the question shows the fingerprint: {screen}"
    );
    assert_eq!(
        std::fs::read_to_string(&kh).unwrap(),
        format!("127.0.0.1:{} {}\n", srv.port(), srv.fingerprint())
    );
}

#[test]
fn on_a_terminal_answering_no_sends_nothing_and_remembers_nothing() {
    let dir = TempDir::new().unwrap();
    let srv = tls_server(&dir.path().join("state"), &[]);
    let kh = dir.path().join("known_hosts");
    let (screen, status) = on_a_terminal(&kh, srv.port(), "no");
    assert!(!status.success(), "{screen}");
    assert!(screen.contains("not trusted"), "{screen}");
    assert!(!kh.exists(), "nothing written");
    assert!(
        srv.wait_for_log("after 0 bytes in", Duration::from_secs(5)),
        "{}",
        srv.stderr()
    );
}

#[test]
fn the_python_ssl_snippet_in_protocol_md_runs_as_printed() {
    require_tool("python3");
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/protocol.md");
    let markdown = std::fs::read_to_string(&doc).unwrap();
    let section = &markdown[markdown
        .find("### Echo over TLS")
        .expect("the TLS echo section")..];
    let start = section.find("```python\n").expect("a python block") + "```python\n".len();
    let code = &section[start..start + section[start..].find("\n```").unwrap()];
    let dir = TempDir::new().unwrap();
    let srv = tls_server(&dir.path().join("state"), &[]);
    let file = dir.path().join("snippet.py");
    std::fs::write(&file, code).unwrap();
    let out = Command::new("python3")
        .arg(&file)
        .env("SOCKLAB_HOST", "127.0.0.1")
        .env("SOCKLAB_PORT", srv.port().to_string())
        .env("SOCKLAB_FINGERPRINT", srv.fingerprint())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "TLSv1.3 socklab-echo/1 hello over TLS\n");
    // Pinned to another fingerprint, it refuses.
    let other = TempDir::new().unwrap();
    let wrong = tls_server(other.path(), &[]).fingerprint();
    let out = Command::new("python3")
        .arg(&file)
        .env("SOCKLAB_PORT", srv.port().to_string())
        .env("SOCKLAB_FINGERPRINT", &wrong)
        .output()
        .unwrap();
    assert!(
        !out.status.success() && text(&out.stderr).contains("refusing"),
        "{}",
        text(&out.stderr)
    );
}
