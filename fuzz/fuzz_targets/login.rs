//! The server's side of login fed any byte stream: it ends (no hang: the input is
//! finite) with a user or a typed error, and never logs in with a wrong password.
#![no_main]
use libfuzzer_sys::fuzz_target;
use socklab_auth::{server_login, LoginPolicy, Users};
use socklab_net::{Connection, Deadlines};
use socklab_proto::msg::read_header;
use socklab_proto::Request;
use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::OnceLock;
use std::time::Duration;

// alice's password is "pw", hashed with tiny argon2 parameters so the fuzzer runs fast.
const USERS: &str =
    "alice:$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$oLR5MAEGfpggpujVlakg8jrOLGnE2ouxEqlNfMbANDc\n";

/// The most input fed to one login. Everything runs on this one thread, so nobody
/// reads while the other end writes: the input must fit the socket pair's buffer before
/// the login starts, and so must the replies, one per request read. The smallest
/// request is a 17-byte frame, so this bounds the replies to a few dozen.
const MAX_INPUT: usize = 1024;

/// Parsed once: its hashing pool's threads then serve every run.
fn users() -> &'static Users {
    static USERS_FILE: OnceLock<Users> = OnceLock::new();
    USERS_FILE.get_or_init(|| Users::parse(USERS).expect("fixture parses"))
}

fuzz_target!(|data: &[u8]| {
    let input = &data[..data.len().min(MAX_INPUT)];
    let policy = LoginPolicy {
        deadline: Duration::from_secs(60),
        max_failures: 3,
        failure_delay: Duration::ZERO,
        ..LoginPolicy::default()
    };
    let (server, mut client) = UnixStream::pair().expect("a socket pair");
    client
        .write_all(input)
        .expect("the input fits the socket buffer");
    client.shutdown(Shutdown::Write).expect("half-close");
    // A write that cannot go through fails after this long instead of hanging the
    // fuzzer (it cannot happen within MAX_INPUT).
    let deadlines = Deadlines {
        stall: Duration::from_secs(5),
        ..Deadlines::default()
    };
    let mut conn = Connection::new(server, deadlines).expect("a connection");
    if let Ok(user) = server_login(&mut conn, "fuzz", users(), &policy) {
        assert_eq!(user, "alice");
        // Some frame of the input must have been a login with the right password.
        let mut r = input;
        let mut sent_password = false;
        while let Ok(Some(req)) = read_header::<_, Request>(&mut r) {
            if let Request::Login { user, password } = req {
                sent_password |= user == "alice" && password == "pw";
            }
        }
        assert!(sent_password, "logged in without the password");
    }
});
