//! Any text as a known-hosts file: parsed or refused with the number of a line that
//! exists, never a panic; every entry parsed is a well-formed `host:port SHA256:…`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use socklab_net::tls::{is_fingerprint, known_hosts};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match known_hosts::parse(text) {
        Ok(entries) => {
            for e in entries {
                assert!(is_fingerprint(&e.fingerprint), "{e:?}");
                assert!(e.line >= 1 && e.line <= text.lines().count(), "{e:?}");
                let (_, port) = e.host.rsplit_once(':').expect("host:port");
                assert!(port.parse::<u16>().is_ok(), "{e:?}");
            }
        }
        Err(err) => {
            assert!(err.line >= 1 && err.line <= text.lines().count(), "{err:?}");
            assert!(!err.reason.is_empty());
        }
    }
});
