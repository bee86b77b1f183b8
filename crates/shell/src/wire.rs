//! The shell's messages on the wire, on top of the framed JSON headers of
//! `socklab_proto::msg`:
//!
//! ```text
//! -> {"op":"exec","cmd":"ls -l | wc -l"}
//! <- {"stream":"stdout","size":N} + N bytes      repeated while the command runs
//! <- {"stream":"stderr","size":N} + N bytes      N <= MAX_CHUNK (64 KiB)
//! <- {"ok":true,"exit":0}                        or {"ok":true,"exit":null,"signal":9,"timed_out":true}
//! ```
//!
//! A `cd DIR` command is answered `{"ok":true,"exit":0,"cwd":"/the/new/dir"}`.

use serde::{Deserialize, Serialize};
use socklab_proto::frame::LEN_PREFIX;
use socklab_proto::limits::MAX_CHUNK;
use socklab_proto::limits::MAX_HEADER_LEN;
use socklab_proto::msg::{parse_header, parse_reply, read_object};
use socklab_proto::{Error, Result};
use std::io::{Read, Write};

/// Which of the command's output streams a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamName {
    /// File descriptor 1.
    Stdout,
    /// File descriptor 2.
    Stderr,
}

/// The header in front of each chunk of output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChunkHeader {
    /// Where the bytes go.
    stream: StreamName,
    /// How many raw bytes follow the header; at most [`MAX_CHUNK`].
    size: u64,
}

/// The final reply to `exec`: how the command ended, as ssh reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// The exit code, or `null` when a signal ended the command.
    pub exit: Option<i32>,
    /// The signal that ended the command, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// True when the server killed the command because it ran past its time limit.
    #[serde(default, skip_serializing_if = "is_false")]
    pub timed_out: bool,
    /// The session's new directory, in the reply to `cd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl ExitStatus {
    /// The exit status a local process should end with, as ssh computes it: the
    /// remote code, 128 + the signal number when a signal ended it, 255 otherwise.
    pub fn local_code(&self) -> u8 {
        match (self.exit, self.signal) {
            // Exit codes are 0..=255 on Unix; anything else from a peer means "failed".
            (Some(code), _) => u8::try_from(code).unwrap_or(255),
            (None, Some(sig)) => u8::try_from(128 + sig.clamp(0, 127)).unwrap_or(255),
            (None, None) => 255,
        }
    }

    /// A short sentence for people when the command did not simply exit.
    pub fn describe(&self) -> Option<String> {
        match (self.exit, self.signal, self.timed_out) {
            (_, Some(sig), true) => {
                Some(format!("command timed out and was killed (signal {sig})"))
            }
            (_, _, true) => Some("command timed out and was killed".into()),
            (None, Some(sig), false) => Some(format!("command killed by signal {sig}")),
            _ => None,
        }
    }
}

/// Sends one chunk of output: its header and its bytes in a single write, so a small
/// chunk leaves in one TCP segment.
pub(crate) fn write_chunk<W: Write>(w: &mut W, stream: StreamName, data: &[u8]) -> Result<()> {
    let header = serde_json::to_vec(&ChunkHeader {
        stream,
        size: data.len() as u64,
    })
    .map_err(|e| Error::Other(format!("encoding a chunk header: {e}")))?;
    let mut buf = Vec::with_capacity(LEN_PREFIX + header.len() + data.len());
    // A chunk header is about 30 bytes: far below any limit, so the cast cannot truncate.
    buf.extend_from_slice(&(header.len() as u32).to_be_bytes());
    buf.extend_from_slice(&header);
    buf.extend_from_slice(data);
    debug_assert!(header.len() <= MAX_HEADER_LEN);
    w.write_all(&buf)
        .map_err(|e| Error::io("sending command output", e))
}

/// What the server sent next while a command runs.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// Output bytes for one stream.
    Chunk(StreamName, Vec<u8>),
    /// The final reply: the command is over.
    Done(ExitStatus),
}

/// Reads the next chunk or the final reply. The chunk size is checked against
/// [`MAX_CHUNK`] before its buffer is allocated. A `{"ok":false,…}` reply becomes
/// [`Error::Remote`].
pub fn read_incoming<R: Read>(r: &mut R) -> Result<Incoming> {
    let map = read_object(r)?.ok_or(Error::UnexpectedEof("a command's output"))?;
    if !map.contains_key("stream") {
        return parse_reply(map).map(Incoming::Done);
    }
    let header: ChunkHeader = parse_header(map)?;
    if header.size > MAX_CHUNK as u64 {
        return Err(Error::BadHeader(format!(
            "output chunk of {} bytes is larger than the limit of {MAX_CHUNK}",
            header.size
        )));
    }
    // The check above bounds the size by MAX_CHUNK, so the cast is exact.
    let mut data = vec![0u8; header.size as usize];
    r.read_exact(&mut data).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => Error::UnexpectedEof("a chunk of output"),
        _ => Error::io("reading command output", e),
    })?;
    Ok(Incoming::Chunk(header.stream, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use socklab_proto::msg::write_ok;
    use std::io::Cursor;

    #[test]
    fn chunks_and_final_reply_round_trip() {
        let mut wire = Vec::new();
        write_chunk(&mut wire, StreamName::Stdout, b"out").unwrap();
        write_chunk(&mut wire, StreamName::Stderr, b"").unwrap();
        let done = ExitStatus {
            exit: None,
            signal: Some(9),
            timed_out: true,
            cwd: None,
        };
        write_ok(&mut wire, &done).unwrap();
        let mut r = Cursor::new(wire);
        assert_eq!(
            read_incoming(&mut r).unwrap(),
            Incoming::Chunk(StreamName::Stdout, b"out".to_vec())
        );
        assert_eq!(
            read_incoming(&mut r).unwrap(),
            Incoming::Chunk(StreamName::Stderr, Vec::new())
        );
        assert_eq!(read_incoming(&mut r).unwrap(), Incoming::Done(done));
    }

    #[test]
    fn final_reply_has_the_documented_shape() {
        let mut wire = Vec::new();
        write_ok(
            &mut wire,
            &ExitStatus {
                exit: Some(0),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(&wire[4..], br#"{"exit":0,"ok":true}"#);
        let mut wire = Vec::new();
        let killed = ExitStatus {
            exit: None,
            signal: Some(9),
            timed_out: true,
            cwd: None,
        };
        write_ok(&mut wire, &killed).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&wire[4..]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"ok":true,"exit":null,"signal":9,"timed_out":true})
        );
    }

    #[test]
    fn refuses_a_chunk_larger_than_the_limit_before_allocating() {
        let mut wire = Vec::new();
        let h = format!(r#"{{"stream":"stdout","size":{}}}"#, u64::MAX);
        socklab_proto::frame::write_frame(&mut wire, h.as_bytes(), MAX_HEADER_LEN).unwrap();
        let err = read_incoming(&mut Cursor::new(wire)).unwrap_err();
        assert!(err.to_string().contains("larger than the limit"), "{err}");
    }

    #[test]
    fn local_code_follows_ssh() {
        let st = |exit, signal| ExitStatus {
            exit,
            signal,
            ..Default::default()
        };
        assert_eq!(st(Some(0), None).local_code(), 0);
        assert_eq!(st(Some(2), None).local_code(), 2);
        assert_eq!(st(Some(255), None).local_code(), 255);
        assert_eq!(st(None, Some(15)).local_code(), 143);
        assert_eq!(st(None, None).local_code(), 255);
        assert_eq!(st(Some(-1), None).local_code(), 255);
    }
}
