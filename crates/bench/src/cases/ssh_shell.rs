//! The remote shell beside OpenSSH, each as a user runs it (the `shell-client`
//! release binary, `ssh`): a fresh connection that runs `true`, a keystroke echoed
//! through a remote PTY, and a stream of bytes through `cat` on stdin and stdout.

use super::rate_and_cpu;
use super::rounds::{best, interleaved, Subject};
use crate::openssh;
use crate::sshd::{self, Sshd};
use crate::stats::{percentile, Target};
use crate::{ftp, pty, shell, start_quiet, Ctx, Results};
use socklab_testkit::{shell_server, Cost, Fixture, Server};

/// The keystroke case's rounds, as a multiple of `--runs`.
const KEYSTROKE_ROUNDS_FACTOR: usize = 3;

/// shell-server in clear and with `--tls` on one fixture, and sshd (if it starts).
struct Peers {
    fx: Fixture,
    plain: Server,
    tls: Server,
    fingerprint: String,
    sshd: Option<Sshd>,
}

fn start(r: &mut Results, case: &str) -> Peers {
    let fx = Fixture::with_cost(Cost::Real);
    let plain = start_quiet(shell_server(&fx, &[]));
    let tls = start_quiet(shell_server(&fx, &["--tls"]));
    let fingerprint = tls.fingerprint();
    let sshd = match Sshd::start() {
        Ok(s) => Some(s),
        Err(e) => {
            r.notes.push(format!("{case}: OpenSSH left out: {e}"));
            None
        }
    };
    Peers {
        fx,
        plain,
        tls,
        fingerprint,
        sshd,
    }
}

pub(super) fn fresh_connection(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let count = ctx.pick(2, 10);
    let case = "remote shell, a fresh connection that runs `true`".to_string();
    let p = start(r, &case);
    let cipher = match &p.sshd {
        Some(s) => Some(ctx.ssh_cipher(r, s)?),
        None => None,
    };
    r.notes.push(format!(
        "{case}: `shell-client -n -- true` (connect, TLS handshake where it applies, log in with the users file's \
         real argon2 cost, run, exit) beside `ssh host true` (key authentication, ed25519, the fastest cipher), at ssh's default key exchange and \
         with `-o KexAlgorithms=curve25519-sha256`; \
         each figure is a run's median of {count} in a row; the runs go round the subjects in turn ({} rounds)",
        ctx.runs
    ));
    let pw = p.fx.password_file();
    let median = |t: Vec<f64>| percentile(&t, 50.0);
    let times = |f: &mut dyn FnMut() -> Result<f64, String>| -> Result<f64, String> {
        (0..count)
            .map(|_| f())
            .collect::<Result<Vec<_>, _>>()
            .map(median)
    };
    let (port, tls_port, fp) = (p.plain.port(), p.tls.port(), p.fingerprint.as_str());
    let mut subjects = vec![
        Subject::new("shell-client -- true", true, || {
            times(&mut || shell::fresh_true(port, &pw, None))
        })
        .server(p.plain.pid()),
        Subject::new("shell-client --fingerprint FP -- true (TLS)", true, || {
            times(&mut || shell::fresh_true(tls_port, &pw, Some(fp)))
        })
        .server(p.tls.pid()),
    ];
    let mut ssh_rows = vec![];
    if let (Some(s), Some(c)) = (&p.sshd, &cipher) {
        // ssh's default key exchange (sntrup761x25519, post-quantum) and the plain
        // curve25519 one, which costs less: the fastest is compared with.
        for kex in [None, Some("curve25519-sha256")] {
            ssh_rows.push(subjects.len());
            let name = match kex {
                None => format!("ssh host true -c {} (default key exchange)", sshd::short(c)),
                Some(k) => format!("ssh -o KexAlgorithms={k} host true -c {}", sshd::short(c)),
            };
            subjects.push(
                Subject::new(name, false, move || {
                    times(&mut || openssh::ssh_true(s, Some(c), kex))
                })
                .reaping(s.pid()),
            );
        }
    }
    let (measured, names) = interleaved(r, &case, ctx.runs, 1.0, subjects)?;
    for (name, (ms, cpu)) in names.iter().zip(measured.iter().cloned()) {
        r.figure(&case, name, "median", "ms", ms);
        r.figure(
            &case,
            name,
            "CPU per run (all commands of the run)",
            "s",
            cpu,
        );
    }
    if let Some(b) = best(&measured, &ssh_rows, false) {
        for (ours, target) in [(1, Target::AtMost(0.25)), (0, Target::None)] {
            r.paired_ratio(
                &format!(
                    "fresh connect + login + true, {} / {} (its fastest row)",
                    names[ours], names[b]
                ),
                &measured[ours].0,
                &measured[b].0,
                target,
            );
        }
    }
    Ok(())
}

