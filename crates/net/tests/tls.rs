//! The TLS API as shell and ftp will use it: a framed `Connection` over a
//! `TlsStream` on both ends, the framed `tls_required` refusal a plain client gets,
//! and a handshake bounded by the login deadline. Real sockets on loopback.

use socklab_net::tls::{client, ClientOptions, Identity, OnPlain, Service, TlsAcceptor, Trust};
use socklab_net::{Connection, Deadlines};
use socklab_proto::msg::{self, Empty};
use socklab_proto::{Error, Request};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// A shell-like TLS server's acceptor, with its certificate in a temp dir.
fn acceptor(dir: &tempfile::TempDir) -> TlsAcceptor {
    let identity = Identity::load_or_create(&dir.path().join("tls")).unwrap();
    TlsAcceptor::new(&identity, Service::Shell, OnPlain::Framed).unwrap()
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

#[test]
fn a_framed_connection_runs_unchanged_over_tls_on_both_ends() {
    let dir = tempfile::tempdir().unwrap();
    let tls = acceptor(&dir);
    let fingerprint = tls.fingerprint().to_owned();
    let (l, port) = listener();
    let server = thread::spawn(move || {
        let (stream, _) = l.accept().unwrap();
        let login_deadline = Instant::now() + Duration::from_secs(10);
        let session = tls.accept(stream, login_deadline).unwrap();
        assert_eq!(session.alpn(), Some(&b"socklab-shell/1"[..]));
        let mut conn = Connection::new(session, Deadlines::default()).unwrap();
        let request = conn.read_request_by(login_deadline).unwrap().unwrap();
        assert!(matches!(request, Request::Login { ref user, .. } if user == "alice"));
        conn.send_ok(&Empty {}).unwrap();
    });
    let opts = ClientOptions {
        service: Service::Shell,
        trust: Trust::Fingerprint(fingerprint),
        handshake_timeout: Duration::from_secs(10),
    };
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let session = client::connect(stream, "127.0.0.1", port, &opts).unwrap();
    let mut conn = Connection::new(session, Deadlines::default()).unwrap();
    conn.send(&Request::Login {
        user: "alice".into(),
        password: "secret".into(),
    })
    .unwrap();
    conn.read_reply::<Empty>().unwrap();
    server.join().unwrap();
}

#[test]
fn a_plain_framed_client_is_told_tls_required_in_a_frame() {
    let dir = tempfile::tempdir().unwrap();
    let tls = acceptor(&dir);
    let (l, port) = listener();
    let server = thread::spawn(move || {
        let (stream, _) = l.accept().unwrap();
        tls.accept(stream, Instant::now() + Duration::from_secs(10))
            .unwrap_err()
    });
    let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    msg::write_header(
        &mut plain,
        &Request::Login {
            user: "alice".into(),
            password: "in clear".into(),
        },
    )
    .unwrap();
    let reply = msg::read_object(&mut plain).unwrap().unwrap();
    assert_eq!(reply["ok"], false, "{reply:?}");
    assert_eq!(reply["code"], "tls_required", "{reply:?}");
    assert!(
        reply["error"].as_str().unwrap().contains("--tls"),
        "{reply:?}"
    );
    let logged = server.join().unwrap();
    assert!(logged.to_string().contains("tls_required"), "{logged}");
}

#[test]
fn a_handshake_that_stalls_is_cut_at_the_login_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let tls = acceptor(&dir);
    let (l, port) = listener();
    let mut stalled = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // A TLS record header, then nothing.
    stalled.write_all(&[0x16, 0x03, 0x01, 0x01, 0x00]).unwrap();
    let (stream, _) = l.accept().unwrap();
    let start = Instant::now();
    let err = tls
        .accept(stream, start + Duration::from_millis(400))
        .unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn serve_framed_tls_serves_one_session_type_with_or_without_tls() {
    use socklab_net::accept::{serve_framed_tls, FramedTls, ServeOptions};
    let dir = tempfile::tempdir().unwrap();
    let acceptor = acceptor(&dir);
    let fingerprint = acceptor.fingerprint().to_owned();
    for tls in [
        Some(FramedTls {
            acceptor,
            handshake_timeout: Duration::from_secs(10),
        }),
        None,
    ] {
        let with_tls = tls.is_some();
        let (l, port) = listener();
        let opts = ServeOptions::default();
        let stop = opts.shutdown.clone();
        // The listener's accept must wake to see the stop flag.
        socket2::SockRef::from(&l)
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let server = thread::spawn(move || {
            serve_framed_tls(l, &opts, Deadlines::default(), tls, |conn, _peer| {
                while let Some(request) = conn.read_request()? {
                    assert!(matches!(request, Request::Login { .. }));
                    conn.send_ok(&Empty {})?;
                }
                Ok(())
            })
        });
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let login = Request::Login {
            user: "alice".into(),
            password: "secret".into(),
        };
        if with_tls {
            let opts = ClientOptions {
                service: Service::Shell,
                trust: Trust::Fingerprint(fingerprint.clone()),
                handshake_timeout: Duration::from_secs(10),
            };
            let session = client::connect(stream, "127.0.0.1", port, &opts).unwrap();
            let mut conn = Connection::new(session, Deadlines::default()).unwrap();
            conn.send(&login).unwrap();
            conn.read_reply::<Empty>().unwrap();
            // A plain client on the same server is told tls_required.
            let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
            msg::write_header(&mut plain, &login).unwrap();
            let reply = msg::read_object(&mut plain).unwrap().unwrap();
            assert_eq!(reply["code"], "tls_required", "{reply:?}");
        } else {
            let mut conn = Connection::new(stream, Deadlines::default()).unwrap();
            conn.send(&login).unwrap();
            conn.read_reply::<Empty>().unwrap();
        }
        stop.trigger();
        server.join().unwrap().unwrap();
    }
}

#[test]
fn a_tls_read_returns_every_record_that_has_arrived_not_one() {
    // Four full records of data: 16 KiB each, plus a 5-byte header, a content-type
    // byte and a 16-byte tag on the wire.
    const DATA: usize = 4 * 16 * 1024;
    const WIRE: usize = 4 * (16 * 1024 + 22);
    let dir = tempfile::tempdir().unwrap();
    let tls = acceptor(&dir);
    let fingerprint = tls.fingerprint().to_owned();
    let (l, port) = listener();
    let server = thread::spawn(move || {
        let (stream, _) = l.accept().unwrap();
        let mut session = tls
            .accept(stream, Instant::now() + Duration::from_secs(10))
            .unwrap();
        // One byte first, so the client has taken the session tickets off the socket
        // before the data comes; the data once the client says go.
        session.write_all(b"R").unwrap();
        session.flush().unwrap();
        let mut go = [0u8; 1];
        session.read_exact(&mut go).unwrap();
        session.write_all(&vec![7u8; DATA]).unwrap();
        session.flush().unwrap();
        // Stay until the client has read.
        session.read_exact(&mut go).unwrap();
    });
    let opts = ClientOptions {
        service: Service::Shell,
        trust: Trust::Fingerprint(fingerprint),
        handshake_timeout: Duration::from_secs(10),
    };
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut session = client::connect(stream, "127.0.0.1", port, &opts).unwrap();
    session
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut ready = [0u8; 1];
    session.read_exact(&mut ready).unwrap();
    session.write_all(b"g").unwrap();
    session.flush().unwrap();
    // Wait (bounded) until all four records sit in the socket, then read once.
    let mut peeked = vec![0u8; WIRE];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut queued = 0;
    while queued < WIRE && Instant::now() < deadline {
        queued = session.get_ref().peek(&mut peeked).unwrap();
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(queued, WIRE, "the four records never all arrived");
    let mut buf = vec![0u8; DATA];
    let n = session.read(&mut buf).unwrap();
    assert_eq!(
        n, DATA,
        "one read returned {n} of the {DATA} bytes that had arrived"
    );
    assert!(buf.iter().all(|&b| b == 7), "the data differs");
    session.write_all(b"d").unwrap();
    session.flush().unwrap();
    server.join().unwrap();
}
