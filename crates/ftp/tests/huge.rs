//! A file over 4 GiB round-trips: sizes are u64 end to end. Ignored by default
//! because it moves 8 GiB through two debug-built md5s (minutes, not seconds); run
//! it with `cargo test -p socklab-ftp --release --test huge -- --ignored`.

mod common;

use common::*;
use std::io::{Seek, SeekFrom, Write};

#[test]
#[ignore = "moves 8 GiB; run with --release -- --ignored"]
fn file_over_four_gib_round_trips() {
    let fx = Fixture::new();
    let size: u64 = (4 << 30) + 4097;
    // A sparse file: cheap on disk, but every byte is still read, sent and hashed.
    let mut f = std::fs::File::create(fx.local().join("huge")).unwrap();
    f.seek(SeekFrom::Start(size - 5)).unwrap();
    f.write_all(b"tail!").unwrap();
    drop(f);
    let server = fx.server(&[]);
    let out = fx.client(&server, &["put", "huge"]);
    assert_ok(&out, &server);
    assert_eq!(
        std::fs::metadata(fx.root().join("huge")).unwrap().len(),
        size
    );
    let out = fx.client(&server, &["get", "huge", "-o", "back"]);
    assert_ok(&out, &server);
    assert_eq!(
        std::fs::metadata(fx.local().join("back")).unwrap().len(),
        size
    );
}
