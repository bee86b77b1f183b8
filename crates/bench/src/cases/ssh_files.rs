//! File transfer beside OpenSSH: one large file over TLS and in clear, next to `scp`,
//! `sftp` and the verified `md5sum` + `scp` + `md5sum` pipeline; then trees of many
//! small files, next to `scp -r` and `tar c | ssh host tar x`. Everything on tmpfs,
//! so the disk is not what is measured.

use super::rate_and_cpu;
use super::rounds::{best, interleaved, Runs, Subject};
use crate::openssh::{self, Dir};
use crate::sshd::{self, Sshd};
use crate::stats::Target;
use crate::{ftp, tree, Ctx, Results};
use socklab_testkit::{Cost, Fixture};

/// The servers of a case: ftp-server in clear and with `--tls`, on one root.
struct Servers {
    plain: socklab_testkit::Server,
    tls: socklab_testkit::Server,
    fingerprint: String,
    fx: Fixture,
}

fn start_servers(dir: &std::path::Path) -> Servers {
    let fx = Fixture::in_dir(dir, Cost::Real);
    let plain = crate::start_quiet(socklab_testkit::ftp_server(&fx, &[]));
    let tls = crate::start_quiet(socklab_testkit::ftp_server(&fx, &["--tls"]));
    let fingerprint = tls.fingerprint();
    Servers {
        plain,
        tls,
        fingerprint,
        fx,
    }
}

/// Starts sshd, or notes why OpenSSH is left out of `case`.
fn start_sshd(r: &mut Results, case: &str) -> Option<Sshd> {
    match Sshd::start() {
        Ok(s) => Some(s),
        Err(e) => {
            r.notes.push(format!("{case}: OpenSSH left out: {e}"));
            None
        }
    }
}

