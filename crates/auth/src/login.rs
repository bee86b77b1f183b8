//! The login exchange, on both ends.
//!
//! ```text
//! -> {"op":"login","user":"alice","password":"..."}
//! <- {"ok":true}   |   {"ok":false,"code":"auth_failed","error":"invalid username or password"}
//! ```
//!
//! - verification is argon2's, whose final comparison is constant-time;
//! - an unknown user is checked against a dummy hash, so it costs the same time as a
//!   wrong password and gets the same reply: timing does not reveal who exists;
//! - a password over [`MAX_PASSWORD_LEN`] bytes is refused without hashing;
//! - each failure is answered after [`LOGIN_FAILURE_DELAY`], the
//!   [`MAX_LOGIN_FAILURES`]th closes the connection, and the whole login must finish
//!   within a total deadline ([`LOGIN_DEADLINE`]);
//! - nothing but login is accepted before login (`auth_required`).
//!
//! Over plain TCP passwords cross the network in clear: use TLS (`--tls`, the default
//! beyond loopback), loopback, or an ssh tunnel. A client never sends its password
//! as its first frame, so a server that requires TLS refuses it before it has
//! (see [`client_login`]).

use crate::limits::{LOGIN_DEADLINE, LOGIN_FAILURE_DELAY, MAX_LOGIN_FAILURES, MAX_PASSWORD_LEN};
use crate::users::Users;
use socklab_net::tls::Encrypted;
use socklab_net::Connection;
use socklab_proto::{msg::Empty, Error, ErrorCode, Request, Result};
use std::time::{Duration, Instant};
use std::{io::Read, io::Write, os::fd::AsFd};

/// How strict the server's login is: the documented limits by default (tests shorten them).
#[derive(Debug, Clone)]
pub struct LoginPolicy {
    /// The whole login must be done within this time from accept.
    pub deadline: Duration,
    /// Failures before the connection is closed.
    pub max_failures: u32,
    /// Wait before answering a failure.
    pub failure_delay: Duration,
    /// Each address's turn to try, before every attempt; clones of the policy share it.
    pub guesses: crate::guesses::Guesses,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            deadline: LOGIN_DEADLINE,
            max_failures: MAX_LOGIN_FAILURES,
            failure_delay: LOGIN_FAILURE_DELAY,
            guesses: Default::default(),
        }
    }
}

/// Runs the server side of login on a fresh connection from `peer` (its address, for
/// the log). Returns the user name once a login succeeds; any error means the caller
/// should close the connection (the peer has already been told why, where it could be).
pub fn server_login<S: Read + Write + AsFd>(
    conn: &mut Connection<S>,
    peer: &str,
    users: &Users,
    policy: &LoginPolicy,
) -> Result<String> {
    let deadline = Instant::now() + policy.deadline;
    let mut failures = 0;
    loop {
        let request = match conn.read_request_by(deadline) {
            Ok(Some(r)) => r,
            Ok(None) => return Err(Error::UnexpectedEof("login")),
            Err(Error::Timeout(_)) => {
                let secs = policy.deadline.as_secs_f64();
                let _ = conn.send_failure(
                    ErrorCode::Timeout,
                    &format!("no login within {secs} s; closing"),
                );
                return Err(Error::Timeout(format!("waiting {secs} s for a login")));
            }
            Err(e) => {
                let _ = conn.send_error(&e);
                return Err(e);
            }
        };
        let (user, password) = match request {
            Request::Login { user, password } => (user, password),
            // A client's probe before it sends its password (see `client_login`).
            PROBE => {
                log::debug!("{peer}: probe before login");
                conn.send_error(&Error::AuthRequired)?;
                continue;
            }
            other => {
                log::info!("{peer}: refused {:?} before login", other.op());
                conn.send_error(&Error::AuthRequired)?;
                continue;
            }
        };
        if answer_login(conn, peer, users, &user, password, &mut failures, policy)? {
            return Ok(user);
        }
    }
}

