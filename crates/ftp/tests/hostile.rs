//! Hostile peers against ftp-server: every malformed header before and after login, a
//! login flood, and connections that send nothing or a byte at a time. After each, a
//! well-behaved client is served correctly.

mod common;

use common::*;
use socklab_proto::msg::{read_object, write_header};
use socklab_proto::Request;
use socklab_testkit::hostile::run_header_battery;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A well-behaved client lists the root and finds the file a test put there.
fn healthy(fx: &Fixture, server: &socklab_testkit::Server) -> Result<(), String> {
    let out = fx.client(server, &["ls"]);
    if out.status.success() && stdout(&out).contains("hello.txt") {
        Ok(())
    } else {
        Err(describe(&out, server))
    }
}

#[test]
fn survives_every_malformed_header_before_and_after_login() {
    let fx = Fixture::new();
    write(&fx.root().join("hello.txt"), b"hi");
    let server = fx.server(&[]);
    let addr = server.connect_addr();
    run_header_battery(&addr, None, || healthy(&fx, &server), || server.stderr());
    run_header_battery(
        &addr,
        Some((USER, password())),
        || healthy(&fx, &server),
        || server.stderr(),
    );
}

#[test]
fn login_flood_is_cut_after_the_third_failure_and_the_fourth_never_answered() {
    let fx = Fixture::new();
    write(&fx.root().join("hello.txt"), b"hi");
    let server = fx.server(&[]);
    let mut s = raw_anonymous(&server);
    // Four wrong logins in one write: the server answers three, then closes.
    let mut flood = Vec::new();
    for i in 0..4 {
        write_header(
            &mut flood,
            &Request::Login {
                user: USER.into(),
                password: format!("guess {i}"),
            },
        )
        .unwrap();
    }
    s.write_all(&flood).unwrap();
    let mut codes = Vec::new();
    while let Ok(Some(reply)) = read_object(&mut s) {
        codes.push(
            reply
                .get("code")
                .and_then(|c| c.as_str())
                .unwrap_or("?")
                .to_owned(),
        );
    }
    assert_eq!(
        codes,
        ["auth_failed"; 3],
        "server log:\n{}",
        server.stderr()
    );
    let failures = server.stderr().matches("failed login").count();
    assert_eq!(
        failures,
        3,
        "the fourth try was checked:\n{}",
        server.stderr()
    );
    healthy(&fx, &server).unwrap();
}

#[test]
fn silent_and_dribbling_connections_are_closed_at_the_login_deadline() {
    let fx = Fixture::new();
    write(&fx.root().join("hello.txt"), b"hi");
    let server = fx.server(&["--login-timeout", "2"]);
    let silent = TcpStream::connect(server.connect_addr()).unwrap();
    let dribbler = TcpStream::connect(server.connect_addr()).unwrap();
    let start = Instant::now();
    // The dribbler sends a valid login one byte every 300 ms: each read succeeds, so
    // only a total deadline (not an idle timer) closes it.
    let mut wire = Vec::new();
    write_header(
        &mut wire,
        &Request::Login {
            user: USER.into(),
            password: password().into(),
        },
    )
    .unwrap();
    let writer = {
        let mut d = dribbler.try_clone().unwrap();
        std::thread::spawn(move || {
            for b in wire {
                if d.write_all(&[b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    for (name, mut s) in [("silent", silent), ("dribbling", dribbler)] {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        let took = start.elapsed();
        assert!(
            took < Duration::from_secs(6),
            "{name} connection still open after {took:?}:\n{}",
            server.stderr()
        );
        let text = String::from_utf8_lossy(&rest);
        assert!(
            text.contains("\"timeout\""),
            "{name}: expected a timeout reply, got {text:?}"
        );
    }
    writer.join().unwrap();
    healthy(&fx, &server).unwrap();
}

/// Connects to `port` on 127.0.0.1 from the source address `from` (another loopback
/// address stands for another machine).
fn connect_from(from: &str, port: u16) -> TcpStream {
    let source: std::net::SocketAddr = format!("{from}:0").parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&source.into()).unwrap();
    let dest: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    socket.connect(&dest.into()).unwrap();
    socket.into()
}

#[test]
fn one_address_cannot_take_every_slot_past_max_conns_per_ip() {
    // The slot hog: strangers on an --anonymous server who send a byte now and then
    // held every connection. Two slots per address here: the third connection from
    // the same address is told `busy`, while another address is still served.
    let fx = Fixture::new();
    write(&fx.root().join("hello.txt"), b"hi");
    let server = fx.server(&["--anonymous", "--max-conns", "8", "--max-conns-per-ip", "2"]);
    let port = server.port();
    let mut hogs: Vec<TcpStream> = (0..2).map(|_| connect_from("127.0.0.1", port)).collect();
    for h in &mut hogs {
        h.write_all(&[0]).unwrap(); // the first byte of a length, and no more
    }
    let mut third = connect_from("127.0.0.1", port);
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let reply = socklab_proto::msg::read_reply::<_, socklab_proto::msg::Empty>(&mut third);
    assert!(
        matches!(
            reply,
            Err(socklab_proto::Error::Remote {
                code: socklab_proto::ErrorCode::Busy,
                ..
            })
        ),
        "a third connection from one address was not told busy: {reply:?}\n{}",
        server.stderr()
    );
    let mut other = connect_from("127.0.0.2", port);
    write_header(&mut other, &Request::List).unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let listing = read_object(&mut other).unwrap().expect("a listing");
    assert_eq!(listing["ok"], serde_json::json!(true), "{listing:?}");
    assert!(
        server.wait_for_log("--max-conns-per-ip 2", Duration::from_secs(5)),
        "{}",
        server.stderr()
    );
    drop(hogs);
}
