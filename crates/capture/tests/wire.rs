//! Real traffic of every lesson, captured on loopback by tshark and dissected with
//! scripts/wireshark/socklab.lua: the fields a reader filters on appear, in order,
//! with the values the peers really sent, and no frame is malformed.

use socklab_testkit::{self as testkit, Fixture, Server};
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

/// How long tshark may take to start capturing, and to stop.
const TSHARK_LIMIT: Duration = Duration::from_secs(20);
/// The separator tshark puts between several values of one field in one frame.
const AGG: char = '\u{1f}';

fn lua() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/wireshark/socklab.lua")
}

/// Fails, saying what to do, when this user cannot capture on lo.
fn require_capture() {
    testkit::require_tool("tshark");
    let out = Command::new("id").output().expect("id(1) runs");
    let id = String::from_utf8_lossy(&out.stdout);
    assert!(
        id.starts_with("uid=0(") || id.contains("(wireshark)"),
        "capturing on lo needs root or the wireshark group (id: {id}); \
         run the tests as root, or add yourself with `usermod -aG wireshark $USER`"
    );
}

/// tshark writing everything on loopback port `port` to a pcapng file.
struct Capture {
    child: Child,
    file: PathBuf,
    err: PathBuf,
    _dir: tempfile::TempDir,
}

