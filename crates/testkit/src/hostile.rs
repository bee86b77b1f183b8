//! The hostile-input battery for socklab's framed servers (shell and ftp).
//!
//! Each case opens a fresh connection, optionally logs in, sends one kind of bad
//! input, and checks that the server answers `bad_request` (where the stream is still
//! readable) and closes, without crashing: after every case, a well-behaved client must
//! still be served. A failure message names the case and what came back.

use serde_json::{json, Map, Value};
use socklab_proto::frame::write_frame;
use socklab_proto::msg::{read_object, write_header};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// How long a case waits for the server's answer.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(15);

/// One hostile input: a name and the bytes that carry it.
#[derive(Debug, Clone)]
pub struct Case {
    /// Named after what it sends.
    pub name: &'static str,
    /// The bytes sent after login (if any).
    pub bytes: Vec<u8>,
    /// Close our sending side after the bytes (for truncated input).
    pub half_close: bool,
    /// The server must answer `bad_request` before it closes (false: closing is enough,
    /// e.g. when the input was cut short and there is nobody left to tell).
    pub expect_bad_request: bool,
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    write_frame(&mut wire, payload, usize::MAX).expect("encode");
    wire
}

/// The header-level cases every framed server must survive, before or after login.
pub fn header_cases() -> Vec<Case> {
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let nested_obj = format!("{{\"op\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    let case = |name, bytes, expect_bad_request| Case {
        name,
        bytes,
        half_close: false,
        expect_bad_request,
    };
    vec![
        case("length FF FF FF FF", vec![0xff, 0xff, 0xff, 0xff], true),
        case(
            "length one over the limit",
            ((socklab_proto::limits::MAX_HEADER_LEN + 1) as u32)
                .to_be_bytes()
                .to_vec(),
            true,
        ),
        Case {
            name: "truncated length",
            bytes: vec![0x00, 0x00],
            half_close: true,
            expect_bad_request: false,
        },
        Case {
            name: "truncated payload",
            bytes: frame(br#"{"op":"list"}"#)[..8].to_vec(),
            half_close: true,
            expect_bad_request: false,
        },
        case("invalid UTF-8", frame(b"{\"op\":\"\xff\xfe\"}"), true),
        case("invalid JSON", frame(b"{\"op\": list"), true),
        case(
            "JSON array instead of an object",
            frame(b"[\"op\",\"list\"]"),
            true,
        ),
        case("10,000 nested brackets", frame(nested.as_bytes()), true),
        case(
            "10,000 nested brackets in a field",
            frame(nested_obj.as_bytes()),
            true,
        ),
        case(
            "wrong types",
            frame(br#"{"op":"login","user":5,"password":["x"]}"#),
            true,
        ),
        case("wrong type for op", frame(br#"{"op":7}"#), true),
        case("unknown op", frame(br#"{"op":"format_disk"}"#), true),
        case("missing op", frame(br#"{"user":"x"}"#), true),
        case("empty frame", frame(b""), true),
    ]
}

/// Connects, logs in with `login` if given, and returns the stream.
pub fn connect(addr: &str, login: Option<(&str, &str)>) -> Result<TcpStream, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(REPLY_TIMEOUT))
        .map_err(|e| e.to_string())?;
    if let Some((user, password)) = login {
        write_header(
            &mut s,
            &json!({"op":"login","user":user,"password":password}),
        )
        .map_err(|e| format!("send login: {e}"))?;
        let reply = read_object(&mut s)
            .map_err(|e| format!("login reply: {e}"))?
            .ok_or("closed instead of answering login")?;
        if reply.get("ok") != Some(&Value::Bool(true)) {
            return Err(format!("login refused: {reply:?}"));
        }
    }
    Ok(s)
}

/// Sends `case` and checks the answer: `bad_request` when expected, then the close.
pub fn run_case(addr: &str, login: Option<(&str, &str)>, case: &Case) -> Result<(), String> {
    let mut s = connect(addr, login)?;
    s.write_all(&case.bytes).map_err(|e| format!("send: {e}"))?;
    if case.half_close {
        let _ = s.shutdown(Shutdown::Write);
    }
    let first = read_object(&mut s);
    if case.expect_bad_request {
        let reply: Map<String, Value> = match first {
            Ok(Some(reply)) => reply,
            other => return Err(format!("expected a bad_request reply, got {other:?}")),
        };
        if reply.get("ok") != Some(&Value::Bool(false))
            || reply.get("code") != Some(&json!("bad_request"))
        {
            return Err(format!("expected bad_request, got {reply:?}"));
        }
        if reply
            .get("error")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(format!("bad_request without a readable error: {reply:?}"));
        }
    }
    // Then the server closes the connection: EOF (or a reset), not more data or a hang.
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) if rest.is_empty() => Ok(()),
        Ok(_) => Err(format!(
            "server sent {} more bytes instead of closing",
            rest.len()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
        Err(e) => Err(format!("server did not close: {e}")),
    }
}

/// Runs every header case against the server at `addr` (logging in first when `login`
/// is given), checking after each one that `healthy` still succeeds. Panics with every
/// failed case listed, plus `server_log()` for debugging.
pub fn run_header_battery(
    addr: &str,
    login: Option<(&str, &str)>,
    healthy: impl Fn() -> Result<(), String>,
    server_log: impl Fn() -> String,
) {
    let mut failures = Vec::new();
    for case in header_cases() {
        if let Err(e) = run_case(addr, login, &case) {
            failures.push(format!("{}: {e}", case.name));
        }
        if let Err(e) = healthy() {
            failures.push(format!(
                "after {}: a well-behaved client failed: {e}",
                case.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "hostile-input battery against {addr} (login: {}):\n  {}\nserver log:\n{}",
        login.is_some(),
        failures.join("\n  "),
        server_log()
    );
}
