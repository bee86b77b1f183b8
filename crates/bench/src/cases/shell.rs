//! The shell case on a kept connection: `exec true` on one logged-in session, in
//! clear and over TLS, beside a local `sh -c true`, `ncat --exec` and `ssh host true`
//! through a ControlMaster connection (ssh's own way to keep one).

use super::rounds::{interleaved, Subject};
use crate::sshd::Sshd;
use crate::stats::{percentile, Target};
use crate::{peers, shell, start_quiet, Ctx, Results};
use socklab_testkit::{peak_rss_kib, shell_server, Cost, Fixture};

pub(super) fn shell_exec(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let count = ctx.pick(50, 1000);
    // Each ssh command starts a process of its own, far slower than a request on the
    // kept connection: fewer of them give as good a median.
    let ssh_count = ctx.pick(10, 100);
    let case = format!("remote shell, {count} × `true` on a kept connection");
    // The real argon2 cost, as a user's users file has; the session logs in once.
    let fx = Fixture::with_cost(Cost::Real);
    let srv = start_quiet(shell_server(&fx, &[]));
    let tls_srv = start_quiet(shell_server(&fx, &["--tls"]));
    let fp = tls_srv.fingerprint();
    let ncat = peers::start(
        "ncat",
        &["-l", "-k", "127.0.0.1", "{port}", "--exec", "/bin/true"],
    );
    let sshd = match Sshd::start() {
        Ok(s) => Some(s),
        Err(e) => {
            r.notes.push(format!("{case}: OpenSSH left out: {e}"));
            None
        }
    };
    let cipher = match &sshd {
        Some(s) => Some(ctx.ssh_cipher(r, s)?),
        None => None,
    };
    let master = match (&sshd, &cipher) {
        (Some(s), Some(c)) => match s.master(Some(c)) {
            Ok(m) => Some(m),
            Err(e) => {
                r.notes
                    .push(format!("{case}: ssh ControlMaster left out: {e}"));
                None
            }
        },
        _ => None,
    };
    r.notes.push(format!(
        "{case}: socklab logs in once (library client) and runs `exec true` {count} times per run, in clear and \
         over TLS; a local `sh -c true` {count} times; ncat gets one connection per command; ssh runs \
         `ssh -S CONTROL host true` {ssh_count} times per run over one ControlMaster connection (a process per \
         command, no new connection or authentication: ssh's fastest way to run commands on a kept connection); \
         each figure is a run's median per command; the runs go round the subjects in turn ({} rounds)",
        ctx.runs
    ));
    let median = |t: Vec<f64>| percentile(&t, 50.0);
    let (port, tls_port) = (srv.port(), tls_srv.port());
    let mut subjects = vec![
        Subject::new("shell-server exec", true, || {
            shell::exec_loop(port, None, "true", count).map(median)
        })
        .server(srv.pid()),
        Subject::new("shell-server exec over TLS", true, || {
            shell::exec_loop(tls_port, Some(&fp), "true", count).map(median)
        })
        .server(tls_srv.pid()),
        Subject::new("local sh -c true", false, || {
            shell::local_sh("true", count).map(median)
        }),
    ];
    let mut ncat_row = None;
    match &ncat {
        Ok(n) => {
            ncat_row = Some(subjects.len());
            subjects.push(Subject::new("ncat --exec /bin/true", false, || {
                shell::ncat_exec(n.port, count).map(median)
            }));
        }
        Err(e) => r.notes.push(format!("ncat skipped: {e}")),
    }
    let mut ssh_row = None;
    if let Some(m) = &master {
        ssh_row = Some(subjects.len());
        subjects.push(Subject::new(
            format!(
                "ssh -S CONTROL host true (ControlMaster, -c {})",
                crate::sshd::short(cipher.as_deref().unwrap_or(""))
            ),
            false,
            || {
                shell::spawn_loop(
                    || {
                        let mut c = m.ssh();
                        c.arg("true");
                        c
                    },
                    ssh_count,
                )
                .map(median)
            },
        ));
    }
    let (measured, names) = interleaved(r, &case, ctx.runs, 1.0, subjects)?;
    for (name, (ms, _)) in names.iter().zip(measured.iter().cloned()) {
        r.figure(&case, name, "median per command", "ms", ms);
    }
    for (name, s) in [("shell-server", &srv), ("shell-server --tls", &tls_srv)] {
        r.figure(
            &case,
            name,
            "peak RSS",
            "MiB",
            vec![peak_rss_kib(s.pid()) as f64 / 1024.0],
        );
    }
    let ms = |i: usize| measured[i].0.as_slice();
    for (ours, label) in [(0, "shell-server"), (1, "shell-server over TLS")] {
        r.paired_ratio(
            &format!("remote shell exec true, {label} / local sh -c true"),
            ms(ours),
            ms(2),
            Target::AtMost(1.5),
        );
        if let Some(n) = ncat_row {
            r.paired_ratio(
                &format!("remote shell exec true, {label} / ncat --exec"),
                ms(ours),
                ms(n),
                Target::None,
            );
        }
        if let Some(s) = ssh_row {
            r.paired_ratio(
                &format!("remote shell exec true, {label} / ssh over a ControlMaster connection"),
                ms(ours),
                ms(s),
                Target::None,
            );
        }
    }
    Ok(())
}
