//! Moving a file's bytes while hashing them, on two threads.
//!
//! md5 is sequential and keeps a core busy, so a loop that reads, writes and hashes on
//! one thread takes the time of the hashing plus the time of the copying. Both engines
//! here put the hash on a second thread, so that the two overlap:
//!
//! - [`copy_hashed`] (a receiving end, and a sender whose source is not a file): the
//!   calling thread reads into a buffer and writes it out, and a hashing thread takes
//!   each buffer once it is written; a small fixed pool of buffers goes round between
//!   them;
//! - [`send_file_hashed`] (a sender whose source is a file): the kernel sends straight
//!   from the page cache with `sendfile(2)`, and the hashing thread reads the file on
//!   its own, kept a bounded distance ahead of the sending.
//!
//! Memory per transfer is the same for a kilobyte or a terabyte. How fast each runs,
//! against md5sum and the tools users would reach for, is in docs/benchmarks.md.

mod copy;
mod sendfile;

pub(crate) use copy::copy_hashed;
pub(crate) use sendfile::{send_file_hashed, send_rest_hashed};
