//! Any datagram, through the chat server's parsing path: trimmed, decoded (never
//! failing, no control character left), parsed as a command, nicks validated, words
//! masked. No panic, and nothing that could move a member's cursor, or reorder or hide
//! text (bidi controls, invisible format characters), survives.
#![no_main]
use libfuzzer_sys::fuzz_target;
use socklab_chat::protocol::{decode, parse, trim_end, validate_nick, Command, Filter};

fuzz_target!(|data: &[u8]| {
    let text = decode(trim_end(data));
    assert!(
        !text.chars().any(|c| c.is_control()),
        "control character survived: {text:?}"
    );
    assert!(
        !text.chars().any(socklab_proto::names::is_hidden),
        "hidden character survived: {text:?}"
    );
    let filter = Filter::from_words(["secret", "日本"]);
    let masked = filter.mask(&text);
    assert!(!masked.chars().any(|c| c.is_control()));
    match parse(&text) {
        Command::Nick(nick) => {
            if validate_nick(&nick).is_ok() {
                assert!(!nick.is_empty() && nick.len() <= socklab_chat::limits::MAX_NICK_LEN);
                assert!(!nick.contains([' ', '[', ']', '*']));
            }
        }
        Command::Say(s) | Command::Me(s) => {
            let _ = filter.mask(&s);
        }
        _ => {}
    }
});
