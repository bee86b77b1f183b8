//! Interrupted, corrupted and resumed transfers: nothing ever appears under a final
//! name unless it is complete and its md5 matches.

mod common;

use common::*;
use socklab_ftp::wire::{GetReply, PutDone, PutReady, Trailer};
use socklab_proto::msg::{read_reply, write_header};
use socklab_proto::{Error, ErrorCode, Request};
use socklab_testkit::{random_bytes, wait_until, Server};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

const SIZE: usize = 300_000;

/// Starts a raw put of `data` as `name`, sends `cut` body bytes, and hangs up.
fn cut_put(server: &Server, name: &str, data: &[u8], cut: usize) {
    let mut s = raw(server);
    let req = Request::Put {
        name: name.into(),
        size: data.len() as u64,
        resume: false,
        overwrite: false,
    };
    write_header(&mut s, &req).unwrap();
    let ready: PutReady = read_reply(&mut s).unwrap();
    assert_eq!(ready.offset, 0);
    s.write_all(&data[..cut]).unwrap();
    s.shutdown(Shutdown::Both).unwrap();
}

#[test]
fn put_cut_at_any_point_leaves_no_file_and_resume_completes_it() {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    let data = random_bytes(SIZE);
    write(&fx.local().join("src.bin"), &data);
    for cut in [0, 1, SIZE / 2, SIZE - 1] {
        let name = format!("cut-{cut}.bin");
        cut_put(&server, &name, &data, cut);
        let needle = format!("kept partial upload of \"{name}\" ({cut} of {SIZE} bytes)");
        assert!(
            server.wait_for_log(&needle, Duration::from_secs(20)),
            "no {needle:?}:\n{}",
            server.stderr()
        );
        assert!(
            !fx.root().join(&name).exists(),
            "cut at {cut}: a file exists under the final name"
        );

        let out = fx.client(&server, &["put", "src.bin", "--as", &name, "--resume"]);
        assert_ok(&out, &server);
        if cut > 0 {
            let said = format!("resuming upload of \"{name}\" at byte {cut} of {SIZE}");
            assert!(
                stderr(&out).contains(&said),
                "cut at {cut}:\n{}",
                describe(&out, &server)
            );
        }
        assert!(
            std::fs::read(fx.root().join(&name)).unwrap() == data,
            "cut at {cut}: resumed file differs"
        );
    }
    assert!(fx.partials().is_empty(), "{:?}", fx.partials());
}

#[test]
fn put_without_resume_starts_over_and_discards_the_partial() {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    let data = random_bytes(SIZE);
    write(&fx.local().join("f"), &data);
    cut_put(&server, "f", &data, 1000);
    assert!(
        server.wait_for_log("kept partial upload", Duration::from_secs(20)),
        "{}",
        server.stderr()
    );
    let out = fx.client(&server, &["put", "f"]);
    assert_ok(&out, &server);
    assert!(!stderr(&out).contains("resuming"));
    assert!(std::fs::read(fx.root().join("f")).unwrap() == data);
    assert!(fx.partials().is_empty(), "{:?}", fx.partials());
}

#[test]
fn flipped_byte_is_checksum_mismatch_and_leaves_no_file() {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    let data = random_bytes(SIZE);
    let mut bad = data.clone();
    bad[SIZE / 3] ^= 0x01;
    let mut s = raw(&server);
    let req = Request::Put {
        name: "x.bin".into(),
        size: SIZE as u64,
        resume: false,
        overwrite: false,
    };
    write_header(&mut s, &req).unwrap();
    let _: PutReady = read_reply(&mut s).unwrap();
    s.write_all(&bad).unwrap();
    write_header(&mut s, &Trailer { md5: md5_of(&data) }).unwrap();
    match read_reply::<_, PutDone>(&mut s) {
        Err(Error::Remote {
            code: ErrorCode::ChecksumMismatch,
            message,
        }) => {
            assert!(
                message.contains(&md5_of(&data)) && message.contains(&md5_of(&bad)),
                "{message}"
            )
        }
        other => panic!(
            "expected checksum_mismatch, got {other:?}\n{}",
            server.stderr()
        ),
    }
    assert!(fx.root_names().is_empty(), "{:?}", fx.root_names());
    assert!(
        fx.partials().is_empty(),
        "a corrupt upload is not kept: {:?}",
        fx.partials()
    );
    // The session goes on: the same connection can upload correctly.
    write_header(&mut s, &req).unwrap();
    let _: PutReady = read_reply(&mut s).unwrap();
    s.write_all(&data).unwrap();
    write_header(&mut s, &Trailer { md5: md5_of(&data) }).unwrap();
    let done: PutDone = read_reply(&mut s).unwrap();
    assert_eq!(done.md5, md5_of(&data));
}

