//! The `datagrams` example prints what it claims (`cargo test` builds examples into
//! target/<profile>/examples/, where `socklab_testkit::example` finds them).

use std::process::Command;

#[test]
fn datagrams_example_shows_boundaries_truncation_and_loss() {
    let out = Command::new(socklab_testkit::example("datagrams"))
        .output()
        .unwrap();
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
