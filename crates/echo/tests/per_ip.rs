//! `--max-conns-per-ip` in both echo servers (threaded and `--event-loop`): the real
//! binary, real connections on loopback, some from a second loopback address
//! (127.0.0.2) to show the cap counts one address, not the whole server.

use socklab_testkit::{start_echo, wait_until, Server};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A connection from `source` (port 0) to the server, with a read timeout.
fn connect_from(source: &str, server: &Server) -> TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let from: SocketAddr = format!("{source}:0").parse().unwrap();
    sock.bind(&from.into())
        .unwrap_or_else(|e| panic!("binding {from}: {e}"));
    let to: SocketAddr = server.connect_addr().parse().unwrap();
    sock.connect(&to.into())
        .unwrap_or_else(|e| panic!("connecting {from} to {to}: {e}"));
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends a line and reads it back; the error says what the server did instead.
fn echo_line(s: &mut TcpStream, line: &[u8]) -> Result<(), String> {
    s.write_all(line).map_err(|e| format!("write: {e}"))?;
    let mut got = vec![0u8; line.len()];
    s.read_exact(&mut got).map_err(|e| format!("read: {e}"))?;
    if got != line {
        return Err(format!("echoed {got:?} for {line:?}"));
    }
    Ok(())
}

/// True once the server closed `s` (EOF or reset) without echoing.
fn was_closed(s: &mut TcpStream) -> bool {
    let _ = s.write_all(b"ping\n");
    let mut buf = [0u8; 16];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => panic!(
            "the connection over the cap was served: got {:?}",
            &buf[..n]
        ),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Err(e) => panic!("the connection over the cap was neither served nor closed: {e}"),
    }
}

fn third_connection_from_one_address_is_closed_and_the_first_two_keep_working(mode: &[&str]) {
    let server = start_echo(&[mode, &["--max-conns-per-ip", "2"]].concat());
    let mut first = connect_from("127.0.0.1", &server);
    let mut second = connect_from("127.0.0.1", &server);
    // A round trip each: both are being served (and counted) before the third comes.
    echo_line(&mut first, b"one\n").unwrap();
    echo_line(&mut second, b"two\n").unwrap();

    let mut third = connect_from("127.0.0.1", &server);
    assert!(was_closed(&mut third));
    assert!(
        wait_until(Duration::from_secs(5), || server
            .stderr()
            .contains("--max-conns-per-ip 2")),
        "the refusal is not logged with its reason; stderr:\n{}",
        server.stderr()
    );
    echo_line(&mut first, b"still one\n").expect("the first connection keeps working");
    echo_line(&mut second, b"still two\n").expect("the second connection keeps working");

    // The cap is per address: another address still gets in.
    let mut other = connect_from("127.0.0.2", &server);
    echo_line(&mut other, b"other address\n").expect("127.0.0.2 is served");

    // A slot freed by a close is free again.
    drop(first);
    let served_again = wait_until(Duration::from_secs(5), || {
        let mut again = connect_from("127.0.0.1", &server);
        echo_line(&mut again, b"again\n").is_ok()
    });
    assert!(
        served_again,
        "after a close, 127.0.0.1 is still refused; stderr:\n{}",
        server.stderr()
    );
}

#[test]
fn threaded_third_connection_from_one_address_is_closed_and_the_first_two_keep_working() {
    third_connection_from_one_address_is_closed_and_the_first_two_keep_working(&[]);
}

#[test]
fn event_loop_third_connection_from_one_address_is_closed_and_the_first_two_keep_working() {
    third_connection_from_one_address_is_closed_and_the_first_two_keep_working(&["--event-loop"]);
}
