//! Faults: the server killed with SIGKILL at random points of an upload, a client
//! killed in the middle of a download, and SIGTERM while a transfer is in flight.
//! Whatever happens, nothing but a complete, byte-identical file ever appears under a
//! final name, and what is left behind is either resumable or cleaned at start.

mod common;

use common::*;
use socklab_proto::msg::{read_reply, write_header};
use socklab_proto::Request;
use socklab_testkit::{random_bytes, wait_child, wait_until, Server};
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Whatever is in the partial directory must be resumable uploads: complete
/// `KEY.part` + `KEY.meta` pairs, nothing stray.
fn assert_only_resumable_partials(fx: &Fixture, context: &str) {
    let names = fx.partials();
    for n in &names {
        let pair = match (n.strip_suffix(".part"), n.strip_suffix(".meta")) {
            (Some(key), _) => format!("{key}.meta"),
            (_, Some(key)) => format!("{key}.part"),
            _ => panic!("{context}: stray file {n:?} in the partial directory: {names:?}"),
        };
        assert!(
            names.contains(&pair),
            "{context}: {n:?} without its {pair:?}: {names:?}"
        );
    }
}

/// A small xorshift generator: the trial's kill points, reproducible from the seed
/// printed on failure.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn sigkill_at_random_points_of_a_put_never_leaves_a_wrong_file() {
    const TRIALS: u64 = 20;
    const SIZE: usize = 8 << 20;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64 | 1)
        .unwrap_or(1);
    let mut rng = Rng(seed);
    let fx = Fixture::new();
    let data = random_bytes(SIZE);
    write(&fx.local().join("src.bin"), &data);
    // Time one uncut upload (client start, login, transfer, commit) so the kill points
    // spread over the whole of it and a little past its end.
    let full = {
        let server = fx.server(&[]);
        let t = Instant::now();
        let out = fx.client(&server, &["put", "src.bin", "--as", "calibrate.bin"]);
        assert_ok(&out, &server);
        t.elapsed()
    };
    let window = (full.as_millis() as u64 * 13 / 10).max(20);
    let mut outcomes = (0, 0); // (absent, complete)
    for trial in 0..TRIALS {
        let name = format!("t{trial}.bin");
        let ctx = format!("trial {trial} (seed {seed})");
        let server = fx.server(&[]);
        // Kill somewhere between "before the first byte" and "after the end".
        let kill_after = Duration::from_millis(rng.below(window));
        let mut client = fx
            .client_command(server.port(), &["put", "src.bin", "--as", &name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(kill_after);
        server.signal("KILL");
        let _ = wait_child(&mut client, Duration::from_secs(30));
        let _ = client.kill();
        let _ = client.wait();
        drop(server);
        // A restart cleans what is stale; the final name is all or nothing.
        let restarted = fx.server(&[]);
        let final_path = fx.root().join(&name);
        if final_path.exists() {
            let got = std::fs::read(&final_path).unwrap();
            assert!(
                got == data,
                "{ctx}: {name} exists with {} bytes that differ from the source",
                got.len()
            );
            outcomes.1 += 1;
        } else {
            outcomes.0 += 1;
        }
        let stray: Vec<String> = fx
            .root_names()
            .into_iter()
            .filter(|n| !n.starts_with('t') && n != "calibrate.bin")
            .collect();
        assert!(
            stray.is_empty(),
            "{ctx}: unexpected files in the root: {stray:?}"
        );
        assert_only_resumable_partials(&fx, &ctx);
        drop(restarted);
    }
    eprintln!(
        "{TRIALS} trials (seed {seed}, kills within {window} ms): {} absent, {} complete",
        outcomes.0, outcomes.1
    );
    // The last upload, resumed, completes byte-exact: what was kept is usable.
    let server = fx.server(&[]);
    let out = fx.client(
        &server,
        &["put", "src.bin", "--as", "resumed.bin", "--resume"],
    );
    assert_ok(&out, &server);
    assert!(std::fs::read(fx.root().join("resumed.bin")).unwrap() == data);
}

/// Length of `path`, 0 when it does not exist.
fn len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn client_killed_mid_get_leaves_a_partial_that_resume_completes() {
    const SIZE: usize = 32 << 20;
    let fx = Fixture::new();
    let data = random_bytes(SIZE);
    write(&fx.root().join("big.bin"), &data);
    let server = fx.server(&[]);
    let mut client = fx
        .client_command(server.port(), &["get", "big.bin"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dest = fx.local().join("big.bin");
    let part = socklab_ftp::client::part_path(&dest);
    // Freeze the server as soon as the download has started, so the client is killed
    // mid-transfer however fast loopback is, then let the server go on.
    let started = Instant::now();
    while len(&part) == 0 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(1));
    }
    server.signal("STOP");
    let _ = client.kill();
    let _ = client.wait();
    server.signal("CONT");
    let kept = len(&part);
    assert!(
        kept > 0 && kept < SIZE as u64,
        "partial holds {kept} of {SIZE} bytes"
    );
    assert!(
        !dest.exists(),
        "a killed get left a file under the final name"
    );
    let out = fx.client(&server, &["get", "big.bin", "--resume"]);
    assert_ok(&out, &server);
    assert!(
        std::fs::read(&dest).unwrap() == data,
        "resumed download differs"
    );
    assert!(
        !part.exists(),
        "the partial was not removed after the resume"
    );
}

#[test]
fn sigterm_during_a_transfer_stops_within_the_grace_period_leaving_only_a_resumable_partial() {
    const SIZE: usize = 4 << 20;
    let fx = Fixture::new();
    let data = random_bytes(SIZE);
    let mut server = fx.server(&[]);
    // An upload that sends half its body and then stalls: work in flight.
    let mut s = raw(&server);
    write_header(
        &mut s,
        &Request::Put {
            name: "x.bin".into(),
            size: SIZE as u64,
            resume: false,
            overwrite: false,
        },
    )
    .unwrap();
    let _: serde_json::Value = read_reply(&mut s).unwrap();
    s.write_all(&data[..SIZE / 2]).unwrap();
    s.flush().unwrap();
    let partial_len = || {
        fx.partials()
            .iter()
            .filter(|n| n.ends_with(".part"))
            .map(|n| len(&fx.root().join(".socklab-partial").join(n)))
            .max()
            .unwrap_or(0)
    };
    assert!(
        wait_until(Duration::from_secs(20), || partial_len()
            == (SIZE / 2) as u64),
        "{}",
        server.stderr()
    );
    let t = Instant::now();
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(15))
        .expect("server stops after SIGTERM");
    let took = t.elapsed();
    assert!(status.success(), "exit {status:?}: {}", server.stderr());
    // The grace period is 5 s; the stalled upload is then cut.
    assert!(
        took < Duration::from_secs(8),
        "stopping took {took:?}: {}",
        server.stderr()
    );
    assert!(
        !fx.root().join("x.bin").exists(),
        "a cut upload appeared under its final name"
    );
    assert_only_resumable_partials(&fx, "after SIGTERM");
    drop(s);
    // And the upload can be finished by a restarted server.
    write(&fx.local().join("x.bin"), &data);
    let server: Server = fx.server(&[]);
    let out = fx.client(&server, &["put", "x.bin", "--resume"]);
    assert_ok(&out, &server);
    assert!(std::fs::read(fx.root().join("x.bin")).unwrap() == data);
}
