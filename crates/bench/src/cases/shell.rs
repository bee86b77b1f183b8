//! The shell case.

use super::repeat;
use crate::stats::{percentile, Target};
use crate::{peers, shell, start_quiet, Ctx, Results};
use socklab_testkit::{peak_rss_kib, shell_server, Cost, Fixture};

pub(super) fn shell_exec(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let count = ctx.pick(50, 1000);
    let case = format!("remote shell, {count} × `true`");
    r.notes.push(format!("remote shell: {count} `exec true` on one logged-in session per run; ncat gets one connection per command"));
    // The real argon2 cost, as a user's users file has; the session logs in once.
    let fx = Fixture::with_cost(Cost::Real);
    let srv = start_quiet(shell_server(&fx, &[]));
    let medians =
        |runs: Vec<Vec<f64>>| runs.iter().map(|t| percentile(t, 50.0)).collect::<Vec<_>>();
    let ours = r.figure(
        &case,
        "shell-server exec",
        "median per command",
        "ms",
        medians(repeat(ctx.runs, || {
            shell::exec_loop(srv.port(), "true", count)
        })?),
    );
    r.figure(
        &case,
        "shell-server",
        "peak RSS",
        "MiB",
        vec![peak_rss_kib(srv.pid()) as f64 / 1024.0],
    );
    let local = r.figure(
        &case,
        "local sh -c true",
        "median per command",
        "ms",
        medians(repeat(ctx.runs, || shell::local_sh("true", count))?),
    );
    r.ratio(
        "remote shell exec true, shell-server / local sh -c true",
        ours,
        local,
        Target::AtMost(1.5),
    );
    match peers::start(
        "ncat",
        &["-l", "-k", "127.0.0.1", "{port}", "--exec", "/bin/true"],
    ) {
        Ok(ncat) => {
            let m = r.figure(
                &case,
                "ncat --exec /bin/true",
                "median per command",
                "ms",
                medians(repeat(ctx.runs, || shell::ncat_exec(ncat.port, count))?),
            );
            r.ratio(
                "remote shell exec true, shell-server / ncat --exec",
                ours,
                m,
                Target::None,
            );
        }
        Err(e) => r.notes.push(format!("ncat skipped: {e}")),
    }
    Ok(())
}
