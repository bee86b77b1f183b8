//! The `datagrams` example prints what it claims: `cargo test` builds examples into
//! target/<profile>/examples/, next to the directory of the binaries under test.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn datagrams_example_shows_boundaries_truncation_and_loss() {
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_chat-server"));
    let path = bin_dir.parent().unwrap().join("examples").join("datagrams");
    assert!(
        path.exists(),
        "{} not built; run cargo build --examples",
        path.display()
    );
    let out = Command::new(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 datagrams for 3 sends"), "{stdout}");
    assert!(
        stdout.contains("recv_from -> 64 bytes, truncated: true"),
        "{stdout}"
    );
    let received: u32 = stdout
        .split("received ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a received count");
    assert!(received < 2000, "no datagram was lost: {stdout}");
}
