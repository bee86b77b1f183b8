//! Any bytes as the ftp server's replies, parsed as each reply type ftp-client reads:
//! listings, get and put replies, trailers. Typed errors only, never a panic; every
//! listed name that passes validation is a single safe component.
#![no_main]
use libfuzzer_sys::fuzz_target;
use socklab_ftp::wire::{GetReply, Listing, PutDone, PutReady, Trailer};
use socklab_proto::frame::write_frame;
use socklab_proto::msg::{read_header, read_reply};
use socklab_proto::names::validate_name;

fuzz_target!(|payload: &[u8]| {
    let mut wire = Vec::new();
    if write_frame(&mut wire, payload, usize::MAX).is_err() {
        return;
    }
    if let Ok(listing) = read_reply::<_, Listing>(&mut wire.as_slice()) {
        for f in listing.files {
            if validate_name(&f.name).is_ok() {
                assert_eq!(std::path::Path::new(&f.name).components().count(), 1);
            }
        }
    }
    let _ = read_reply::<_, GetReply>(&mut wire.as_slice());
    let _ = read_reply::<_, PutReady>(&mut wire.as_slice());
    let _ = read_reply::<_, PutDone>(&mut wire.as_slice());
    let _ = read_header::<_, Trailer>(&mut wire.as_slice());
});
