//! The limits of the wire: how long a header, a name or a chunk may be.
//!
//! Each is checked before anything is allocated from a length the peer sent. The
//! limits of a server (connections, deadlines) live in `socklab-net`, those of login
//! in `socklab-auth`, and each lesson owns its own; `docs/security.md` lists them all.

/// The longest JSON header a peer may send (the `LEN` of a frame). Checked before a
/// single byte of the header is allocated, so a hostile `FF FF FF FF` costs nothing.
pub const MAX_HEADER_LEN: usize = 64 * 1024;

/// The largest output chunk the shell server sends in one `stream` frame.
pub const MAX_CHUNK: usize = 64 * 1024;

/// The longest file name, in bytes, as on most Unix file systems.
pub const MAX_NAME_LEN: usize = 255;