#[test]
fn body_longer_than_announced_is_refused_and_leaves_no_file() {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    let mut s = raw(&server);
    let req = Request::Put {
        name: "long".into(),
        size: 10,
        resume: false,
        overwrite: false,
    };
    write_header(&mut s, &req).unwrap();
    let _: PutReady = read_reply(&mut s).unwrap();
    s.write_all(&[b'A'; 5000]).unwrap();
    match read_reply::<_, PutDone>(&mut s) {
        Err(Error::Remote {
            code: ErrorCode::BadRequest,
            ..
        }) => {}
        other => panic!("expected bad_request, got {other:?}\n{}", server.stderr()),
    }
    assert!(fx.root_names().is_empty());
    assert!(fx.partials().is_empty(), "{:?}", fx.partials());
}

#[test]
fn stalled_upload_times_out_and_is_kept_for_resume() {
    let fx = Fixture::new();
    let server = fx.server(&["--stall-timeout", "1"]);
    let data = random_bytes(SIZE);
    write(&fx.local().join("slow"), &data);
    let mut s = raw(&server);
    let req = Request::Put {
        name: "slow".into(),
        size: SIZE as u64,
        resume: false,
        overwrite: false,
    };
    write_header(&mut s, &req).unwrap();
    let _: PutReady = read_reply(&mut s).unwrap();
    s.write_all(&data[..1000]).unwrap();
    // Send nothing more: the server gives up after its stall timeout and says why.
    match read_reply::<_, PutDone>(&mut s) {
        Err(Error::Remote {
            code: ErrorCode::Timeout,
            ..
        }) => {}
        other => panic!("expected timeout, got {other:?}\n{}", server.stderr()),
    }
    assert!(!fx.root().join("slow").exists());
    let out = fx.client(&server, &["put", "slow", "--resume"]);
    assert_ok(&out, &server);
    assert!(
        stderr(&out).contains("at byte 1000"),
        "{}",
        describe(&out, &server)
    );
    assert!(std::fs::read(fx.root().join("slow")).unwrap() == data);
}

#[test]
fn killed_server_leaves_no_file_and_a_restarted_one_resumes() {
    let fx = Fixture::new();
    let data = random_bytes(SIZE);
    write(&fx.local().join("k"), &data);
    {
        let server = fx.server(&[]);
        let mut s = raw(&server);
        let req = Request::Put {
            name: "k".into(),
            size: SIZE as u64,
            resume: false,
            overwrite: false,
        };
        write_header(&mut s, &req).unwrap();
        let _: PutReady = read_reply(&mut s).unwrap();
        s.write_all(&data[..SIZE / 2]).unwrap();
        s.flush().unwrap();
        let part_len = || {
            fx.partials()
                .iter()
                .filter(|n| n.ends_with(".part"))
                .filter_map(|n| std::fs::metadata(fx.root().join(".socklab-partial").join(n)).ok())
                .map(|m| m.len())
                .max()
                .unwrap_or(0)
        };
        assert!(
            wait_until(Duration::from_secs(20), || part_len() == (SIZE / 2) as u64),
            "{}",
            server.stderr()
        );
        server.signal("KILL");
    }
    assert!(!fx.root().join("k").exists());
    // A stray temp file from the dead run is cleaned at start; the resumable one stays.
    write(
        &fx.root().join(".socklab-partial").join("stray.tmp"),
        b"junk",
    );
    let server = fx.server(&[]);
    assert!(
        !fx.partials().contains(&"stray.tmp".to_string()),
        "{:?}",
        fx.partials()
    );
    let out = fx.client(&server, &["put", "k", "--resume"]);
    assert_ok(&out, &server);
    assert!(
        stderr(&out).contains(&format!("at byte {}", SIZE / 2)),
        "{}",
        describe(&out, &server)
    );
    assert!(std::fs::read(fx.root().join("k")).unwrap() == data);
}

#[test]
fn partials_older_than_the_ttl_are_removed_at_start() {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    let data = random_bytes(SIZE);
    cut_put(&server, "old", &data, 500);
    assert!(
        server.wait_for_log("kept partial upload", Duration::from_secs(20)),
        "{}",
        server.stderr()
    );
    drop(server);
    assert_eq!(fx.partials().len(), 2, "{:?}", fx.partials());
    std::thread::sleep(Duration::from_millis(1100));
    let server = fx.server(&["--partial-ttl", "1"]);
    assert!(
        fx.partials().is_empty(),
        "{:?}\n{}",
        fx.partials(),
        server.stderr()
    );
}

