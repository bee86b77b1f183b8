//! Any bytes as what a shell server sends back after `exec`: output chunks and the
//! final status, as shell-client reads them. Typed errors only, never a panic, and
//! never a chunk larger than the protocol allows.
#![no_main]
use libfuzzer_sys::fuzz_target;
use socklab_shell::wire::{read_incoming, Incoming};

fuzz_target!(|data: &[u8]| {
    let mut r = data;
    for _ in 0..64 {
        match read_incoming(&mut r) {
            Ok(Incoming::Chunk(_, bytes)) => {
                assert!(bytes.len() <= socklab_proto::limits::MAX_CHUNK)
            }
            Ok(Incoming::Done(status)) => {
                let _ = status.local_code();
                let _ = status.describe();
            }
            Err(_) => break,
        }
    }
});