pub(super) fn keystrokes(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let count = ctx.pick(50, 500);
    // A run takes well under a second, and a run's p50 moves by tens of microseconds
    // with the machine's state, which is the size of the difference measured: three
    // times the usual rounds cost little and steady the median of the ratios.
    let rounds = ctx.runs * KEYSTROKE_ROUNDS_FACTOR;
    let case = "remote shell, keystroke echo on a PTY".to_string();
    let p = start(r, &case);
    let cipher = match &p.sshd {
        Some(s) => Some(ctx.ssh_cipher(r, s)?),
        None => None,
    };
    r.notes.push(format!(
        "{case}: the client runs on a PTY the bench holds the other end of (as a terminal emulator would); the remote \
         side runs `{}`; the bench types one byte, waits until it comes back, {count} times per run; each figure is \
         a run's p50 (and p99); `shell-client -t` in clear and over TLS, `ssh -tt` with the fastest cipher; \
         the runs go round the subjects in turn ({rounds} rounds)",
        pty::REMOTE,
    ));
    let pw = p.fx.password_file();
    let tls_fp = p.fingerprint.clone();
    let client = |port: u16, tls: Option<&str>| {
        let mut c = shell::client_command(port, &pw, tls);
        c.args(["-t", "--", pty::REMOTE]);
        c
    };
    let plain_cmd = client(p.plain.port(), None);
    let tls_cmd = client(p.tls.port(), Some(&tls_fp));
    let p99 = std::cell::RefCell::new(vec![Vec::new(); 3]);
    let keys = |i: usize, cmd: &std::process::Command| -> Result<f64, String> {
        let t = pty::keystrokes(cmd, count)?;
        p99.borrow_mut()[i].push(percentile(&t, 99.0));
        Ok(pty::p50(&t))
    };
    let ssh_cmd = match (&p.sshd, &cipher) {
        (Some(s), Some(c)) => {
            let mut cmd = s.ssh(Some(c));
            cmd.arg("-tt").arg(&s.target).arg(pty::REMOTE);
            Some((cmd, c.clone()))
        }
        _ => None,
    };
    let mut subjects = vec![
        Subject::new("shell-client -t", true, || keys(0, &plain_cmd)),
        Subject::new("shell-client -t over TLS", true, || keys(1, &tls_cmd)),
    ];
    if let Some((cmd, c)) = &ssh_cmd {
        subjects.push(Subject::new(
            format!("ssh -tt -c {}", sshd::short(c)),
            false,
            || keys(2, cmd),
        ));
    }
    let (measured, names) = interleaved(r, &case, rounds, 1.0, subjects)?;
    for (i, (name, (us, _))) in names.iter().zip(measured.iter().cloned()).enumerate() {
        r.figure(&case, name, "p50", "µs", us);
        r.figure(&case, name, "p99", "µs", p99.borrow()[i].clone());
    }
    if names.len() > 2 {
        for ours in [0, 1] {
            r.paired_ratio(
                &format!("keystroke echo p50, {} / {}", names[ours], names[2]),
                &measured[ours].0,
                &measured[2].0,
                Target::AtMost(1.0),
            );
        }
    }
    Ok(())
}

pub(super) fn stdin_cat(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let size = ctx.stream_bytes();
    let case = format!(
        "remote shell, {} MiB through `cat` (stdin to stdout)",
        size >> 20
    );
    let p = start(r, &case);
    r.notes.push(format!(
        "{case}: a file on tmpfs is the client's stdin; the bench reads the client's stdout and compares it with \
         the file, byte for byte; `shell-client -- cat` in clear and over TLS, `ssh host cat` a row per cipher; \
         CPU counts the client, the bench and the server; the runs go round the subjects in turn ({} rounds)",
        ctx.runs
    ));
    let dir = ftp::scratch()?;
    let src = dir.path().join("stream.bin");
    ftp::make_file(&src, size)?;
    let pw = p.fx.password_file();
    let cat = |port: u16, tls: Option<&str>| -> Result<f64, String> {
        let mut c = shell::client_command(port, &pw, tls);
        c.args(["--", "cat"]);
        openssh::stream_through(&mut c, &src, size)
    };
    let (port, tls_port, fp) = (p.plain.port(), p.tls.port(), p.fingerprint.as_str());
    let mut subjects = vec![
        Subject::new("shell-client -- cat", true, || cat(port, None)).server(p.plain.pid()),
        Subject::new("shell-client -- cat over TLS", true, || {
            cat(tls_port, Some(fp))
        })
        .server(p.tls.pid()),
    ];
    let mut ssh_rows = vec![];
    if let Some(s) = &p.sshd {
        for c in sshd::CIPHERS {
            ssh_rows.push(subjects.len());
            let src = &src;
            subjects.push(
                Subject::new(
                    format!("ssh host cat -c {}", sshd::short(c)),
                    false,
                    move || openssh::ssh_cat(s, Some(c), src, size),
                )
                .reaping(s.pid()),
            );
        }
    }
    let per_gib = (1u64 << 30) as f64 / size as f64;
    let (measured, names) = interleaved(r, &case, ctx.runs, per_gib, subjects)?;
    for (name, m) in names.iter().zip(measured.iter().cloned()) {
        rate_and_cpu(r, &case, name, m);
    }
    if let Some(b) = best(&measured, &ssh_rows, true) {
        for ours in [0, 1] {
            r.paired_ratio(
                &format!(
                    "stdin → cat → stdout, {} / {} (its fastest row)",
                    names[ours], names[b]
                ),
                &measured[ours].0,
                &measured[b].0,
                Target::AtLeast(2.0),
            );
        }
    }
    Ok(())
}
