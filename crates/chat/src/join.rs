//! Joining the chat, the client's side: the padded join, the retries UDP needs, the
//! server's cookie (beyond loopback) answered without asking the user, and a taken
//! nick turned into an error, or into another nick with `--nick-fallback`.

use crate::client::{send, ClientConfig};
use crate::cookie::CHALLENGE;
use crate::protocol::{self, PING};
use socklab_proto::{Error, ErrorCode, Result};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// The client pads its first datagram with spaces to this many bytes (the server
/// trims them). The server never answers a new address with more bytes than it sent,
/// so that spoofed datagrams cannot turn it into an amplifier; padding the join lets
/// it answer with the welcome line or "the chat is full". QUIC pads its first packet
/// to 1,200 bytes for the same reason.
const JOIN_PAD: usize = 128;

/// How long the client waits for the server's answer to its join before sending the
/// join again. UDP may lose the join or the welcome; nothing else would notice.
const JOIN_WAIT: Duration = Duration::from_secs(1);

/// How many times the client sends its join before it goes on without an answer.
pub(crate) const JOIN_TRIES: u32 = 3;

/// How many other nicks `--nick-fallback` tries (`NICK_2` to `NICK_10`).
const NICK_FALLBACKS: u32 = 9;

/// `base_N`, cut so that it stays within the longest nick.
fn fallback_nick(base: &str, n: u32) -> String {
    let suffix = format!("_{n}");
    let mut cut = crate::limits::MAX_NICK_LEN.saturating_sub(suffix.len());
    while !base.is_char_boundary(cut.min(base.len())) {
        cut -= 1;
    }
    format!("{}{suffix}", &base[..cut.min(base.len())])
}

/// The join that answers a server's cookie line, if `line` is one.
pub(crate) fn cookie_answer(line: &str, nick: Option<&str>) -> Option<String> {
    let token = line.strip_prefix(CHALLENGE)?.split_whitespace().next()?;
    Some(match nick {
        Some(nick) => format!("/join {token} {nick}"),
        None => format!("/join {token}"),
    })
}

/// A join datagram, padded with spaces to [`JOIN_PAD`] bytes.
pub(crate) fn padded(join: &str) -> String {
    format!("{join:<JOIN_PAD$}")
}

/// Sends the join datagram and waits [`JOIN_WAIT`] for the server's first answer (its
/// welcome, or an error), sending the join again up to [`JOIN_TRIES`] times in all. A
/// server that verifies joins answers with a cookie first; the client echoes it at
/// once, which does not count as a try. Returns the answer, or `None` if none came. An
/// answer that is an error (the chat is full) and an ICMP "port unreachable" (nothing
/// listens there) are errors.
fn join_chat(
    socket: &UdpSocket,
    join: &str,
    nick: Option<&str>,
    server: SocketAddr,
) -> Result<Option<String>> {
    socket
        .set_read_timeout(Some(JOIN_WAIT))
        .map_err(|e| Error::io("setting SO_RCVTIMEO", e))?;
    let mut buf = vec![0u8; crate::limits::MAX_DATAGRAM];
    let mut join = padded(join);
    let mut cookies = 0;
    let mut tries = 0;
    // Each pass is a try, or one of at most JOIN_TRIES cookie answers: bounded.
    while tries < JOIN_TRIES {
        send(socket, join.as_bytes())?;
        match socket.recv(&mut buf) {
            Ok(n) => {
                let answer = protocol::decode(protocol::trim_end(&buf[..n]));
                if let Some(reply) = cookie_answer(&answer, nick) {
                    cookies += 1;
                    if cookies > JOIN_TRIES {
                        return Err(Error::Remote {
                            code: ErrorCode::Unknown,
                            message: format!("{server} keeps refusing our join cookie"),
                        });
                    }
                    join = padded(&reply);
                    continue;
                }
                return match answer.strip_prefix("error: ") {
                    Some(why) if why.starts_with("nick ") => Err(Error::Remote {
                        code: if why.ends_with(" is taken") {
                            ErrorCode::Exists
                        } else {
                            ErrorCode::BadRequest
                        },
                        message: why.to_owned(),
                    }),
                    // Otherwise the chat is full.
                    Some(why) => Err(Error::Remote {
                        code: ErrorCode::Busy,
                        message: format!("{server} refused the join: {why}"),
                    }),
                    None => Ok(Some(answer)),
                };
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                // Nothing to retry: --host and --port name a port with no server.
                return Err(Error::Usage(format!(
                    "nothing listens at {server} (ICMP port unreachable): is chat-server running?"
                )));
            }
            Err(e) if socklab_net::socket::is_wait_over(&e) => {}
            Err(e) => return Err(Error::io(format!("waiting for {server} to answer"), e)),
        }
        tries += 1;
    }
    Ok(None)
}

/// Joins through `socket` as `config.nick` (or, with `--nick-fallback`, as the first
/// free `NICK_N`). Returns the server's first answer (`None`: no answer came) and the
/// nick joined under.
pub(crate) fn join(
    socket: &UdpSocket,
    config: &ClientConfig,
) -> Result<(Option<String>, Option<String>)> {
    let mut nick = config.nick.clone();
    let mut fallbacks = 0;
    let answer = loop {
        let join = match &nick {
            Some(nick) => format!("/nick {nick}"),
            None => PING.to_owned(),
        };
        match join_chat(socket, &join, nick.as_deref(), config.server) {
            Err(Error::Remote {
                code: ErrorCode::Exists,
                message,
            }) if config.nick_fallback && fallbacks < NICK_FALLBACKS => {
                fallbacks += 1;
                let base = config.nick.as_deref().unwrap_or_default();
                let next = fallback_nick(base, fallbacks + 1);
                eprintln!("{message}; trying {next}");
                nick = Some(next);
            }
            other => break other?,
        }
    };
    Ok((answer, nick))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_nicks_stay_within_the_longest_nick() {
        assert_eq!(fallback_nick("bob", 2), "bob_2");
        let long = "é".repeat(16);
        let n = fallback_nick(&long, 10);
        assert!(
            n.len() <= crate::limits::MAX_NICK_LEN && n.ends_with("_10"),
            "{n}"
        );
        assert!(protocol::validate_nick(&n).is_ok(), "{n}");
    }
}
