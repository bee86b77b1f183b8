//! Any bytes as a reply header, as a client reads it: `{"ok":true}` parses, a failure
//! becomes a typed remote error, anything else a typed error; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use socklab_proto::frame::write_frame;
use socklab_proto::msg::{read_reply, Empty};

fuzz_target!(|payload: &[u8]| {
    let mut wire = Vec::new();
    if write_frame(&mut wire, payload, usize::MAX).is_err() {
        return;
    }
    let _ = read_reply::<_, Empty>(&mut wire.as_slice());
    let _ = read_reply::<_, serde_json::Map<String, serde_json::Value>>(&mut wire.as_slice());
});
