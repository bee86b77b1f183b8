//! What the single-threaded client pump ([`crate::pump::forward_inline`]) has to send
//! and the socket has not taken yet: offered without ever waiting, in order.

use crate::request::write_resize;
use crate::tls::ClientStream;
use crate::wire::{ChunkBuf, FrameStream};
use socklab_proto::{Error, Result};
use std::ops::Range;

/// Messages waiting for the socket: first `queue` (a `resize`, say), then the stdin
/// frame in `frame` at `framed`. Invariant: a frame is only ever sent whole and in
/// order, so a message queued while a frame is part sent goes behind the frame's rest.
pub(crate) struct Outbox {
    queue: Vec<u8>,
    frame: ChunkBuf,
    framed: Range<usize>,
}

impl Outbox {
    pub(crate) fn new() -> Outbox {
        Outbox {
            queue: Vec::new(),
            frame: ChunkBuf::new(),
            framed: 0..0,
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
        Ok(())
    }

    /// Queues a `resize` message.
    pub(crate) fn push_resize(&mut self, rows: u16, cols: u16) -> Result<()> {
        if !self.framed.is_empty() {
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
        }
        if self.queue.is_empty() && !self.framed.is_empty() {
            let took = stream
                .send_now(self.frame.bytes(self.framed.clone()))
                .map_err(io)?;
            self.framed.start += took;
        }
        Ok(!self.queue.is_empty() || !self.framed.is_empty() || stream.sending())
    }
}