/// Answers one login request from `peer`: `ok` if the password is right, or, after
/// `policy.failure_delay`, `auth_failed`; a failure is logged with the peer's address,
/// which is what an operator (or fail2ban) needs. Returns whether it succeeded. The
/// `policy.max_failures`th failure in a row is `Err(AuthFailed)`: close the connection.
/// [`server_login`] uses it before anything else is allowed; a server that lets
/// anonymous sessions log in later (ftp) uses it mid-session.
pub fn answer_login<S: Read + Write + AsFd>(
    conn: &mut Connection<S>,
    peer: &str,
    users: &Users,
    user: &str,
    password: String,
    failures: &mut u32,
    policy: &LoginPolicy,
) -> Result<bool> {
    policy.guesses.wait_turn(conn, peer)?;
    // An oversized password is refused unhashed, yet counts and waits as a wrong one.
    let ok = password.len() <= MAX_PASSWORD_LEN && users.verify(user, &password);
    drop(password);
    if ok {
        conn.send_ok(&Empty {})?;
        policy.guesses.refund(peer);
        return Ok(true);
    }
    *failures += 1;
    log::warn!(
        "{peer}: failed login for user {user:?} ({failures}/{})",
        policy.max_failures
    );
    std::thread::sleep(policy.failure_delay);
    conn.send_error(&Error::AuthFailed)?;
    if *failures >= policy.max_failures {
        return Err(Error::AuthFailed);
    }
    Ok(false)
}

/// Runs the client side of login. `Ok(())` once the server accepted it.
///
/// The password is never the first thing sent: a server that requires TLS answers a
/// plain client's first frame with `tls_required` and hangs up, and by then that
/// frame has crossed the network in clear. So the client first sends a request
/// without credentials ([`PROBE`], `{"op":"list"}`): a plain server answers it
/// `auth_required` (nothing runs before login; an anonymous ftp-server lists its
/// root), a TLS server `tls_required`, which is returned as the error; only after a
/// plain server's answer does the login, password included, follow. One round trip
/// more on plain connections only (a TLS handshake has shown it already), and no change
/// to the servers: this is the documented "anything but login
/// before login gets `auth_required`".
pub fn client_login<S: Read + Write + AsFd + Encrypted>(
    conn: &mut Connection<S>,
    user: &str,
    password: &str,
) -> Result<()> {
    // Inside TLS the handshake has already shown the server speaks it: no probe.
    if !conn.get_ref().encrypted() {
        conn.send(&PROBE)?;
        match conn.read_reply::<Empty>() {
            Ok(_) => {}
            Err(Error::Remote {
                code: ErrorCode::AuthRequired,
                ..
            }) => {}
            Err(e) => return Err(e),
        }
    }
    conn.send(&Request::Login {
        user: user.to_owned(),
        password: password.to_owned(),
    })?;
    conn.read_reply::<Empty>().map(|_| ())
}

/// The credential-free request a client sends before its login (see [`client_login`]).
pub const PROBE: Request = Request::List;

#[cfg(test)]
mod login_tests {
    use super::*;
    use socklab_net::Deadlines;
    use socklab_proto::frame::write_frame;
    use socklab_proto::msg::{read_reply, write_header};
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    /// alice / "pw", with tiny argon2 parameters (the fuzz target uses the same).
    const USERS: &str = "alice:$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$oLR5MAEGfpggpujVlakg8jrOLGnE2ouxEqlNfMbANDc\n";

    fn fast() -> LoginPolicy {
        LoginPolicy {
            failure_delay: Duration::ZERO,
            ..LoginPolicy::default()
        }
    }

    fn login(user: &str, password: &str) -> Vec<u8> {
        let mut wire = Vec::new();
        write_header(
            &mut wire,
            &Request::Login {
                user: user.into(),
                password: password.into(),
            },
        )
        .unwrap();
        wire
    }

    /// Runs the server's login on one end of a socket pair while the other end sends
    /// `input` and collects every reply.
    fn run(input: Vec<u8>) -> (Result<String>, Vec<Result<Empty>>) {
        let users = Users::parse(USERS).unwrap();
        let (server, mut client) = UnixStream::pair().unwrap();
        let peer = std::thread::spawn(move || {
            // The server may hang up before it has read it all: that is its right.
            let _ = client.write_all(&input);
            let _ = client.shutdown(std::net::Shutdown::Write);
            // A server that hangs up on unread input resets the connection after its
            // last reply: keep what arrived before the reset.
            let mut output = Vec::new();
            let _ = client.read_to_end(&mut output);
            output
        });
        let mut conn = Connection::new(server, Deadlines::default()).unwrap();
        let result = server_login(&mut conn, "test peer", &users, &fast());
        drop(conn);
        let output = peer.join().unwrap();
        let mut replies = Vec::new();
        let mut r = output.as_slice();
        while !r.is_empty() {
            replies.push(read_reply::<_, Empty>(&mut r));
        }
        (result, replies)
    }

