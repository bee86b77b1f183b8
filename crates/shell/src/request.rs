//! The shell's own requests and the messages a client sends while a command runs.
//!
//! Only the shell server reads these, and the ones sent during a command (stdin
//! frames, `resize`) are interleaved with its output loop, so they are parsed here,
//! in one place, rather than in `socklab_proto::Request`: the login still goes through
//! `Request::Login` (socklab-auth reads it), and everything after it through
//! [`ShellRequest`] and [`Inbound`].
//!
//! ```text
//! -> {"op":"exec","cmd":"tar x","stdin":true}
//! -> {"stream":"stdin","size":N} + N bytes      repeated; size 0 is end of input
//! -> {"op":"pty","term":"xterm-256color","rows":24,"cols":80,"cmd":null}
//! -> {"op":"resize","rows":R,"cols":C}            on a PTY, at any time
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use socklab_proto::frame::LEN_PREFIX;
use socklab_proto::limits::MAX_CHUNK;
use socklab_proto::msg::parse_header;
use socklab_proto::{Error, Result};
use std::collections::BTreeMap;
use std::io::{Read, Write};

/// What a logged-in client may ask the shell server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ShellRequest {
    /// Run `cmd` with `/bin/sh -c`, its stdin from stdin frames when `stdin`, else
    /// empty.
    Exec {
        /// Passed to `/bin/sh -c`.
        cmd: String,
        /// The client forwards its stdin as stdin frames.
        #[serde(default, skip_serializing_if = "is_false")]
        stdin: bool,
        /// `LANG` and `LC_*` from the client.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        env: BTreeMap<String, String>,
    },
    /// Run `cmd`, or the account's login shell, on a pseudo-terminal of `rows` x `cols`.
    Pty {
        /// `TERM` for the remote side.
        term: String,
        /// Terminal height.
        rows: u16,
        /// Terminal width.
        cols: u16,
        /// The command, or `null` for the login shell.
        #[serde(default)]
        cmd: Option<String>,
        /// `LANG` and `LC_*` from the client.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        env: BTreeMap<String, String>,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A message from the client while a command runs.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    /// Input bytes; empty means end of input.
    Stdin(Vec<u8>),
    /// The client's terminal changed size.
    Resize {
        /// New height.
        rows: u16,
        /// New width.
        cols: u16,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StdinHeader {
    stream: StdinName,
    size: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum StdinName {
    Stdin,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
enum Control {
    Resize { rows: u16, cols: u16 },
}

/// Whether a message (already read as a JSON object) is a stdin frame.
pub fn is_stdin_frame(map: &Map<String, Value>) -> bool {
    map.get("stream").and_then(Value::as_str) == Some("stdin")
}

/// Parses a message read during a command, reading a stdin frame's bytes from `body`.
/// A size above [`MAX_CHUNK`] is refused before anything is allocated.
pub fn parse_inbound<R: Read>(map: Map<String, Value>, body: &mut R) -> Result<Inbound> {
    if map.contains_key("stream") {
        let header: StdinHeader = parse_header(map)?;
        let size = usize::try_from(header.size)
            .ok()
            .filter(|&n| n <= MAX_CHUNK)
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "stdin frame of {} bytes is larger than the limit of {MAX_CHUNK}",
                    header.size
                ))
            })?;
        let mut data = vec![0u8; size];
        body.read_exact(&mut data).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => Error::UnexpectedEof("a stdin frame"),
            _ => Error::io("reading a stdin frame", e),
        })?;
        return Ok(Inbound::Stdin(data));
    }
    match parse_header(map)? {
        Control::Resize { rows, cols } => Ok(Inbound::Resize { rows, cols }),
    }
}

