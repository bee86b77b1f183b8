//! Any text as a users file: parsed or refused with a line number, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use socklab_auth::Users;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(reason) = Users::parse(text) {
        assert!(reason.starts_with("line "), "{reason}");
    }
});