    #[test]
    fn wrong_password_then_right_one_logs_in() {
        let input = [login("alice", "nope"), login("alice", "pw")].concat();
        let (result, replies) = run(input);
        assert_eq!(result.unwrap(), "alice");
        assert!(
            matches!(
                replies[0],
                Err(Error::Remote {
                    code: ErrorCode::AuthFailed,
                    ..
                })
            ),
            "{replies:?}"
        );
        assert!(replies[1].is_ok());
    }

    #[test]
    fn third_failure_closes_and_fourth_try_is_never_read() {
        let input = [
            login("alice", "a"),
            login("bob", "b"),
            login("alice", "c"),
            login("alice", "pw"),
        ]
        .concat();
        let (result, replies) = run(input);
        assert!(matches!(result, Err(Error::AuthFailed)), "{result:?}");
        assert_eq!(replies.len(), 3, "{replies:?}");
    }

    #[test]
    fn unknown_user_gets_the_same_reply_as_a_wrong_password() {
        let (_, unknown) = run(login("mallory", "pw"));
        let (_, wrong) = run(login("alice", "wrong"));
        assert_eq!(format!("{:?}", unknown[0]), format!("{:?}", wrong[0]));
    }

    #[test]
    fn oversized_password_is_refused() {
        let (result, replies) = run(login("alice", &"p".repeat(MAX_PASSWORD_LEN + 1)));
        assert!(result.is_err());
        assert!(matches!(
            replies[0],
            Err(Error::Remote {
                code: ErrorCode::AuthFailed,
                ..
            })
        ));
    }

    #[test]
    fn other_requests_before_login_get_auth_required() {
        let mut input = Vec::new();
        write_header(&mut input, &Request::Exec { cmd: "id".into() }).unwrap();
        input.extend(login("alice", "pw"));
        let (result, replies) = run(input);
        assert!(
            matches!(
                replies[0],
                Err(Error::Remote {
                    code: ErrorCode::AuthRequired,
                    ..
                })
            ),
            "{replies:?}"
        );
        assert_eq!(result.unwrap(), "alice");
    }

    #[test]
    fn malformed_header_gets_bad_request_and_ends_login() {
        let mut input = Vec::new();
        write_frame(&mut input, b"[1,2,3]", 100).unwrap();
        let (result, replies) = run(input);
        assert!(matches!(result, Err(Error::BadHeader(_))), "{result:?}");
        assert!(matches!(
            replies[0],
            Err(Error::Remote {
                code: ErrorCode::BadRequest,
                ..
            })
        ));
    }

    /// A server that requires TLS, as `TlsAcceptor` behaves towards a plain client:
    /// it answers the first byte with `tls_required`, stops writing, and keeps what
    /// the client sends until it hangs up.
    fn fake_tls_server(mut sock: UnixStream) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut seen = vec![0u8; 1];
            sock.read_exact(&mut seen).unwrap();
            socklab_proto::msg::write_failure(&mut sock, ErrorCode::TlsRequired, "use TLS")
                .unwrap();
            sock.shutdown(std::net::Shutdown::Write).unwrap();
            let _ = sock.read_to_end(&mut seen);
            seen
        })
    }

    #[test]
    fn a_plain_client_never_sends_its_password_to_a_server_that_requires_tls() {
        let (server, client) = UnixStream::pair().unwrap();
        let server = fake_tls_server(server);
        let mut conn = Connection::new(client, Deadlines::default()).unwrap();
        let result = client_login(&mut conn, "alice", "s3cret-pw-123");
        drop(conn);
        let seen = server.join().unwrap();
        assert!(
            matches!(
                result,
                Err(Error::Remote {
                    code: ErrorCode::TlsRequired,
                    ..
                })
            ),
            "{result:?}"
        );
        let text = String::from_utf8_lossy(&seen);
        assert!(
            !text.contains("s3cret-pw-123"),
            "the password was sent: {text:?}"
        );
        assert!(
            !text.contains("password"),
            "a login frame was sent: {text:?}"
        );
        assert!(text.contains("\"op\":\"list\""), "no probe: {text:?}");
    }

    #[test]
    fn client_login_probes_then_logs_in_to_a_plain_server() {
        let users = Users::parse(USERS).unwrap();
        let (server, client) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || {
            let mut conn = Connection::new(server, Deadlines::default()).unwrap();
            server_login(&mut conn, "test peer", &users, &fast())
        });
        let mut conn = Connection::new(client, Deadlines::default()).unwrap();
        client_login(&mut conn, "alice", "pw").unwrap();
        assert_eq!(server.join().unwrap().unwrap(), "alice");
    }
}