/// Sends one stdin frame (header and bytes in one write); empty `data` is end of input.
/// Any size is sent: a frame over [`MAX_CHUNK`] is the server's to refuse. (The
/// client's own pumps frame their input in place, in a `ChunkBuf`.)
pub fn write_stdin<W: Write>(w: &mut W, data: &[u8]) -> Result<()> {
    let header = serde_json::to_vec(&stdin_header(data.len() as u64))
        .map_err(|e| Error::Other(format!("encoding a stdin header: {e}")))?;
    let mut buf = Vec::with_capacity(LEN_PREFIX + header.len() + data.len());
    // A stdin header is about 30 bytes, so the cast cannot truncate.
    buf.extend_from_slice(&(header.len() as u32).to_be_bytes());
    buf.extend_from_slice(&header);
    buf.extend_from_slice(data);
    w.write_all(&buf).map_err(|e| Error::io("sending stdin", e))
}

/// The header of a stdin frame of `size` bytes.
pub(crate) fn stdin_header(size: u64) -> impl Serialize {
    StdinHeader {
        stream: StdinName::Stdin,
        size,
    }
}

/// Sends `{"op":"resize","rows":R,"cols":C}`.
pub fn write_resize<W: Write>(w: &mut W, rows: u16, cols: u16) -> Result<()> {
    socklab_proto::msg::write_header(w, &Control::Resize { rows, cols })
}

#[cfg(test)]
mod tests {
    use super::*;
    use socklab_proto::msg::read_object;
    use std::io::Cursor;

    #[test]
    fn stdin_frames_and_resize_round_trip() {
        let mut wire = Vec::new();
        write_stdin(&mut wire, b"abc").unwrap();
        write_resize(&mut wire, 30, 100).unwrap();
        write_stdin(&mut wire, b"").unwrap();
        assert!(wire[4..].starts_with(br#"{"stream":"stdin","size":3}abc"#));
        let mut r = Cursor::new(wire);
        let mut next = || {
            let map = read_object(&mut r).unwrap().unwrap();
            parse_inbound(map, &mut r).unwrap()
        };
        assert_eq!(next(), Inbound::Stdin(b"abc".to_vec()));
        assert_eq!(
            next(),
            Inbound::Resize {
                rows: 30,
                cols: 100
            }
        );
        assert_eq!(next(), Inbound::Stdin(Vec::new()));
    }

    #[test]
    fn requests_have_the_documented_shape() {
        let exec: ShellRequest =
            serde_json::from_str(r#"{"op":"exec","cmd":"cat","stdin":true}"#).unwrap();
        assert!(matches!(exec, ShellRequest::Exec { stdin: true, .. }));
        let pty: ShellRequest = serde_json::from_str(
            r#"{"op":"pty","term":"xterm-256color","rows":24,"cols":80,"cmd":null}"#,
        )
        .unwrap();
        assert!(matches!(
            pty,
            ShellRequest::Pty {
                cmd: None,
                rows: 24,
                ..
            }
        ));
        let plain = serde_json::to_string(&ShellRequest::Exec {
            cmd: "ls".into(),
            stdin: false,
            env: BTreeMap::new(),
        })
        .unwrap();
        assert_eq!(plain, r#"{"op":"exec","cmd":"ls"}"#);
    }

    #[test]
    fn refuses_an_oversized_stdin_frame_before_allocating() {
        let map =
            serde_json::from_str(&format!(r#"{{"stream":"stdin","size":{}}}"#, u64::MAX)).unwrap();
        let err = parse_inbound(map, &mut Cursor::new(Vec::new())).unwrap_err();
        assert!(err.to_string().contains("larger than the limit"), "{err}");
    }

    #[test]
    fn an_oversized_stdin_frame_is_sent_for_the_server_to_refuse() {
        let mut wire = Vec::new();
        write_stdin(&mut wire, &vec![b'x'; MAX_CHUNK + 1]).unwrap();
        let mut r = Cursor::new(wire);
        let map = read_object(&mut r).unwrap().unwrap();
        let err = parse_inbound(map, &mut r).unwrap_err();
        assert!(err.to_string().contains("larger than the limit"), "{err}");
    }
}
