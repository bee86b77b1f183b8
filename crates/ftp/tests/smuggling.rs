//! A refused put never leaves the stream out of step (issue 18): a body that follows
//! a refused put is thrown away (eager put) or the server hangs up (a put that waits
//! for `ready`), and a request framed inside it is never run. Anonymous sessions get
//! their own, shorter idle timeout.

mod common;

use common::*;
use serde_json::json;
use socklab_ftp::wire::Listing;
use socklab_proto::msg::{read_header, read_reply, write_header, Empty};
use socklab_proto::{Error, ErrorCode};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A framed request, as bytes: what a smuggler hides in a body.
fn framed(request: &serde_json::Value) -> Vec<u8> {
    let mut v = Vec::new();
    write_header(&mut v, request).unwrap();
    v
}

/// Sends a put of `body` (request, body, trailer, all at once, as a pipelining client
/// does) and returns the reply.
fn pipelined_put(s: &mut TcpStream, path: &str, body: &[u8], eager: bool) -> Result<Empty, Error> {
    let mut msg = framed(&json!({"op": "put", "path": path, "size": body.len(), "eager": eager}));
    msg.extend_from_slice(body);
    msg.extend(framed(&json!({"md5": md5_of(body)})));
    s.write_all(&msg).unwrap();
    read_reply(s)
}

/// After the reply already read, nothing more comes: the connection ends.
fn assert_closed_without_another_reply(s: &mut TcpStream, server: &socklab_testkit::Server) {
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(
        rest.is_empty(),
        "the server answered something after the refusal ({} bytes: {:?}): a smuggled \
         request ran\n{}",
        rest.len(),
        String::from_utf8_lossy(&rest),
        server.stderr()
    );
}

/// The reply is a refusal with `code`; `context` says which case failed.
fn assert_refused<T: std::fmt::Debug>(reply: &Result<T, Error>, code: ErrorCode, context: &str) {
    assert!(
        matches!(reply, Err(Error::Remote { code: c, .. }) if *c == code),
        "{context}: expected a {code:?} refusal, got {reply:?}"
    );
}

#[test]
fn a_delete_hidden_in_a_refused_puts_body_is_never_run() {
    let fx = Fixture::new();
    std::fs::write(fx.root().join("exists.txt"), b"here first").unwrap();
    std::fs::write(fx.root().join("keep.txt"), b"precious").unwrap();
    let server = fx.server(&[]);
    let smuggled = framed(&json!({"op": "delete", "path": "keep.txt"}));

    // A put that waits for `ready`, refused (`exists`): the server hangs up.
    let mut s = raw(&server);
    let reply = pipelined_put(&mut s, "exists.txt", &smuggled, false);
    assert_refused(&reply, ErrorCode::Exists, "a put waiting for ready");
    assert_closed_without_another_reply(&mut s, &server);
    assert!(
        fx.root().join("keep.txt").exists(),
        "the smuggled delete ran"
    );

    // An eager put, refused the same way: the body is thrown away, and the session
    // goes on in step.
    let mut s = raw(&server);
    let reply = pipelined_put(&mut s, "exists.txt", &smuggled, true);
    assert_refused(&reply, ErrorCode::Exists, "an eager put");
    write_header(&mut s, &json!({"op": "list"})).unwrap();
    let listing: Listing = read_reply(&mut s)
        .unwrap_or_else(|e| panic!("the next request after an eager refusal: {e}"));
    let names: Vec<_> = listing.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["exists.txt", "keep.txt"], "{}", server.stderr());
    assert_eq!(
        std::fs::read(fx.root().join("keep.txt")).unwrap(),
        b"precious"
    );
}

#[test]
fn a_list_hidden_in_a_put_refused_by_anonymous_and_read_only_servers_is_never_run() {
    let fx = Fixture::new();
    std::fs::write(fx.root().join("a.txt"), b"a").unwrap();
    let smuggled = framed(&json!({"op": "list"}));
    for (flags, login) in [(&["--anonymous"][..], false), (&["--read-only"][..], true)] {
        let server = fx.server(flags);
        let connect = if login { raw } else { raw_anonymous };
        let mut s = connect(&server);
        let reply = pipelined_put(&mut s, "x.txt", &smuggled, false);
        assert_refused(&reply, ErrorCode::Forbidden, &format!("{flags:?}"));
        assert_closed_without_another_reply(&mut s, &server);

        // Eager: one refusal, then exactly one reply to the next real request.
        let mut s = connect(&server);
        let reply = pipelined_put(&mut s, "x.txt", &smuggled, true);
        assert_refused(&reply, ErrorCode::Forbidden, &format!("{flags:?} eager"));
        write_header(&mut s, &json!({"op": "stat", "path": "a.txt"})).unwrap();
        let stat: serde_json::Value = read_header(&mut s).unwrap().unwrap();
        assert_eq!(stat["name"], "a.txt", "{flags:?}: the reply was {stat}");
        assert!(!fx.root().join("x.txt").exists());
    }
}

#[test]
fn an_eager_put_is_stored_with_one_reply_and_a_bad_one_is_refused() {
    let fx = Fixture::new();
    let server = fx.server(&[]);
    let mut s = raw(&server);
    let reply: serde_json::Value = {
        let body = b"eager bytes";
        let mut msg =
            framed(&json!({"op": "put", "path": "e.txt", "size": body.len(), "eager": true}));
        msg.extend_from_slice(body);
        msg.extend(framed(&json!({"md5": md5_of(body)})));
        s.write_all(&msg).unwrap();
        read_reply(&mut s).unwrap()
    };
    assert_eq!(reply["md5"], md5_of(b"eager bytes"), "{reply}");
    assert_eq!(
        std::fs::read(fx.root().join("e.txt")).unwrap(),
        b"eager bytes"
    );
    // An eager resume is a contradiction: refused, the body thrown away, in step.
    let mut msg =
        framed(&json!({"op": "put", "path": "r.txt", "size": 3, "eager": true, "resume": true}));
    msg.extend_from_slice(b"abc");
    msg.extend(framed(&json!({"md5": md5_of(b"abc")})));
    s.write_all(&msg).unwrap();
    let refused = read_reply::<_, Empty>(&mut s);
    assert_refused(&refused, ErrorCode::BadRequest, "an eager resume");
    write_header(&mut s, &json!({"op": "list"})).unwrap();
    let listing: Listing = read_reply(&mut s).unwrap();
    assert_eq!(listing.files.len(), 1, "{:?}", listing.files);
}

#[test]
fn an_idle_anonymous_session_is_closed_before_a_logged_in_one() {
    let fx = Fixture::new();
    let server = fx.server(&[
        "--anonymous",
        "--anonymous-idle-timeout",
        "1",
        "--idle-timeout",
        "30",
    ]);
    let mut anon = raw_anonymous(&server);
    let mut user = raw(&server);
    let start = Instant::now();
    let told: Result<Empty, Error> = read_reply(&mut anon);
    let took = start.elapsed();
    assert_refused(&told, ErrorCode::Timeout, "an idle anonymous session");
    assert!(
        took < Duration::from_secs(10),
        "an idle anonymous session lasted {took:?}"
    );
    // The logged-in session, idle as long, is still served.
    write_header(&mut user, &json!({"op": "list"})).unwrap();
    let listing: Result<Listing, Error> = read_reply(&mut user);
    assert!(listing.is_ok(), "{listing:?}\n{}", server.stderr());
}
