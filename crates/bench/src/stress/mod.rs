//! `socklab-stress` (`make stress`): many clients at once against every server,
//! bounded to a few minutes. Each part reports errors, p99 latency and the server's
//! peak RSS, and the run fails on any mismatch, error or lost file.

mod floods;
mod servers;

use crate::Ctx;
use std::time::Instant;

/// One part's outcome.
pub(crate) struct Outcome {
    pub summary: String,
    pub failures: u64,
}

type Part = fn(&Ctx, usize) -> Result<Outcome, String>;

const PARTS: &[(&str, Part)] = &[
    ("echo", servers::echo_part),
    ("shell", servers::shell_part),
    ("ftp", servers::ftp_part),
    ("chat", floods::chat_part),
    ("huge", servers::huge_part),
    ("login-flood", floods::login_flood_part),
];

/// Runs every part whose name contains `only` (all without it), with every count
/// divided by `scale`, printing a line per part; true when all passed.
pub fn run(only: Option<&str>, scale: usize) -> bool {
    let _ = rlimit::increase_nofile_limit(30_000);
    let ctx = Ctx {
        quick: false,
        runs: 1,
        bulk_bytes: None,
        file_bytes: None,
    };
    let scale = scale.max(1);
    let mut ok = true;
    for (name, part) in PARTS {
        if only.is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let t = Instant::now();
        match part(&ctx, scale) {
            Ok(o) => {
                let verdict = if o.failures == 0 { "ok  " } else { "FAIL" };
                println!(
                    "stress: {verdict} {name:<6} {} ({:.1} s)",
                    o.summary,
                    t.elapsed().as_secs_f64()
                );
                ok &= o.failures == 0;
            }
            Err(e) => {
                println!("stress: FAIL {name:<6} {e}");
                ok = false;
            }
        }
    }
    ok
}
