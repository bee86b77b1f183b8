//! Any byte stream, decoded frame after frame: never a panic, never an allocation
//! bigger than MAX_HEADER_LEN, and every frame within the limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use socklab_proto::frame::read_frame;
use socklab_proto::limits::MAX_HEADER_LEN;

fuzz_target!(|data: &[u8]| {
    let mut r = data;
    // Each successful frame consumes at least 4 bytes, so this ends.
    while let Ok(Some(frame)) = read_frame(&mut r, MAX_HEADER_LEN) {
        assert!(frame.len() <= MAX_HEADER_LEN);
    }
});