impl Capture {
    /// Starts tshark and returns once it is capturing.
    fn start(port: u16) -> Capture {
        require_capture();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("wire.pcapng");
        let err = dir.path().join("tshark.err");
        let child = Command::new("tshark")
            .args(["-n", "-q", "-i", "lo", "-f", &format!("port {port}"), "-w"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("tshark starts");
        let mut cap = Capture {
            child,
            file,
            err,
            _dir: dir,
        };
        let capturing = testkit::wait_until(TSHARK_LIMIT, || {
            cap.log().contains("Capturing on") || cap.child.try_wait().ok().flatten().is_some()
        });
        assert!(
            capturing && cap.child.try_wait().unwrap().is_none(),
            "tshark did not start capturing: {}",
            cap.log()
        );
        // "Capturing on" follows the filter; a margin for the first packet.
        thread::sleep(Duration::from_millis(300));
        cap
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Stops tshark (SIGTERM, so it finishes the file) and returns the dissector's view.
    fn stop(mut self, pref: String) -> Dissected {
        thread::sleep(Duration::from_millis(300)); // the last ACKs and FINs
        testkit::signal(self.child.id(), "TERM");
        let status = testkit::wait_child(&mut self.child, TSHARK_LIMIT);
        assert!(status.is_some(), "tshark did not stop: {}", self.log());
        let copy = tempfile::tempdir().unwrap();
        let file = copy.path().join("wire.pcapng");
        std::fs::copy(&self.file, &file).unwrap();
        Dissected {
            file,
            prefs: vec![pref],
            _dir: copy,
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A finished capture, read back with the dissector and one `-o socklab.*` preference
/// naming the server's port.
struct Dissected {
    file: PathBuf,
    prefs: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Dissected {
    /// The same capture read with one more `-o` preference (a TLS key log, say).
    fn with_pref(mut self, pref: String) -> Dissected {
        self.prefs.push(pref);
        self
    }

    /// Runs tshark (two passes) with the dissector and `extra` arguments.
    fn tshark(&self, extra: &[&str]) -> String {
        let mut cmd = Command::new("tshark");
        cmd.arg("-n")
            .arg("-2")
            .arg("-X")
            .arg(format!("lua_script:{}", lua().display()))
            .args(self.prefs.iter().flat_map(|p| ["-o", p.as_str()]))
            .arg("-r")
            .arg(&self.file)
            .args(extra);
        let out = cmd.output().expect("tshark runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("Lua"),
            "{cmd:?} failed: {stderr}"
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Every value of `field` in frames matching `filter`, in capture order.
    fn values(&self, filter: &str, field: &str) -> Vec<String> {
        self.tshark(&[
            "-Y",
            filter,
            "-T",
            "fields",
            "-E",
            "occurrence=a",
            "-E",
            &format!("aggregator={AGG}"),
            "-e",
            field,
        ])
        .lines()
        .filter(|l| !l.is_empty())
        .flat_map(|l| l.split(AGG).map(str::to_owned).collect::<Vec<_>>())
        .collect()
    }

    /// Every socklab field value named in `field`.
    fn all(&self, field: &str) -> Vec<String> {
        self.values("socklab", field)
    }

    /// Asserts that no frame is malformed and the dissector raised no error.
    fn assert_clean(&self) {
        let bad = self.tshark(&[
            "-Y",
            "_ws.malformed || _ws.expert.severity >= 8388608",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.expert.message",
        ]);
        assert!(
            bad.trim().is_empty(),
            "malformed frames or dissector errors:\n{bad}\nwhole capture:\n{}",
            self.tshark(&[
                "-Y",
                "socklab",
                "-T",
                "fields",
                "-e",
                "frame.number",
                "-e",
                "socklab.msg"
            ])
        );
    }
}

fn framed_pref(server: &Server) -> String {
    format!("socklab.framed_ports:{}", server.port())
}

/// `BIN --port PORT --user USER --password-file FILE`: a client logged in to `server`.
fn client(bin: &str, fx: &Fixture, server: &Server) -> Command {
    let mut cmd = Command::new(testkit::bin(bin));
    cmd.args([
        "--port",
        &server.port().to_string(),
        "--user",
        testkit::USER,
    ])
    .arg("--password-file")
    .arg(fx.password_file());
    cmd
}

fn md5sum(path: &Path) -> String {
    let out = Command::new("md5sum")
        .arg(path)
        .output()
        .expect("md5sum runs");
    String::from_utf8(out.stdout).unwrap()[..32].to_owned()
}

#[test]
fn ftp_put_shows_a_hidden_login_then_the_files_size_body_and_md5sum() {
    let fx = Fixture::new();
    let server = testkit::start_ftp(&fx, &[]);
    let local = fx.path("here");
    std::fs::create_dir_all(&local).unwrap();
    let file = local.join("notes.bin");
    std::fs::write(&file, testkit::random_bytes(200_000)).unwrap();
    let cap = Capture::start(server.port());
    let out = client("ftp-client", &fx, &server)
        .current_dir(&local)
        .args(["--no-progress", "put", "notes.bin"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}\n{}", server.stderr());
    let wire = cap.stop(framed_pref(&server));
    wire.assert_clean();

    // The client's credential-free probe (`client_login`), then the login.
    assert_eq!(wire.all("socklab.op"), ["list", "login", "put"]);
    assert_eq!(
        wire.all("socklab.kind"),
        ["request", "reply", "request", "reply", "request", "reply"]
            .into_iter()
            .chain(std::iter::repeat_n(
                "body",
                wire.values("socklab.body", "frame.number").len()
            ))
            .chain(["trailer", "reply"])
            .collect::<Vec<_>>()
    );
    assert_eq!(wire.all("socklab.size"), ["200000", "200000"]); // put, final reply
    let md5 = md5sum(&file);
    assert_eq!(wire.all("socklab.md5"), [md5.clone(), md5]); // trailer, final reply
    let body: u64 = wire
        .all("socklab.body.len")
        .iter()
        .map(|n| n.parse::<u64>().unwrap())
        .sum();
    assert_eq!(body, 200_000, "the body is every byte of the file, once");
    assert_eq!(wire.all("socklab.password"), ["<hidden>"]);
    let shown = wire.tshark(&["-V", "-Y", "socklab"]);
    assert!(
        !shown.contains(testkit::password()),
        "the password is shown:\n{shown}"
    );
}

#[test]
fn the_password_is_shown_only_when_the_preference_asks() {
    let fx = Fixture::new();
    let server = testkit::start_shell(&fx, &[]);
    let cap = Capture::start(server.port());
    let mut s = TcpStream::connect(server.connect_addr()).unwrap();
    testkit::login(&mut s, testkit::USER, testkit::password()).unwrap();
    drop(s);
    let mut wire = cap.stop(framed_pref(&server));
    assert_eq!(wire.all("socklab.password"), ["<hidden>"]);
    wire.prefs = vec!["socklab.show_password:TRUE".into()];
    let ported = format!("socklab.framed_ports:{}", server.port());
    let shown = wire.tshark(&[
        "-o",
        &ported,
        "-Y",
        "socklab",
        "-T",
        "fields",
        "-e",
        "socklab.password",
    ]);
    assert_eq!(shown.trim(), testkit::password());
}

#[test]
fn shell_exec_shows_the_command_its_stdout_stream_and_exit_code() {
    let fx = Fixture::new();
    let server = testkit::start_shell(&fx, &[]);
    let cap = Capture::start(server.port());
    let out = client("shell-client", &fx, &server)
        // -n: no stdin frames, so the capture holds exactly the exchange asserted below
        // (the EOF frame of forwarded stdin could come before or after the output).
        .args(["-n", "--", "echo on the wire; exit 3"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}\n{}", server.stderr());
    let wire = cap.stop(framed_pref(&server));
    wire.assert_clean();

    // The client's credential-free probe (`client_login`), then the login.
    assert_eq!(wire.all("socklab.op"), ["list", "login", "exec"]);
    assert_eq!(wire.all("socklab.cmd"), ["echo on the wire; exit 3"]);
    assert_eq!(wire.all("socklab.stream"), ["stdout"]);
    assert_eq!(wire.all("socklab.size"), ["12"]);
    assert_eq!(wire.all("socklab.exit"), ["3"]);
    let kinds = wire.all("socklab.kind");
    assert_eq!(
        kinds,
        ["request", "reply", "request", "reply", "request", "chunk", "body", "reply"]
    );
}

#[test]
fn chat_datagrams_show_commands_text_and_the_nick_the_server_prefixes() {
    let server = testkit::start_chat(&[]);
    let cap = Capture::start(server.port());
    let addr = server.connect_addr();
    let join = |nick: &str| {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.connect(&addr).unwrap();
        s.send(format!("{:<128}", format!("/nick {nick}")).as_bytes())
            .unwrap();
        let mut buf = [0u8; 2048];
        let n = s.recv(&mut buf).unwrap(); // the welcome
        assert!(
            buf[..n].starts_with(b"*** welcome"),
            "{:?}",
            String::from_utf8_lossy(&buf[..n])
        );
        s
    };
    let alice = join("alice");
    let bob = join("bob");
    alice.send(b"hello bob\n").unwrap();
    let mut buf = [0u8; 2048];
    loop {
        let n = bob.recv(&mut buf).unwrap();
        if buf[..n].starts_with(b"<alice>") {
            break;
        }
    }
    let wire = cap.stop(format!("socklab.chat_ports:{}", server.port()));
    wire.assert_clean();

    assert_eq!(wire.all("socklab.chat.command"), ["/nick", "/nick"]);
    assert_eq!(wire.all("socklab.chat.arg"), ["alice", "bob"]);
    assert_eq!(wire.all("socklab.chat.text"), ["hello bob", "hello bob"]); // sent, relayed
    assert_eq!(wire.all("socklab.chat.nick"), ["alice"]);
}

#[test]
fn echo_bytes_show_as_text_both_ways() {
    let server = testkit::start_echo(&[]);
    let cap = Capture::start(server.port());
    let mut s = TcpStream::connect(server.connect_addr()).unwrap();
    s.write_all(b"hello, wire\n").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"hello, wire\n");
    let wire = cap.stop(format!("socklab.echo_ports:{}", server.port()));
    wire.assert_clean();
    // tshark -T fields writes a newline inside a value as the two characters \\n.
    assert_eq!(
        wire.all("socklab.echo.text"),
        [r"hello, wire\n", r"hello, wire\n"]
    );
}

fn frame(json: &str) -> Vec<u8> {
    let mut v = (json.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(json.as_bytes());
    v
}

fn read_header(s: &mut TcpStream) -> String {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut json = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut json).unwrap();
    String::from_utf8(json).unwrap()
}

/// How many requests of one batch share one write, and so one segment.
const BATCH: usize = 50;
/// How many writes carry the one big request.
const PIECES: usize = 8;

#[test]
fn many_frames_in_one_segment_and_one_frame_over_many_segments_are_each_found_once() {
    let fx = Fixture::new();
    let server = testkit::start_ftp(&fx, &[]);
    let cap = Capture::start(server.port());
    let mut s = TcpStream::connect(server.connect_addr()).unwrap();
    s.set_nodelay(true).unwrap();
    testkit::login(&mut s, testkit::USER, testkit::password()).unwrap();
    // Many frames, one write: one segment holds all of them.
    let batch: Vec<u8> = (0..BATCH).flat_map(|_| frame(r#"{"op":"list"}"#)).collect();
    s.write_all(&batch).unwrap();
    for _ in 0..BATCH {
        assert!(read_header(&mut s).contains(r#""ok":true"#));
    }
    // One frame, many writes: with TCP_NODELAY each write leaves as its own segment.
    let big = frame(&format!(
        r#"{{"op":"stat","name":"{}"}}"#,
        "n".repeat(40_000)
    ));
    for piece in big.chunks(big.len().div_ceil(PIECES)) {
        s.write_all(piece).unwrap();
        thread::sleep(Duration::from_millis(20));
    }
    let reply = read_header(&mut s);
    assert!(reply.contains("invalid_name"), "{reply}");
    drop(s);
    let wire = cap.stop(framed_pref(&server));
    wire.assert_clean();

    let mut want = vec!["login".to_owned()];
    want.extend(std::iter::repeat_n("list".to_owned(), BATCH));
    want.push("stat".into());
    assert_eq!(wire.all("socklab.op"), want, "every request once, in order");
    assert_eq!(wire.all("socklab.ok").len(), BATCH + 2, "every reply once");
    // The batch: one frame with BATCH list requests in it.
    let per_frame = wire.values("socklab.op == \"list\"", "socklab.op");
    assert_eq!(per_frame.len(), BATCH);
    let frames = wire.values("socklab.op == \"list\"", "frame.number");
    assert_eq!(frames.len(), 1, "the batch came in one segment: {frames:?}");
    // The big request: reassembled from at least PIECES segments.
    let segments = wire.values("socklab.op == \"stat\"", "tcp.segment.count");
    assert!(
        segments.len() == 1 && segments[0].parse::<usize>().unwrap() >= PIECES,
        "the stat request should be reassembled from {PIECES}+ segments: {segments:?}"
    );
    assert_eq!(
        wire.all("socklab.len")
            .iter()
            .filter(|l| *l == &(big.len() - 4).to_string())
            .count(),
        1
    );
}

#[test]
fn a_tls_session_is_dissected_with_the_clients_key_log() {
    // ftp over TLS: the wire holds only TLS records, but with the key log the client
    // writes (SSLKEYLOGFILE) tshark decrypts the session and hands the plaintext to
    // the dissector, registered for the ALPN name socklab-ftp/1.
    let fx = Fixture::new();
    let server = testkit::start_ftp(&fx, &["--tls"]);
    let cap = Capture::start(server.port());
    let file = fx.path("tls.bin");
    std::fs::write(&file, testkit::random_bytes(30_000)).unwrap();
    let keys = fx.path("keys.log");
    let out = client("ftp-client", &fx, &server)
        .args(["--tls", "--accept-new", "put"])
        .arg(&file)
        .env("SSLKEYLOGFILE", &keys)
        .env("SOCKLAB_KNOWN_HOSTS", fx.path("known_hosts"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}\n{}", server.stderr());
    // No port preference: the port speaks TLS, and the plaintext is found by ALPN.
    let wire = cap
        .stop("socklab.show_password:FALSE".into())
        .with_pref(format!("tls.keylog_file:{}", keys.display()));
    wire.assert_clean();
    assert_eq!(wire.all("socklab.op"), ["login", "put"]);
    assert!(wire.all("socklab.size").contains(&"30000".to_owned()));
    assert!(
        wire.all("socklab.md5").contains(&md5sum(&file)),
        "{:?}",
        wire.all("socklab.md5")
    );
    // Without the key log, nothing of the exchange is visible.
    let sealed = Dissected {
        file: wire.file.clone(),
        prefs: vec!["socklab.show_password:FALSE".into()],
        _dir: tempfile::tempdir().unwrap(),
    };
    assert!(
        sealed.all("socklab.op").is_empty(),
        "{:?}",
        sealed.all("socklab.op")
    );
}
