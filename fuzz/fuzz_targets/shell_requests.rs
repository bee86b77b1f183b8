//! Any byte stream as a shell session after login, read as the server reads it: frame
//! after frame, each object a stdin frame (with its body), a `resize`, or a request
//! (`exec`, `pty`). No panic, no allocation from an unchecked size (a stdin frame over
//! `MAX_CHUNK` is refused before its bytes are read), and a request that parses
//! re-encodes and parses to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use socklab_proto::limits::MAX_CHUNK;
use socklab_proto::msg::{parse_header, read_object};
use socklab_shell::request::{is_stdin_frame, parse_inbound, Inbound, ShellRequest};

/// Frames looked at per input: enough for any mix, bounded like every loop.
const MAX_FRAMES: usize = 64;

fuzz_target!(|data: &[u8]| {
    let mut r = data;
    for _ in 0..MAX_FRAMES {
        let Ok(Some(map)) = read_object(&mut r) else {
            break;
        };
        if is_stdin_frame(&map) {
            match parse_inbound(map, &mut r) {
                Ok(Inbound::Stdin(bytes)) => assert!(bytes.len() <= MAX_CHUNK),
                Ok(other) => panic!("a stdin frame parsed as {other:?}"),
                // The stream is out of step after a bad stdin frame: the server hangs up.
                Err(_) => break,
            }
            continue;
        }
        if let Ok(req) = parse_header::<ShellRequest>(map.clone()) {
            let text = serde_json::to_string(&req).expect("a request serialises");
            let again: ShellRequest = serde_json::from_str(&text).expect("and parses again");
            assert_eq!(again, req, "{text}");
        }
        // The same object read while a command runs: only `resize` is one.
        match parse_inbound(map, &mut &[][..]) {
            Ok(Inbound::Resize { .. }) | Err(_) => {}
            Ok(Inbound::Stdin(_)) => panic!("an object without `stream` read as stdin"),
        }
    }
});
