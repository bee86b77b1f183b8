//! Any bytes as the payload of one header frame, parsed as a request: a typed error
//! or a request that round-trips through JSON, never a panic; and an object that
//! parses is refused once one of its keys is repeated (serde_json alone keeps the last).
#![no_main]
use libfuzzer_sys::fuzz_target;
use socklab_proto::frame::write_frame;
use socklab_proto::msg::{read_header, read_object, write_header};
use socklab_proto::Request;

fn framed(payload: &[u8]) -> Option<Vec<u8>> {
    let mut wire = Vec::new();
    write_frame(&mut wire, payload, usize::MAX).ok()?;
    Some(wire)
}

fuzz_target!(|payload: &[u8]| {
    let Some(wire) = framed(payload) else {
        return;
    };
    if let Ok(Some(req)) = read_header::<_, Request>(&mut wire.as_slice()) {
        let mut again = Vec::new();
        write_header(&mut again, &req).expect("a parsed request encodes");
        let back =
            read_header::<_, Request>(&mut again.as_slice()).expect("re-encoded request parses");
        assert_eq!(back, Some(req));
    }
    // Repeat the first key in front of the object: it must no longer be read.
    let Ok(Some(map)) = read_object(&mut wire.as_slice()) else {
        return;
    };
    let Some((key, value)) = map.iter().next() else {
        return;
    };
    let start = payload.iter().take_while(|b| b.is_ascii_whitespace()).count();
    if payload.get(start) != Some(&b'{') {
        return;
    }
    let mut dup = format!("{{{}:{},", serde_json::json!(key), value).into_bytes();
    dup.extend_from_slice(&payload[start + 1..]);
    if let Some(wire) = framed(&dup) {
        assert!(
            read_object(&mut wire.as_slice()).is_err(),
            "a repeated key {key:?} was accepted"
        );
    }
});
