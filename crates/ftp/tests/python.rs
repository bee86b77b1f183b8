//! The Python 3 client in docs/protocol.md, extracted from the doc and run against
//! the Rust server, so the doc can never drift from the protocol.

mod common;

use common::*;
use socklab_testkit::{random_bytes, require_tool};
use std::process::{Command, Output};

fn python_client(fx: &Fixture) -> std::path::PathBuf {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/protocol.md"
    ))
    .unwrap();
    let start = doc
        .find("```python\n# ftp_client.py")
        .expect("docs/protocol.md has the ftp_client.py block")
        + "```python\n".len();
    let len = doc[start..].find("\n```").expect("the block ends");
    let path = fx.path("ftp_client.py");
    std::fs::write(&path, &doc[start..start + len]).unwrap();
    path
}

fn run(fx: &Fixture, script: &std::path::Path, port: u16, password: &str, args: &[&str]) -> Output {
    run_pinned(fx, script, port, password, None, args)
}

/// [`run`] with `SOCKLAB_FINGERPRINT` set when `pin` is given: TLS, pinned.
fn run_pinned(
    fx: &Fixture,
    script: &std::path::Path,
    port: u16,
    password: &str,
    pin: Option<&str>,
    args: &[&str],
) -> Output {
    let mut cmd = Command::new("python3");
    match pin {
        Some(fp) => cmd.env("SOCKLAB_FINGERPRINT", fp),
        None => cmd.env_remove("SOCKLAB_FINGERPRINT"),
    };
    cmd.arg(script)
        .args(args)
        .env("SOCKLAB_HOST", "127.0.0.1")
        .env("SOCKLAB_PORT", port.to_string())
        .env("SOCKLAB_USER", USER)
        .current_dir(fx.local())
        .env("SOCKLAB_PASSWORD", password)
        .output()
        .unwrap()
}

#[test]
fn python_client_in_protocol_md_logs_in_lists_gets_and_puts() {
    require_tool("python3");
    let fx = Fixture::new();
    let script = python_client(&fx);
    let data = random_bytes(1 << 20);
    write(&fx.local().join("up.bin"), &data);
    let server = fx.server(&[]);
    let port = server.port();

    let out = run(&fx, &script, port, password(), &["put", "up.bin"]);
    assert!(out.status.success(), "{}", describe(&out, &server));
    assert!(
        stdout(&out).contains(&md5_of(&data)),
        "{}",
        describe(&out, &server)
    );
    assert!(std::fs::read(fx.root().join("up.bin")).unwrap() == data);

    let out = run(&fx, &script, port, password(), &["ls"]);
    assert!(out.status.success(), "{}", describe(&out, &server));
    assert!(
        stdout(&out).contains("1048576") && stdout(&out).contains("up.bin"),
        "{}",
        stdout(&out)
    );

    std::fs::remove_file(fx.local().join("up.bin")).unwrap();
    let out = run(&fx, &script, port, password(), &["get", "up.bin"]);
    assert!(out.status.success(), "{}", describe(&out, &server));
    assert!(std::fs::read(fx.local().join("up.bin")).unwrap() == data);

    // Refusals reach the Python user as the server's sentence and code.
    let out = run(&fx, &script, port, password(), &["get", "missing"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("(not_found)"),
        "{}",
        describe(&out, &server)
    );
    let out = run(&fx, &script, port, "wrong", &["ls"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("(auth_failed)"),
        "{}",
        describe(&out, &server)
    );
}

#[test]
fn python_ssl_client_in_protocol_md_pins_the_fingerprint_and_moves_files_byte_exact() {
    require_tool("python3");
    let fx = Fixture::new();
    let script = python_client(&fx);
    let data = random_bytes(3 << 20);
    write(&fx.local().join("up.bin"), &data);
    let state = fx.path("tls-state");
    let server = fx.server(&["--tls", "--state-dir", state.to_str().unwrap()]);
    let fp = server.fingerprint();
    let port = server.port();

    // Python hashes getpeercert(binary_form=True) and compares it with the pin.
    let out = run_pinned(
        &fx,
        &script,
        port,
        password(),
        Some(&fp),
        &["put", "up.bin"],
    );
    assert!(out.status.success(), "{}", describe(&out, &server));
    assert!(
        stdout(&out).contains(&md5_of(&data)),
        "{}",
        describe(&out, &server)
    );
    assert!(std::fs::read(fx.root().join("up.bin")).unwrap() == data);

    std::fs::remove_file(fx.local().join("up.bin")).unwrap();
    let out = run_pinned(
        &fx,
        &script,
        port,
        password(),
        Some(&fp),
        &["get", "up.bin"],
    );
    assert!(out.status.success(), "{}", describe(&out, &server));
    assert!(std::fs::read(fx.local().join("up.bin")).unwrap() == data);

    // Another pin: the script stops after the handshake, before the login.
    let logins = server.stderr().matches("logged in as").count();
    let other = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
    let out = run_pinned(&fx, &script, port, password(), Some(other), &["ls"]);
    assert!(!out.status.success(), "{}", describe(&out, &server));
    assert!(
        stderr(&out).contains("not logging in"),
        "{}",
        describe(&out, &server)
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        server.stderr().matches("logged in as").count(),
        logins,
        "{}",
        server.stderr()
    );

    // The same script without TLS is told what the server wants.
    let out = run(&fx, &script, port, password(), &["ls"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("(tls_required)"),
        "{}",
        describe(&out, &server)
    );
}
