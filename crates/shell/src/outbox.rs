//! What the single-threaded client pump ([`crate::pump::forward_inline`]) has to send
//! and the socket has not taken yet: offered without ever waiting, in order.

use crate::request::write_resize;
use crate::tls::ClientStream;
use crate::wire::{ChunkBuf, FrameStream};
use socklab_proto::{Error, Result};
use std::io::Write;
use std::ops::Range;

/// Messages waiting for the socket: first `queue` (a `resize`, say), then the stdin
/// frame in `frame` at `framed`. Invariant: a frame is only ever sent whole and in
/// order, so a message queued while a frame is part sent goes behind the frame's rest.
pub(crate) struct Outbox {
    queue: Vec<u8>,
    /// The socket has taken part of `queue`'s first message (or may have: its
    /// boundaries are not kept, so this errs towards true).
    queue_begun: bool,
    frame: ChunkBuf,
    framed: Range<usize>,
    /// Where the frame in `framed` started: before `framed.start`, the socket has
    /// taken part of it.
    frame_start: usize,
}

impl Outbox {
    pub(crate) fn new() -> Outbox {
        Outbox {
            queue: Vec::new(),
            queue_begun: false,
            frame: ChunkBuf::new(),
            framed: 0..0,
            frame_start: 0,
        }
    }

    /// Where the next stdin bytes are read to, before [`Outbox::push_stdin`] frames
    /// them in place.
    pub(crate) fn space(&mut self) -> &mut [u8] {
        self.frame.space()
    }

    /// Queues a stdin frame of the `n` bytes just read into [`Outbox::space`] (0: the
    /// end of input). Called only once everything before it was sent.
    pub(crate) fn push_stdin(&mut self, n: usize) -> Result<()> {
        debug_assert!(
            self.framed.is_empty(),
            "input is read only when all is sent"
        );
        self.framed = self.frame.frame_range(FrameStream::Stdin, n)?;
        self.frame_start = self.framed.start;
        Ok(())
    }

    /// Queues a `resize` message.
    pub(crate) fn push_resize(&mut self, rows: u16, cols: u16) -> Result<()> {
        if !self.framed.is_empty() {
            self.queue_begun |= self.frame_begun();
            let rest = self.frame.bytes(self.framed.clone());
            self.queue.extend_from_slice(rest);
            self.framed = 0..0;
        }
        write_resize(&mut self.queue, rows, cols)
    }

    /// Offers what waits to `stream` as far as its socket takes it now
    /// ([`socklab_net::tls::MaybeTls::send_now`]); true while some of it, or records
    /// already taken, still wait for the socket.
    pub(crate) fn send_now(&mut self, stream: &mut ClientStream) -> Result<bool> {
        let io = |e| Error::io("sending stdin", e);
        if !self.queue.is_empty() {
            let took = stream.send_now(&self.queue).map_err(io)?;
            self.queue.drain(..took);
            self.queue_begun = !self.queue.is_empty() && (took > 0 || self.queue_begun);
        }
        if self.queue.is_empty() && !self.framed.is_empty() {
            let took = stream
                .send_now(self.frame.bytes(self.framed.clone()))
                .map_err(io)?;
            self.framed.start += took;
        }
        Ok(!self.queue.is_empty() || !self.framed.is_empty() || stream.sending())
    }

    /// Once the command has ended: sends, waiting as long as it takes, the rest of any
    /// message the socket has taken part of, then every record rustls holds. The
    /// connection may carry another request, and the server skips a stray stdin frame
    /// by its size: a frame cut short would swallow the request behind it. Messages
    /// not begun are dropped, as nobody wants them now.
    pub(crate) fn finish(&mut self, stream: &mut ClientStream) -> std::io::Result<()> {
        if self.queue_begun {
            stream.write_all(&self.queue)?;
        } else if self.queue.is_empty() && self.frame_begun() {
            stream.write_all(self.frame.bytes(self.framed.clone()))?;
        }
        (self.queue, self.queue_begun, self.framed) = (Vec::new(), false, 0..0);
        stream.flush()
    }

    /// The socket has taken part of the frame, and not all of it.
    fn frame_begun(&self) -> bool {
        !self.framed.is_empty() && self.framed.start > self.frame_start
    }
}
