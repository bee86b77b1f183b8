//! Moving a file's bytes while hashing them, on two threads.
//!
//! md5 runs at about the speed of one core, so a loop that reads, writes and hashes on
//! one thread is as slow as hashing plus copying added together. Both engines here put
//! the hash on a second thread:
//!
//! - [`copy_hashed`] (a receiving end, and a sender whose source is not a file): the
//!   calling thread reads into a buffer and writes it out, and a hashing thread takes
//!   each buffer once it is written; a small fixed pool of buffers goes round between
//!   them;
//! - [`send_file_hashed`] (a sender whose source is a file): the kernel sends straight
//!   from the page cache with `sendfile(2)`, and the hashing thread reads the file on
//!   its own, kept a bounded distance ahead of the sending.
//!
//! Memory per transfer is the same for a kilobyte or a terabyte. docs/benchmarks.md
//! measures both against md5sum and the tools users would reach for.

mod copy;
mod sendfile;

pub use copy::{copy_hashed, PIPELINE_BUFFER, PIPELINE_BUFFERS};
pub use sendfile::{send_file_hashed, HASH_LEAD, SENDFILE_CHUNK};