#[test]
fn get_cut_halfway_then_resumed_is_byte_exact() {
    let fx = Fixture::new();
    let data = random_bytes(SIZE);
    write(&fx.root().join("g.bin"), &data);
    let server = fx.server(&[]);
    // A download cut halfway: the client side's partial file holds what arrived.
    let mut s = raw(&server);
    write_header(
        &mut s,
        &Request::Get {
            name: "g.bin".into(),
            offset: 0,
        },
    )
    .unwrap();
    let reply: GetReply = read_reply(&mut s).unwrap();
    assert_eq!(reply.size, SIZE as u64);
    let mut half = vec![0u8; SIZE / 2];
    s.read_exact(&mut half).unwrap();
    drop(s);
    write(&fx.local().join("g.bin.socklab-part"), &half);

    let out = fx.client(&server, &["get", "g.bin", "--resume"]);
    assert_ok(&out, &server);
    assert!(
        stderr(&out).contains(&format!("at byte {}", SIZE / 2)),
        "{}",
        describe(&out, &server)
    );
    // The server may log the transfer a moment after the client has its reply.
    assert!(
        server.wait_for_log(&format!("from {}", SIZE / 2), Duration::from_secs(5)),
        "{}",
        server.stderr()
    );
    assert!(std::fs::read(fx.local().join("g.bin")).unwrap() == data);
    assert!(!fx.local().join("g.bin.socklab-part").exists());
}

#[test]
fn get_resume_from_a_corrupt_partial_is_checksum_mismatch_and_no_file() {
    let fx = Fixture::new();
    let data = random_bytes(SIZE);
    write(&fx.root().join("g.bin"), &data);
    let server = fx.server(&[]);
    let mut wrong = data[..SIZE / 2].to_vec();
    wrong[10] ^= 0xff;
    write(&fx.local().join("g.bin.socklab-part"), &wrong);
    let out = fx.client(&server, &["get", "g.bin", "--resume"]);
    assert_fails_with(&out, &server, "checksum_mismatch");
    assert!(!fx.local().join("g.bin").exists());
    assert!(!fx.local().join("g.bin.socklab-part").exists());
    // Without the bad partial, a plain get works.
    let out = fx.client(&server, &["get", "g.bin"]);
    assert_ok(&out, &server);
    assert!(std::fs::read(fx.local().join("g.bin")).unwrap() == data);
}

#[test]
fn get_past_the_end_is_bad_request() {
    let fx = Fixture::new();
    write(&fx.root().join("s"), b"short");
    let server = fx.server(&[]);
    let mut s = raw(&server);
    write_header(
        &mut s,
        &Request::Get {
            name: "s".into(),
            offset: 6,
        },
    )
    .unwrap();
    match read_reply::<_, GetReply>(&mut s) {
        Err(Error::Remote {
            code: ErrorCode::BadRequest,
            message,
        }) => assert!(message.contains("past the end"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn get_without_resume_keeps_an_existing_partial_and_says_how_to_resume() {
    let fx = Fixture::new();
    let data = random_bytes(SIZE);
    write(&fx.root().join("g.bin"), &data);
    let server = fx.server(&[]);
    let part = fx.local().join("g.bin.socklab-part");
    write(&part, &data[..SIZE / 3]);
    let out = fx.client(&server, &["get", "g.bin"]);
    assert_fails_with(&out, &server, "exists");
    assert!(
        stderr(&out).contains("--resume"),
        "{}",
        describe(&out, &server)
    );
    assert!(
        std::fs::read(&part).unwrap() == data[..SIZE / 3],
        "the partial was changed: {}",
        describe(&out, &server)
    );
    assert!(!fx.local().join("g.bin").exists());
    // A name the server does not have is reported as such, partial or not.
    write(&fx.local().join("nope.socklab-part"), b"x");
    let out = fx.client(&server, &["get", "nope"]);
    assert_fails_with(&out, &server, "not_found");
    let out = fx.client(&server, &["get", "g.bin", "--resume"]);
    assert_ok(&out, &server);
    assert!(std::fs::read(fx.local().join("g.bin")).unwrap() == data);
}

#[test]
fn download_the_client_stops_reading_times_out_and_the_server_serves_others() {
    let fx = Fixture::new();
    // Far more than the socket buffers hold, so the server's sendfile must block.
    let big = random_bytes(32 << 20);
    write(&fx.root().join("big"), &big);
    write(&fx.root().join("small"), b"still here");
    let server = fx.server(&["--stall-timeout", "1"]);
    let mut s = raw(&server);
    write_header(
        &mut s,
        &Request::Get {
            name: "big".into(),
            offset: 0,
        },
    )
    .unwrap();
    let reply: GetReply = read_reply(&mut s).unwrap();
    assert_eq!(reply.size, big.len() as u64);
    // Read nothing more: the server's send times out after --stall-timeout.
    assert!(
        server.wait_for_log("timed out sending the file", Duration::from_secs(20)),
        "no timeout in the server log:\n{}",
        server.stderr()
    );
    let out = fx.client(&server, &["get", "small"]);
    assert_ok(&out, &server);
    assert_eq!(
        std::fs::read(fx.local().join("small")).unwrap(),
        b"still here"
    );
    drop(s);
}
