//! The attacks on the served root by a local user who can write into it: a symlink
//! swapped between a check and an open, a symlink or hard link into a private
//! subdirectory, and a planted partial area. Each is run against the real server.

mod common;

use common::*;
use socklab_proto::msg::{read_header, read_reply, write_header};
use socklab_proto::{Error, ErrorCode};
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const SECRET: &[u8] = b"SECRET: only the server's user may read this";

/// Sends a get and returns the body, or the refusal's code. A one-component path goes
/// as `"name"`, which servers before paths understand too.
fn raw_get(s: &mut std::net::TcpStream, path: &str) -> Result<Vec<u8>, ErrorCode> {
    let field = if path.contains('/') { "path" } else { "name" };
    write_header(s, &serde_json::json!({"op": "get", field: path})).unwrap();
    match read_reply::<_, serde_json::Value>(s) {
        Ok(reply) => {
            let size = reply["size"].as_u64().unwrap();
            let mut body = vec![0u8; size as usize];
            s.read_exact(&mut body).unwrap();
            let _trailer: serde_json::Value = read_header(s).unwrap().unwrap();
            Ok(body)
        }
        Err(Error::Remote { code, .. }) => Err(code),
        Err(e) => panic!("get {path}: {e}"),
    }
}

#[test]
fn a_symlink_swapped_during_2000_gets_never_serves_a_file_outside_the_root() {
    let fx = Fixture::new();
    let secret = fx.path("secret.txt");
    write(&secret, SECRET);
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let root = fx.root();
    write(&root.join("x"), b"public");
    let server = fx.server(&[]);

    // The attacker: swaps `x` between a regular file and a symlink to the secret,
    // atomically (renameat2 RENAME_EXCHANGE), as fast as it can.
    symlink(&secret, root.join("x.other")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, root) = (stop.clone(), root.clone());
        std::thread::spawn(move || {
            let dir = std::fs::File::open(&root).unwrap();
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                rustix::fs::renameat_with(
                    &dir,
                    "x",
                    &dir,
                    "x.other",
                    rustix::fs::RenameFlags::EXCHANGE,
                )
                .unwrap();
                swaps += 1;
            }
            swaps
        })
    };
    let mut s = raw(&server);
    let (mut served, mut refused, mut leaked) = (0, 0, 0);
    for _ in 0..2000 {
        match raw_get(&mut s, "x") {
            Ok(body) if body == SECRET => leaked += 1,
            Ok(body) => {
                assert_eq!(body, b"public");
                served += 1;
            }
            Err(code) => {
                assert!(
                    matches!(code, ErrorCode::Forbidden | ErrorCode::NotFound),
                    "{code:?}"
                );
                refused += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert_eq!(
        leaked,
        0,
        "{leaked} of 2000 gets returned the file outside the root \
         ({served} served, {refused} refused, {swaps} swaps)\n{}",
        server.stderr()
    );
    assert!(
        served > 0 && refused > 0,
        "the race never ran: {served} served, {refused} refused, {swaps} swaps"
    );
}

#[test]
fn symlinks_and_hard_links_into_a_private_subdirectory_are_not_served() {
    let fx = Fixture::new();
    let root = fx.root();
    std::fs::create_dir(root.join("private")).unwrap();
    write(&root.join("private/payroll.csv"), SECRET);
    std::fs::set_permissions(root.join("private"), std::fs::Permissions::from_mode(0o700)).unwrap();
    symlink("private/payroll.csv", root.join("p.csv")).unwrap();
    symlink("private", root.join("pdir")).unwrap();
    std::fs::hard_link(root.join("private/payroll.csv"), root.join("h.csv")).unwrap();
    let server = fx.server(&[]);
    let mut s = raw(&server);
    assert_eq!(raw_get(&mut s, "p.csv"), Err(ErrorCode::Forbidden));
    assert_eq!(
        raw_get(&mut s, "pdir/payroll.csv"),
        Err(ErrorCode::Forbidden)
    );
    assert_eq!(raw_get(&mut s, "h.csv"), Err(ErrorCode::Forbidden));
    // The listing shows the links for what they are.
    write_header(&mut s, &serde_json::json!({"op": "list"})).unwrap();
    let listing: serde_json::Value = read_reply(&mut s).unwrap();
    let kind = |name: &str| {
        listing["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["kind"].as_str().unwrap().to_owned())
    };
    assert_eq!(kind("p.csv").as_deref(), Some("symlink"), "{listing}");
    assert_eq!(kind("pdir").as_deref(), Some("symlink"), "{listing}");
    assert_eq!(kind("private").as_deref(), Some("dir"), "{listing}");
    // Through the client too: refused, nothing written.
    let out = fx.client(&server, &["get", "p.csv"]);
    assert_fails_with(&out, &server, "forbidden");
    assert!(!fx.local().join("p.csv").exists());
}

#[test]
fn dot_dot_absolute_and_over_deep_paths_are_refused_by_the_server() {
    let fx = Fixture::new();
    write(&fx.path("outside.txt"), SECRET);
    let server = fx.server(&[]);
    let mut s = raw(&server);
    let deep = vec!["d"; socklab_ftp::limits::MAX_PATH_DEPTH + 1].join("/");
    for path in [
        "../outside.txt",
        "/etc/passwd",
        "a/../../outside.txt",
        &deep,
    ] {
        for op in ["get", "stat", "list", "delete", "mkdir"] {
            write_header(&mut s, &serde_json::json!({"op": op, "path": path})).unwrap();
            match read_reply::<_, serde_json::Value>(&mut s) {
                Err(Error::Remote {
                    code: ErrorCode::InvalidName,
                    ..
                }) => {}
                other => panic!("{op} {path}: expected invalid_name, got {other:?}"),
            }
        }
    }
}

/// Runs ftp-server on the fixture's root and returns its exit status and stderr if
/// it stops within a few seconds (it refused to start), or `None` if it ran.
fn server_refusal(fx: &Fixture) -> Option<String> {
    let mut child = socklab_testkit::ftp_server(&fx.files, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = socklab_testkit::wait_child(&mut child, Duration::from_secs(5));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!status.unwrap().success(), "{err}");
    Some(err)
}

#[test]
fn a_planted_partial_area_stops_the_server_and_nothing_outside_the_root_changes() {
    let fx = Fixture::new();
    let victim = fx.path("profile");
    write(&victim, b"the victim's own file");
    let partial = fx.root().join(".socklab-partial");
    // The attacker's directory of symlinks, made before the server's first start.
    std::fs::create_dir(&partial).unwrap();
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o777)).unwrap();
    let key = md5_of(b"report.txt");
    symlink(&victim, partial.join(format!("{key}.part"))).unwrap();
    symlink(&victim, partial.join(format!("{key}.meta"))).unwrap();
    let err = server_refusal(&fx).expect("the server started on a planted partial area");
    assert!(
        err.contains(".socklab-partial") && err.contains("0777"),
        "{err}"
    );

    // A symlink in place of the area is refused too.
    std::fs::remove_dir_all(&partial).unwrap();
    std::fs::create_dir(fx.path("elsewhere")).unwrap();
    symlink(fx.path("elsewhere"), &partial).unwrap();
    let err = server_refusal(&fx).expect("the server started on a symlinked partial area");
    assert!(err.contains("symlink"), "{err}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"the victim's own file");
    assert_eq!(std::fs::read_dir(fx.path("elsewhere")).unwrap().count(), 0);
}

#[test]
fn links_planted_inside_the_partial_area_are_not_written_through() {
    let fx = Fixture::new();
    let victim = fx.path("profile");
    write(&victim, b"the victim's own file");
    // A 0700 area of the server's own user that somebody filled with links to the
    // keys of the next upload (the server's user could do it; nobody else can).
    let partial = fx.root().join(".socklab-partial");
    std::fs::create_dir(&partial).unwrap();
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o700)).unwrap();
    for key in [
        md5_of(b"report.txt"),
        md5_of(format!("{USER}\0report.txt").as_bytes()),
    ] {
        symlink(&victim, partial.join(format!("{key}.part"))).unwrap();
        symlink(&victim, partial.join(format!("{key}.meta"))).unwrap();
    }
    let server = fx.server(&[]);
    write(&fx.local().join("report.txt"), b"an ordinary upload");
    let out = fx.client(&server, &["put", "report.txt", "--resume"]);
    assert_ok(&out, &server);
    assert_eq!(std::fs::read(&victim).unwrap(), b"the victim's own file");
    assert_eq!(
        std::fs::read(fx.root().join("report.txt")).unwrap(),
        b"an ordinary upload"
    );
}
