//! Any bytes as the payload of one header frame, parsed as a request: a typed error
//! or a request that round-trips through JSON, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use socklab_proto::frame::write_frame;
use socklab_proto::msg::{read_header, write_header};
use socklab_proto::Request;

fuzz_target!(|payload: &[u8]| {
    let mut wire = Vec::new();
    if write_frame(&mut wire, payload, usize::MAX).is_err() {
        return;
    }
    if let Ok(Some(req)) = read_header::<_, Request>(&mut wire.as_slice()) {
        let mut again = Vec::new();
        write_header(&mut again, &req).expect("a parsed request encodes");
        let back =
            read_header::<_, Request>(&mut again.as_slice()).expect("re-encoded request parses");
        assert_eq!(back, Some(req));
    }
});
