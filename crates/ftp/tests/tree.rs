//! `put -r` and `get -r`: a tree of 100 directories and 2,000 files (empty
//! directories, empty files, a 50 MiB file, non-ASCII names) up and down, checked
//! with `diff -r` and every mtime; a re-run that copies nothing; a run killed halfway
//! that a re-run with `--resume` completes.

mod common;

use common::*;
use socklab_testkit::{random_bytes, require_tool, wait_until};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, UNIX_EPOCH};

/// Files in the tree, and its directories.
const FILES: usize = 2_000;
const DIRS: usize = 100;

/// Makes the test tree under `root`: 10 top directories (one named `数据`) of 9
/// subdirectories each, the last of them empty; 2,000 files spread over the others
/// (every 50th empty, one of 50 MiB, one `数据/报告 1.txt`); varied old mtimes.
fn make_tree(root: &Path) {
    let tops: Vec<String> = (0..10)
        .map(|i| {
            if i == 0 {
                "数据".to_owned()
            } else {
                format!("d{i}")
            }
        })
        .collect();
    let mut dirs = Vec::new();
    for top in &tops {
        for j in 0..9 {
            let d = root.join(top).join(format!("s {j}"));
            fs::create_dir_all(&d).unwrap();
            if j < 8 {
                dirs.push(d);
            }
        }
    }
    let noise = random_bytes(4096);
    let mut n = 0;
    let mut i = 0;
    while n < FILES - 2 {
        let dir = &dirs[i % dirs.len()];
        let len = if i % 50 == 0 { 0 } else { (i * 37) % 4096 };
        fs::write(dir.join(format!("f{i}.txt")), &noise[..len]).unwrap();
        n += 1;
        i += 1;
    }
    fs::write(root.join("数据").join("报告 1.txt"), "报告\n").unwrap();
    fs::write(root.join("d5").join("big.bin"), random_bytes(50 << 20)).unwrap();
    // Old, distinct mtimes: a copy that does not keep them cannot match by accident.
    for (k, f) in files(root).iter().enumerate() {
        let when = UNIX_EPOCH + Duration::from_secs(1_600_000_000 + k as u64 * 7);
        fs::File::options()
            .write(true)
            .open(f)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }
    assert_eq!(files(root).len(), FILES);
    assert_eq!(count_dirs(root), DIRS);
}

/// Every regular file under `root`, sorted.
fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn count_dirs(root: &Path) -> usize {
    let mut n = 0;
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && !p.ends_with(".socklab-partial") {
                n += 1;
                todo.push(p);
            }
        }
    }
    n
}

/// `diff -r a b` finds nothing, and every file's mtime (seconds) matches.
#[track_caller]
fn assert_same_tree(a: &Path, b: &Path) {
    let out = std::process::Command::new("diff")
        .arg("-r")
        .arg(a)
        .arg(b)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "diff -r {} {}:\n{}{}",
        a.display(),
        b.display(),
        stdout(&out),
        stderr(&out)
    );
    let secs = |p: &Path| {
        fs::metadata(p)
            .unwrap()
            .modified()
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let (fa, fb) = (files(a), files(b));
    assert_eq!(fa.len(), fb.len());
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(
            secs(x),
            secs(y),
            "mtime of {} vs {}",
            x.display(),
            y.display()
        );
    }
}

/// Every directory under `a` (and `a` itself) has the mtime of its twin under `b`.
#[track_caller]
fn assert_same_dir_mtimes(a: &Path, b: &Path) {
    let secs = |p: &Path| {
        fs::metadata(p)
            .unwrap()
            .modified()
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let mut todo = vec![PathBuf::new()];
    let mut seen = 0;
    while let Some(rel) = todo.pop() {
        let (x, y) = (a.join(&rel), b.join(&rel));
        assert_eq!(
            secs(&x),
            secs(&y),
            "mtime of {} vs {}",
            x.display(),
            y.display()
        );
        seen += 1;
        for e in fs::read_dir(&x).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                todo.push(rel.join(e.file_name()));
            }
        }
    }
    assert!(seen > 1, "no directories under {}", a.display());
}

