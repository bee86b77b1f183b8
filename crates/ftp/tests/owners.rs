//! Partial uploads belong to the user who started them, and a resume checks the
//! prefix before it moves a byte more.

mod common;

use common::*;
use socklab_ftp::wire::PutReady;
use socklab_proto::msg::{read_reply, write_header, Empty};
use socklab_proto::{Error, ErrorCode};
use socklab_testkit::{random_bytes, Cost, Server};
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

const BOB_PASSWORD: &str = "bob's own password";

/// A fixture whose users file holds alice and bob.
fn two_users() -> Fixture {
    let fx = Fixture::new();
    socklab_testkit::write_users(
        &fx.files.users(),
        &[(USER, password()), ("bob", BOB_PASSWORD)],
        Cost::Cheap,
    );
    fx
}

fn login(server: &Server, user: &str, pass: &str) -> TcpStream {
    let mut s = raw_anonymous(server);
    write_header(
        &mut s,
        &serde_json::json!({"op": "login", "user": user, "password": pass}),
    )
    .unwrap();
    let _: Empty = read_reply(&mut s).unwrap();
    s
}

/// Sends a put and reads the ready reply. The server hangs up after refusing a put
/// (a body might follow): a `busy` one is asked again on a new connection, as
/// `user`.
fn put_request(
    server: &Server,
    s: &mut TcpStream,
    (user, pass): (&str, &str),
    path: &str,
    size: usize,
    resume: bool,
) -> Result<PutReady, Error> {
    let put = serde_json::json!({
        "op": "put", "name": path, "size": size, "resume": resume, "overwrite": true
    });
    // A path whose last upload was cut stays claimed until the server notices.
    for _ in 0..200 {
        write_header(s, &put).unwrap();
        match read_reply(s) {
            Err(Error::Remote {
                code: ErrorCode::Busy,
                ..
            }) => {
                std::thread::sleep(Duration::from_millis(50));
                *s = login(server, user, pass);
            }
            other => return other,
        }
    }
    panic!("{path} stayed busy for 10 s")
}

#[test]
fn bob_cannot_see_continue_or_destroy_alices_partial_upload() {
    let fx = two_users();
    let server = fx.server(&[]);
    let data = random_bytes(100_000);
    // alice sends 40,000 bytes and is cut off.
    let mut alice = login(&server, USER, password());
    let ready = put_request(
        &server,
        &mut alice,
        (USER, password()),
        "draft.txt",
        data.len(),
        false,
    )
    .unwrap();
    assert_eq!(ready.offset, 0);
    alice.write_all(&data[..40_000]).unwrap();
    alice.shutdown(Shutdown::Both).unwrap();
    assert!(
        server.wait_for_log("kept partial upload", Duration::from_secs(20)),
        "{}",
        server.stderr()
    );
    // bob's resume of the same path starts from nothing: he learns no offset, and
    // his bytes never join hers.
    let mut bob = login(&server, "bob", BOB_PASSWORD);
    let ready = put_request(
        &server,
        &mut bob,
        ("bob", BOB_PASSWORD),
        "draft.txt",
        data.len(),
        true,
    )
    .unwrap();
    assert_eq!(
        ready,
        PutReady {
            offset: 0,
            md5: None
        },
        "{}",
        server.stderr()
    );
    bob.write_all(&[b'b'; 10]).unwrap();
    bob.shutdown(Shutdown::Both).unwrap();
    drop(bob);
    // bob's plain put of the same path stores his file and leaves her partial alone.
    let mut bob = login(&server, "bob", BOB_PASSWORD);
    let mut bobs = vec![b'b'; 1000];
    let ready = put_request(
        &server,
        &mut bob,
        ("bob", BOB_PASSWORD),
        "draft.txt",
        bobs.len(),
        false,
    )
    .unwrap();
    assert_eq!(ready.offset, 0);
    bob.write_all(&bobs).unwrap();
    let md5 = md5_of(&bobs);
    write_header(&mut bob, &serde_json::json!({"md5": md5})).unwrap();
    let _: serde_json::Value = read_reply(&mut bob).unwrap();
    bobs.clear();
    // alice resumes at 40,000, told the md5 of what the server holds.
    let mut alice = login(&server, USER, password());
    let ready = put_request(
        &server,
        &mut alice,
        (USER, password()),
        "draft.txt",
        data.len(),
        true,
    )
    .unwrap();
    assert_eq!(ready.offset, 40_000, "{}", server.stderr());
    assert_eq!(ready.md5.as_deref(), Some(md5_of(&data[..40_000]).as_str()));
    alice.write_all(&data[40_000..]).unwrap();
    write_header(&mut alice, &serde_json::json!({"md5": md5_of(&data)})).unwrap();
    let _: serde_json::Value = read_reply(&mut alice).unwrap();
    assert!(std::fs::read(fx.root().join("draft.txt")).unwrap() == data);
}

#[test]
fn a_second_upload_of_a_path_in_flight_is_busy_and_the_first_completes() {
    let fx = two_users();
    let server = fx.server(&[]);
    let data = random_bytes(50_000);
    let mut alice = login(&server, USER, password());
    put_request(
        &server,
        &mut alice,
        (USER, password()),
        "same.txt",
        data.len(),
        false,
    )
    .unwrap();
    alice.write_all(&data[..1000]).unwrap();
    let mut bob = login(&server, "bob", BOB_PASSWORD);
    write_header(
        &mut bob,
        &serde_json::json!({"op": "put", "name": "same.txt", "size": 10}),
    )
    .unwrap();
    match read_reply::<_, PutReady>(&mut bob) {
        Err(Error::Remote {
            code: ErrorCode::Busy,
            message,
        }) => assert!(message.contains("in progress"), "{message}"),
        other => panic!("{other:?}"),
    }
    alice.write_all(&data[1000..]).unwrap();
    write_header(&mut alice, &serde_json::json!({"md5": md5_of(&data)})).unwrap();
    let _: serde_json::Value = read_reply(&mut alice).unwrap();
    assert!(std::fs::read(fx.root().join("same.txt")).unwrap() == data);
}
