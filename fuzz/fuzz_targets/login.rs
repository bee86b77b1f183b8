//! The server's side of login fed any byte stream: it ends (no hang: the input is
//! finite) with a user or a typed error, and never logs in with a wrong password.
#![no_main]
use libfuzzer_sys::fuzz_target;
use socklab_proto::auth::{server_login, LoginPolicy, Users};
use socklab_proto::deadline::SetReadTimeout;
use std::io::{self, Read, Write};
use std::time::Duration;

/// A finite input and a sink, standing in for a socket.
struct Peer<'a> {
    input: &'a [u8],
    output: Vec<u8>,
}

impl Read for Peer<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Peer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SetReadTimeout for Peer<'_> {
    fn set_read_timeout(&self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

// alice's password is "pw", hashed with tiny argon2 parameters so the fuzzer runs fast.
const USERS: &str =
    "alice:$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$oLR5MAEGfpggpujVlakg8jrOLGnE2ouxEqlNfMbANDc\n";

fuzz_target!(|data: &[u8]| {
    let users = Users::parse(USERS).expect("fixture parses");
    let policy = LoginPolicy {
        deadline: Duration::from_secs(60),
        max_failures: 3,
        failure_delay: Duration::ZERO,
    };
    let mut peer = Peer {
        input: data,
        output: Vec::new(),
    };
    if let Ok(user) = server_login(&mut peer, &users, &policy) {
        assert_eq!(user, "alice");
        // Some frame of the input must have been a login with the right password.
        let mut r = data;
        let mut sent_password = false;
        while let Ok(Some(req)) = socklab_proto::msg::read_request(&mut r) {
            if let socklab_proto::Request::Login { user, password } = req {
                sent_password |= user == "alice" && password == "pw";
            }
        }
        assert!(sent_password, "logged in without the password");
    }
});