#[test]
fn a_tree_of_2000_files_goes_up_and_down_intact_and_a_rerun_copies_nothing() {
    require_tool("diff");
    let fx = Fixture::new();
    let tree = fx.local().join("tree");
    make_tree(&tree);
    fs::write(fx.local().join("elsewhere.txt"), "x").unwrap();
    std::os::unix::fs::symlink("../elsewhere.txt", tree.join("d1").join("link")).unwrap();
    let server = fx.server(&[]);

    let out = fx.client(&server, &["put", "-r", "tree", "--as", "up"]);
    assert_ok_saying(&out, &server, &format!("{FILES} files"));
    assert_ok_saying(&out, &server, "0 skipped");
    assert!(
        stderr(&out).contains("skipping symlink"),
        "{}",
        describe(&out, &server)
    );
    assert!(fs::symlink_metadata(fx.root().join("up/d1/link")).is_err());
    fs::remove_file(tree.join("d1").join("link")).unwrap();
    assert_same_tree(&tree, &fx.root().join("up"));
    assert_eq!(count_dirs(&fx.root().join("up")), DIRS);

    let out = fx.client(&server, &["put", "-r", "tree", "--as", "up"]);
    assert_ok_saying(
        &out,
        &server,
        &format!("0 files (0 bytes) copied, {FILES} skipped"),
    );
    let out = fx.client(&server, &["put", "-r", "tree", "--as", "up", "--checksum"]);
    assert_ok_saying(&out, &server, &format!("{FILES} skipped"));

    // A file changed here is replaced there only with --overwrite.
    fs::write(tree.join("数据").join("报告 1.txt"), "报告 v2\n").unwrap();
    let out = fx.client(&server, &["put", "-r", "tree", "--as", "up"]);
    assert_fails_with(&out, &server, "exists");
    assert_eq!(
        fs::read_to_string(fx.root().join("up/数据/报告 1.txt")).unwrap(),
        "报告\n"
    );
    let out = fx.client(&server, &["put", "-r", "tree", "--as", "up", "--overwrite"]);
    assert_ok_saying(
        &out,
        &server,
        &format!("1 files (10 bytes) copied, {} skipped", FILES - 1),
    );

    // Directory mtimes are kept on the server too, set once their files are written.
    assert_same_dir_mtimes(&tree, &fx.root().join("up"));

    // Into an existing directory, as cp -r and scp -r: down/up.
    fs::create_dir(fx.local().join("down")).unwrap();
    let out = fx.client(&server, &["get", "-r", "up", "-o", "down"]);
    assert_ok(&out, &server);
    assert_same_tree(&tree, &fx.local().join("down/up"));
    assert_same_dir_mtimes(&tree, &fx.local().join("down/up"));
    assert_eq!(count_dirs(&fx.local().join("down/up")), DIRS);
    let out = fx.client(&server, &["get", "-r", "up", "-o", "down"]);
    assert_ok_saying(&out, &server, &format!("{FILES} skipped"));
}