pub(super) fn files_vs_ssh(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let size: u64 = ctx.file_bytes.unwrap_or(ctx.pick(32 << 20, 1 << 30));
    let case = format!("file transfer beside OpenSSH, {} MiB on tmpfs", size >> 20);
    let dir = ftp::scratch()?;
    let src = dir.path().join("src.bin");
    ftp::make_file(&src, size)?;
    let srv = start_servers(dir.path());
    let root = srv.fx.root();
    let cfg = ftp::config(srv.plain.port());
    let tls_cfg = ftp::config(srv.tls.port());
    let fp = srv.fingerprint.as_str();
    let got = dir.path().join("got.bin");
    let remote = dir.path().join("ssh-dest.bin");
    let local = dir.path().join("ssh-got.bin");
    let sshd = start_sshd(r, &case);
    let cipher = match &sshd {
        Some(s) => Some(ctx.ssh_cipher(r, s)?),
        None => None,
    };
    r.notes.push(format!(
        "{case}: socklab through its client library (ftp put/get: connect, log in, md5 on both ends, the server's fsync), \
         in clear and over TLS 1.3 (rustls, the server's self-signed certificate pinned by fingerprint); \
         OpenSSH {} on loopback with key authentication: scp (OpenSSH 9 scp speaks SFTP) and `sftp -b` (its defaults: \
         32 KiB requests, 64 in flight; `-B 65536` was no faster here and `-B 262144` is refused), a row per cipher, \
         and `scp -O` (the old scp protocol) with the fastest cipher; the md5 pipeline is `md5sum` on the sending end, scp, \
         `ssh host md5sum` (or local md5sum) on the receiving end, with the fastest cipher; every destination is deleted \
         before the run that writes it; the runs go round the subjects in turn ({} rounds)",
        ssh_version(),
        ctx.runs
    ));
    let pid = srv.plain.pid();
    let tls_pid = srv.tls.pid();
    let big = root.join("big.bin");
    let mut subjects = vec![
        Subject::new("ftp put", true, || ftp::put(&cfg, &src, "big.bin", size))
            .server(pid)
            .prepare(|| ftp::fresh(&big)),
        Subject::new("ftp put over TLS", true, || {
            ftp::put_over(&tls_cfg, Some(fp), &src, "big.bin", size)
        })
        .server(tls_pid)
        .prepare(|| ftp::fresh(&big)),
        Subject::new("ftp get", true, || ftp::get(&cfg, "big.bin", &got, size))
            .server(pid)
            .prepare(|| ftp::fresh(&got)),
        Subject::new("ftp get over TLS", true, || {
            ftp::get_over(&tls_cfg, Some(fp), "big.bin", &got, size)
        })
        .server(tls_pid)
        .prepare(|| ftp::fresh(&got)),
    ];
    // Indices of the OpenSSH rows, by kind and direction.
    let mut kinds: Vec<(&str, Dir, usize)> = Vec::new();
    if let (Some(s), Some(best_cipher)) = (&sshd, &cipher) {
        for c in sshd::CIPHERS {
            for d in [Dir::Put, Dir::Get] {
                let (from, to) = match d {
                    Dir::Put => (src.clone(), remote.clone()),
                    Dir::Get => (src.clone(), local.clone()),
                };
                let verb = if d == Dir::Put { "put" } else { "get" };
                kinds.push(("scp", d, subjects.len()));
                let (f, t) = (from.clone(), to.clone());
                subjects.push(
                    Subject::new(
                        format!("scp {verb} -c {}", sshd::short(c)),
                        false,
                        move || openssh::scp(s, Some(c), false, d, (&f, &t), size),
                    )
                    .reaping(s.pid())
                    .prepare({
                        let t = to.clone();
                        move || ftp::fresh(&t)
                    }),
                );
                kinds.push(("sftp", d, subjects.len()));
                let (f, t) = (from.clone(), to.clone());
                subjects.push(
                    Subject::new(
                        format!("sftp {verb} -c {}", sshd::short(c)),
                        false,
                        move || openssh::sftp(s, Some(c), d, (&f, &t), size),
                    )
                    .reaping(s.pid())
                    .prepare(move || ftp::fresh(&to)),
                );
            }
        }
        for d in [Dir::Put, Dir::Get] {
            let to = if d == Dir::Put { &remote } else { &local };
            let verb = if d == Dir::Put { "put" } else { "get" };
            // The old scp protocol (`-O`), faster than SFTP in some runs here.
            kinds.push(("scp", d, subjects.len()));
            let (f, t, c) = (src.clone(), to.clone(), best_cipher.clone());
            subjects.push(
                Subject::new(
                    format!("scp -O {verb} -c {}", sshd::short(best_cipher)),
                    false,
                    move || openssh::scp(s, Some(&c), true, d, (&f, &t), size),
                )
                .reaping(s.pid())
                .prepare({
                    let t = to.clone();
                    move || ftp::fresh(&t)
                }),
            );
            kinds.push(("scp+md5", d, subjects.len()));
            let (f, t, c) = (src.clone(), to.clone(), best_cipher.clone());
            subjects.push(
                Subject::new(
                    format!(
                        "md5sum + scp {verb} + md5sum (-c {})",
                        sshd::short(best_cipher)
                    ),
                    false,
                    move || openssh::scp_md5(s, Some(&c), d, (&f, &t), size),
                )
                .reaping(s.pid())
                .prepare({
                    let t = to.clone();
                    move || ftp::fresh(&t)
                }),
            );
        }
    }
    let per_gib = (1u64 << 30) as f64 / size as f64;
    let (measured, names) = interleaved(r, &case, ctx.runs, per_gib, subjects)?;
    for (name, m) in names.iter().zip(measured.iter().cloned()) {
        rate_and_cpu(r, &case, name, m);
    }
    let rates = |i: usize| measured[i].0.as_slice();
    for (verb, plain, tls, d) in [("put", 0, 1, Dir::Put), ("get", 2, 3, Dir::Get)] {
        r.paired_ratio(
            &format!("file {verb} 1 file, ftp over TLS / ftp in clear (TLS may cost at most 25%)"),
            rates(tls),
            rates(plain),
            Target::AtLeast(0.75),
        );
        let of = |kind: &str| -> Vec<usize> {
            kinds
                .iter()
                .filter(|(k, dd, _)| *k == kind && *dd == d)
                .map(|&(_, _, i)| i)
                .collect()
        };
        for (kind, target) in [
            ("scp", Target::AtLeast(1.5)),
            ("sftp", Target::None),
            ("scp+md5", Target::AtLeast(3.0)),
        ] {
            if let Some(p) = best(&measured, &of(kind), true) {
                r.paired_ratio(
                    &format!(
                        "file {verb} 1 file, ftp over TLS / {} (its fastest row)",
                        names[p]
                    ),
                    rates(tls),
                    rates(p),
                    target,
                );
            }
        }
    }
    Ok(())
}

/// `ssh -V`'s first words, e.g. "OpenSSH_9.2p1".
pub(super) fn ssh_version() -> String {
    std::process::Command::new("ssh")
        .arg("-V")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .split([',', ' '])
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .unwrap_or_default()
}

/// 4 KiB files, as in the issue that set the target.
const TREE_FILE: usize = 4096;

