//! # socklab-capture
//!
//! Holds the wire-view tests, and nothing else: `tests/wire.rs` starts each lesson's
//! real server on port 0, captures its traffic on loopback with `tshark`, and checks
//! what `scripts/wireshark/socklab.lua` (the Wireshark dissector) makes of it. The
//! same dissector prints a lesson's conversation in two terminals' worth of steps:
//!
//! ```text
//! make capture LESSON=ftp     # or: bash scripts/capture.sh ftp
//! tshark -X lua_script:scripts/wireshark/socklab.lua -r target/capture/ftp.pcapng -Y socklab
//! ```
//!
//! Capturing needs `tshark` (`scripts/setup.sh` installs it) and root or the
//! `wireshark` group; the tests fail with a message saying so otherwise.
