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
use std::io::Read;
#[cfg(test)]
use std::io::Write;
use std::ops::Range;

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
#[cfg(test)]
pub(crate) fn write_chunk<W: Write>(w: &mut W, stream: StreamName, data: &[u8]) -> Result<()> {
    let mut buf = ChunkBuf::new();
    buf.space()[..data.len()].copy_from_slice(data);
    w.write_all(buf.frame(stream, data.len())?)
        .map_err(|e| Error::io("sending command output", e))
}

/// Bytes a [`ChunkBuf`] keeps free in front of its data for the length prefix and a
/// chunk header (`{"stream":"stdout","size":65536}` is 33 bytes).
const HEADER_ROOM: usize = LEN_PREFIX + 64;

/// A buffer that reads a chunk's bytes where the frame carrying them is sent from:
/// the header is written into the room in front of them, so a chunk is never copied
/// to put a header before it. Allocated (and zeroed) once per command.
pub(crate) struct ChunkBuf {
    buf: Box<[u8]>,
}

impl ChunkBuf {
    pub(crate) fn new() -> ChunkBuf {
        ChunkBuf {
            buf: vec![0u8; HEADER_ROOM + MAX_CHUNK].into_boxed_slice(),
        }
    }

    /// Where the next chunk's bytes are read to: [`MAX_CHUNK`] bytes.
    pub(crate) fn space(&mut self) -> &mut [u8] {
        &mut self.buf[HEADER_ROOM..]
    }

    /// The whole frame for the `n` bytes just read into [`ChunkBuf::space`], as the
    /// command's output ([`StreamName`]) or as its input ([`FrameStream::Stdin`]):
    /// prefix, header and bytes, contiguous.
    pub(crate) fn frame(&mut self, stream: impl Into<FrameStream>, n: usize) -> Result<&[u8]> {
        let at = self.frame_range(stream, n)?;
        Ok(&self.buf[at])
    }

    /// [`ChunkBuf::frame`], as where the frame lies in the buffer ([`ChunkBuf::bytes`]).
    pub(crate) fn frame_range(
        &mut self,
        stream: impl Into<FrameStream>,
        n: usize,
    ) -> Result<Range<usize>> {
        let size = n as u64;
        let header = match stream.into() {
            FrameStream::Out(stream) => serde_json::to_vec(&ChunkHeader { stream, size }),
            FrameStream::Stdin => serde_json::to_vec(&crate::request::stdin_header(size)),
        }
        .map_err(|e| Error::Other(format!("encoding a chunk header: {e}")))?;
        // Bounded by HEADER_ROOM (far below MAX_HEADER_LEN), so the cast is exact;
        // the largest header fits (a test checks it).
        let start = HEADER_ROOM
            .checked_sub(LEN_PREFIX + header.len())
            .ok_or_else(|| {
                Error::Other(format!(
                    "a chunk header of {} bytes does not fit the room kept for it",
                    header.len()
                ))
            })?;
        debug_assert!(header.len() <= MAX_HEADER_LEN);
        self.buf[start..start + LEN_PREFIX].copy_from_slice(&(header.len() as u32).to_be_bytes());
        self.buf[start + LEN_PREFIX..HEADER_ROOM].copy_from_slice(&header);
        Ok(start..HEADER_ROOM + n)
    }

    /// The bytes at `at`, a range [`ChunkBuf::frame_range`] gave (or part of one).
    pub(crate) fn bytes(&self, at: Range<usize>) -> &[u8] {
        &self.buf[at]
    }
}

/// Which stream a [`ChunkBuf`] frame carries.
pub(crate) enum FrameStream {
    /// The command's output, server to client.
    Out(StreamName),
    /// The client's input, client to server.
    Stdin,
}

impl From<StreamName> for FrameStream {
    fn from(s: StreamName) -> FrameStream {
        FrameStream::Out(s)
    }
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
    fn a_full_chunk_is_framed_in_place_whatever_its_stream() {
        let mut buf = ChunkBuf::new();
        buf.space().fill(b'x');
        for which in [StreamName::Stdout, StreamName::Stderr] {
            let frame = buf.frame(which, MAX_CHUNK).unwrap().to_vec();
            match read_incoming(&mut Cursor::new(&frame)).unwrap() {
                Incoming::Chunk(got, data) => {
                    assert_eq!(got, which);
                    assert!(data.len() == MAX_CHUNK && data.iter().all(|&b| b == b'x'));
                }
                other => panic!("{which:?}: read back as {other:?}"),
            }
        }
        let frame = buf.frame(FrameStream::Stdin, MAX_CHUNK).unwrap().to_vec();
        let (map, mut rest) = {
            let mut r = Cursor::new(&frame);
            let map = read_object(&mut r).unwrap().unwrap();
            (map, r)
        };
        match crate::request::parse_inbound(map, &mut rest).unwrap() {
            crate::request::Inbound::Stdin(data) => assert_eq!(data.len(), MAX_CHUNK),
            other => panic!("a stdin frame read back as {other:?}"),
        }
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