/// Runs the client with `args` and kills it once `dest` holds half the tree's files
/// (partials included): an interrupted transfer for a `--resume` re-run to complete.
fn run_until_halfway(fx: &Fixture, server: &socklab_testkit::Server, args: &[&str], dest: &Path) {
    let mut child = fx
        .client_command(server.port(), &[&["--no-progress"][..], args].concat())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let halfway = wait_until(Duration::from_secs(60), || {
        dest.is_dir() && files(dest).len() >= FILES / 2
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        halfway,
        "{args:?} never got halfway into {}:\n{}",
        dest.display(),
        server.stderr()
    );
}

#[test]
fn a_tree_upload_killed_halfway_is_completed_by_a_rerun_with_resume() {
    require_tool("diff");
    let fx = Fixture::new();
    let tree = fx.local().join("tree");
    make_tree(&tree);
    let server = fx.server(&[]);
    let up = fx.root().join("up");
    run_until_halfway(&fx, &server, &["put", "-r", "tree", "--as", "up"], &up);
    let done = files(&up).len();
    assert!(
        done < FILES,
        "the kill came too late: all {done} files were there"
    );

    let out = fx.client(&server, &["put", "-r", "tree", "--as", "up", "--resume"]);
    assert_ok_saying(&out, &server, "skipped (already complete)");
    assert_same_tree(&tree, &up);
}

#[test]
fn a_tree_download_killed_halfway_is_completed_by_a_rerun_with_resume() {
    require_tool("diff");
    let fx = Fixture::new();
    make_tree(&fx.root().join("up"));
    let server = fx.server(&[]);
    // `down` exists, so both runs write into down/up, as cp -r and scp -r would.
    fs::create_dir(fx.local().join("down")).unwrap();
    let down = fx.local().join("down/up");
    run_until_halfway(&fx, &server, &["get", "-r", "up", "-o", "down"], &down);
    let complete = files(&down)
        .iter()
        .filter(|p| !p.to_string_lossy().ends_with(".socklab-part"))
        .count();
    assert!(
        complete < FILES,
        "the kill came too late: all {complete} files were there"
    );

    // Without --resume the partials are in the way, and nothing is lost.
    let out = fx.client(&server, &["get", "-r", "up", "-o", "down"]);
    let parts = files(&down)
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".socklab-part"))
        .count();
    if parts > 0 {
        assert!(!out.status.success(), "{}", describe(&out, &server));
        assert!(
            stderr(&out).contains("--resume"),
            "{}",
            describe(&out, &server)
        );
    }
    let out = fx.client(&server, &["get", "-r", "up", "-o", "down", "--resume"]);
    assert_ok(&out, &server);
    assert_same_tree(&fx.root().join("up"), &down);
}

#[test]
fn a_pipelined_tree_over_tls_is_served_without_waiting_for_the_idle_timeout() {
    require_tool("diff");
    let fx = Fixture::new();
    let tree = fx.local().join("tree");
    for i in 0..200 {
        let dir = tree.join(format!("d{}", i % 5));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("f{i}")), format!("file {i}\n")).unwrap();
    }
    // A request left decrypted in the TLS session's buffer would wait for the idle
    // timeout; with 30 s, 200 of them could not finish within the client's own 10.
    let state = fx.path("state");
    let server = fx.server(&[
        "--tls",
        "--state-dir",
        state.to_str().unwrap(),
        "--idle-timeout",
        "30",
    ]);
    let fp = server.fingerprint();
    let tls = ["--fingerprint", fp.as_str(), "--timeout", "10"];
    let out = fx.client(
        &server,
        &[&tls[..], &["put", "-r", "tree", "--as", "up"]].concat(),
    );
    assert_ok(&out, &server);
    assert_same_tree(&tree, &fx.root().join("up"));
    let out = fx.client(
        &server,
        &[&tls[..], &["get", "-r", "up", "-o", "down"]].concat(),
    );
    assert_ok(&out, &server);
    assert_same_tree(&tree, &fx.local().join("down"));
}

#[test]
fn on_a_terminal_a_tree_draws_one_progress_bar_not_one_per_file() {
    require_tool("script");
    let fx = Fixture::new();
    let tree = fx.local().join("tree");
    fs::create_dir_all(tree.join("a")).unwrap();
    fs::write(tree.join("a").join("big.bin"), random_bytes(40 << 20)).unwrap();
    for i in 0..20 {
        fs::write(tree.join(format!("small{i}.txt")), "x").unwrap();
    }
    let server = fx.server(&[]);
    let cmd = fx.client_command(server.port(), &["put", "-r", "tree", "--as", "up"]);
    let line: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| format!("'{}'", a.to_str().unwrap()))
        .collect();
    let mut script = std::process::Command::new("script");
    script
        .args(["-qec", &line.join(" "), "/dev/null"])
        .current_dir(fx.local())
        .env("SOCKLAB_KNOWN_HOSTS", fx.path("known_hosts"));
    let out = script.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", server.stderr());
    assert!(text.contains("up ["), "no tree bar in:\n{text}");
    assert!(!text.contains("big.bin ["), "a per-file bar in:\n{text}");
    assert!(text.contains("21 files ("), "no summary in:\n{text}");
}