pub(super) fn trees(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let files = ctx.tree_files();
    let case = format!("tree of {files} files of 4 KiB on tmpfs");
    let dir = ftp::scratch()?;
    let src = dir.path().join("tree");
    tree::make(&src, files, TREE_FILE)?;
    let bytes = (files * TREE_FILE) as u64;
    let srv = start_servers(dir.path());
    let root = srv.fx.root();
    let client = |tls: Option<String>, port: u16| tree::FtpClient {
        port,
        password_file: srv.fx.password_file(),
        tls,
    };
    let plain = client(None, srv.plain.port());
    let tls = client(Some(srv.fingerprint.clone()), srv.tls.port());
    let sshd = start_sshd(r, &case);
    let cipher = match &sshd {
        Some(s) => Some(ctx.ssh_cipher(r, s)?),
        None => None,
    };
    r.notes.push(format!(
        "{case}: {files} files in directories of 100; ftp-client (the release binary, as a user runs it) `put -r` \
         and `get -r`, in clear and over TLS (pinned fingerprint), each file with its md5 and the server's fsync; \
         `scp -r` and `tar c | ssh host tar x` (get: `ssh host tar c | tar x`) with ssh's fastest cipher; the \
         destination tree is deleted before every run; each run's copy is counted (files and bytes); \
         the runs go round the subjects in turn ({} rounds); CPU is per run, seconds",
        ctx.runs
    ));
    let (up, down) = (root.join("up"), dir.path().join("down"));
    let (ssh_up, ssh_down) = (dir.path().join("ssh-up"), dir.path().join("ssh-down"));
    let checked = |what: &'static str, dest: std::path::PathBuf, secs: Result<f64, String>| {
        let secs = secs?;
        tree::check(what, &dest, files, bytes)?;
        Ok(secs)
    };
    // The tree the gets fetch: put once, outside the clock.
    plain.put_r(&src, "from")?;
    let from_remote = root.join("from");
    let mut subjects = vec![];
    for (label, c, pid) in [
        ("", &plain, srv.plain.pid()),
        (" over TLS", &tls, srv.tls.pid()),
    ] {
        let (up2, src2) = (up.clone(), src.clone());
        subjects.push(
            Subject::new(format!("ftp-client put -r{label}"), true, move || {
                checked("put -r", up2.clone(), c.put_r(&src2, "up"))
            })
            .server(pid)
            .prepare({
                let u = up.clone();
                move || tree::fresh(&u)
            }),
        );
        let down2 = down.clone();
        subjects.push(
            Subject::new(format!("ftp-client get -r{label}"), true, move || {
                checked("get -r", down2.clone(), c.get_r("from", &down2))
            })
            .server(pid)
            .prepare({
                let d = down.clone();
                move || tree::fresh(&d)
            }),
        );
    }
    let mut peers: Vec<(&str, Dir, usize)> = Vec::new();
    if let (Some(s), Some(c)) = (&sshd, &cipher) {
        for d in [Dir::Put, Dir::Get] {
            let (from, to) = match d {
                Dir::Put => (src.clone(), ssh_up.clone()),
                Dir::Get => (from_remote.clone(), ssh_down.clone()),
            };
            let verb = if d == Dir::Put { "put" } else { "get" };
            for kind in ["scp -r", "tar | ssh"] {
                peers.push((kind, d, subjects.len()));
                let (f, t, c) = (from.clone(), to.clone(), c.clone());
                let name = if kind == "scp -r" {
                    format!("scp -r {verb} -c {}", sshd::short(&c))
                } else if d == Dir::Put {
                    format!("tar c | ssh host tar x -c {}", sshd::short(&c))
                } else {
                    format!("ssh host tar c | tar x -c {}", sshd::short(&c))
                };
                subjects.push(
                    Subject::new(name, false, move || {
                        let secs = if kind == "scp -r" {
                            openssh::scp_r(s, Some(&c), d, (&f, &t))
                        } else {
                            openssh::tar_ssh(s, Some(&c), d, (&f, &t))
                        };
                        checked("OpenSSH", t.clone(), secs)
                    })
                    .reaping(s.pid())
                    .prepare({
                        let t = to.clone();
                        move || tree::fresh(&t)
                    }),
                );
            }
        }
    }
    let (measured, names) = interleaved(r, &case, ctx.runs, 1.0, subjects)?;
    for (name, (secs, cpu)) in names.iter().zip(measured.iter().cloned()) {
        r.figure(&case, name, "time", "s", secs);
        r.figure(&case, name, "CPU", "s", cpu);
    }
    judge_trees(r, &measured, &names, &peers);
    Ok(())
}

/// Each ftp tree row against `scp -r` (at most 0.25x its time) and the tar pipeline
/// (at most 1.5x), in the same direction.
fn judge_trees(r: &mut Results, measured: &[Runs], names: &[String], peers: &[(&str, Dir, usize)]) {
    // ftp rows: put, get, put TLS, get TLS.
    for (ours, d) in [(0, Dir::Put), (1, Dir::Get), (2, Dir::Put), (3, Dir::Get)] {
        for (kind, target) in [("scp -r", 0.25), ("tar | ssh", 1.5)] {
            let Some(&(_, _, p)) = peers.iter().find(|(k, dd, _)| *k == kind && *dd == d) else {
                continue;
            };
            r.paired_ratio(
                &format!("tree copy time, {} / {}", names[ours], names[p]),
                &measured[ours].0,
                &measured[p].0,
                Target::AtMost(target),
            );
        }
    }
}
