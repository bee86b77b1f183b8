//! Online password guessing from many connections of one address (issue 18): the
//! server's real login (`server_login`) on real TCP sockets, one thread per connection
//! as the shell and file servers run it, with the default policy and real argon2id.

use socklab_auth::{server_login, LoginPolicy, Users};
use socklab_net::{Connection, Deadlines};
use socklab_proto::msg::{read_reply, write_header, Empty};
use socklab_proto::{Error, ErrorCode, Request};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";

/// Serves logins on 127.0.0.1 until the test process ends.
fn serve(users: Users, policy: LoginPolicy) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let users = Arc::new(users);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (users, policy) = (Arc::clone(&users), policy.clone());
            std::thread::spawn(move || {
                let peer = stream.peer_addr().unwrap().to_string();
                let mut conn = Connection::new(stream, Deadlines::default()).unwrap();
                let _ = server_login(&mut conn, &peer, &users, &policy);
            });
        }
    });
    addr
}

/// A connection from `local` (a loopback address of our choice) to `server`.
fn connect_from(local: &str, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&local.parse::<SocketAddr>().unwrap().into())?;
    socket.connect(&server.into())?;
    Ok(socket.into())
}

fn try_login(s: &mut TcpStream, password: &str) -> socklab_proto::Result<Empty> {
    write_header(
        s,
        &Request::Login {
            user: "alice".into(),
            password: password.into(),
        },
    )?;
    read_reply::<_, Empty>(s)
}

#[test]
fn a_hundred_connections_from_one_address_get_few_guesses_and_others_still_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users");
    Users::set_password(&path, "alice", PASSWORD).unwrap();
    let server = serve(Users::load(&path).unwrap(), LoginPolicy::default());

    let stop = Arc::new(AtomicBool::new(false));
    let guesses = Arc::new(AtomicUsize::new(0));
    let attackers: Vec<_> = (0..100)
        .map(|i| {
            let (stop, guesses) = (Arc::clone(&stop), Arc::clone(&guesses));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok(mut s) = connect_from("127.0.0.1:0", server) else {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    };
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let mut n = 0;
                    while !stop.load(Ordering::SeqCst) {
                        match try_login(&mut s, &format!("guess {i}.{n}")) {
                            Err(Error::Remote {
                                code: ErrorCode::AuthFailed,
                                ..
                            }) => {
                                guesses.fetch_add(1, Ordering::SeqCst);
                                n += 1;
                            }
                            // Still waiting for its turn: ask again after a moment
                            // would desynchronise the stream, so start afresh.
                            _ => break,
                        }
                    }
                }
            })
        })
        .collect();

    let flood = Duration::from_secs(5);
    let start = Instant::now();
    std::thread::sleep(flood / 2);
    // A real user from another address, in the middle of the flood.
    let t = Instant::now();
    let mut s = connect_from("127.0.0.2:0", server).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let result = try_login(&mut s, PASSWORD);
    let took = t.elapsed();
    std::thread::sleep(flood.saturating_sub(start.elapsed()));
    let secs = start.elapsed().as_secs_f64();
    let guessed = guesses.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    for a in attackers {
        let _ = a.join();
    }
    let per_sec = guessed as f64 / secs;
    eprintln!(
        "100 connections from 127.0.0.1: {guessed} wrong guesses answered in {secs:.1} s \
         ({per_sec:.1}/s); a correct login from 127.0.0.2 took {took:?}"
    );
    assert!(result.is_ok(), "the real user's login failed: {result:?}");
    assert!(
        took < Duration::from_millis(1500),
        "the real user waited {took:?}"
    );
    // One address, one bucket: its burst and then one guess per interval.
    let most = socklab_auth::limits::GUESS_BURST as f64
        + secs / socklab_auth::limits::GUESS_INTERVAL.as_secs_f64()
        + 1.0;
    assert!(
        guessed as f64 <= most,
        "{guessed} guesses in {secs:.1} s ({per_sec:.1}/s) from one address; at most {most:.0} \
         expected"
    );
}
