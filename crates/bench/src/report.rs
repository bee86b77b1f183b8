//! Writes docs/benchmarks.md.

use crate::stats::Target;
use crate::{Ctx, Results};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

fn sh(cmd: &str) -> String {
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// A ratio with two decimals and its "x", or "–" when either side was not measured.
pub fn ratio(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}x")
    } else {
        "–".into()
    }
}

/// `text` for a Markdown table cell: a `|` (a shell pipeline in a row's name) would
/// end the cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn num(v: f64) -> String {
    // NaN (a peer that failed) and ±inf (the min or max of no samples) have no figure.
    if !v.is_finite() {
        "–".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Each peer and the settings it runs with (the case notes below add the sizes).
const PEER_SETTINGS: &[&str] = &[
    "socat: echo with a forked `PIPE` per connection, at its default transfer size (8 KiB) and at `-b 4096` and \
     `-b 65536`, each its own row; the file pipeline at its defaults",
    "iperf3, ncat, nc, md5sum, cp + sync: their defaults",
    "std-echo (crates/bench/src/bin/std-echo.rs): the reference design, a thread per connection, `read` and `write_all` \
     through a 64 KiB buffer",
    "OpenSSH: the bench's own sshd on a free loopback port (crates/bench/src/sshd.rs: a host key and an ed25519 client \
     key made for the run, `UsePAM no`, no DNS, no banner, Debian's sftp-server, and `SetEnv SHLVL=1` so that the \
     account's bash runs a remote command without reading `~/.bashrc`, whose cost is the account's, not ssh's; \
     shell-server's `/bin/sh -c` reads none either); clients with `-F /dev/null`, key \
     authentication and `BatchMode`; scp, sftp, `ssh host cat` and `ssh host true` each with aes128-gcm@openssh.com \
     and chacha20-poly1305@openssh.com, a row per cipher, and socklab compared with the fastest row; the rows that \
     take one cipher (keystrokes, trees, the md5 pipeline, the ControlMaster row) use the one a probe found fastest \
     (see the notes); commands on a kept connection go through a ControlMaster connection, ssh's own way to keep one",
];

/// A target is reported as out of reach only when the bound (`cpu::transfer_bound`)
/// allows less than this fraction of it.
pub const CLEARLY_BELOW: f64 = 0.9;

/// Renders the results as Markdown into `path`.
pub fn write(path: &Path, r: &Results, ctx: &Ctx) -> std::io::Result<()> {
    let mut md = String::new();
    let _ = writeln!(md, "# socklab benchmarks\n");
    let _ = writeln!(
        md,
        "What limits each lesson's speed, and why, is told in [performance.md](performance.md); this page is \
         the figures of one run.\n"
    );
    let _ = writeln!(
        md,
        "Written by `make bench{}` (crates/bench, scripts/bench.sh) in {:.0} s of wall time. Every figure is the median of {} run(s), with the min–max; \
         every ratio compares figures measured in this same run. Where a ratio has a spread, its two sides were run interleaved \
         (A, B, A, B…, so a drift of the machine hits both alike) and it is the median of the per-round ratios, the spread their min–max. \
         Everything ran on loopback.\n",
        if ctx.quick { " QUICK=1" } else { "" },
        r.total_secs,
        ctx.runs
    );
    let _ = writeln!(
        md,
        "Compare ratios within one report only. On the 2-core VM these were first measured on, absolute timings \
         drifted between runs minutes apart, and ratios moved by up to ±30% with them. Two causes were found: waking \
         a thread on the other (halted) virtual CPU cost about 40 µs, which the echo server's opt-in busy polling (`--busy-poll-us`) avoids; \
         and memory the guest frees goes back to the host, so writing a file into fresh memory ran at 280–650 MB/s \
         instead of 2 GB/s (which is why every transfer's destination is deleted just before it is written).\n"
    );
    let _ = writeln!(
        md,
        "Every peer runs at its defaults or at the setting that made it fastest, and the notes say which; \
         socat's echo is run at each transfer size tried, each its own row, and compared at the fastest (with `-b` above 4 KiB, its \
         8 KiB default included, it deadlocks on its own `PIPE` in a few runs in a hundred, a blocking write into a pipe only it \
         drains: such a run is tried again, and the notes count them and show where it waited). Beside the peers, each design has a reference in the \
         same run: every echo row is read against `std-echo` (crates/bench/src/bin/std-echo.rs, the simplest correct server: \
         a thread per connection, `read` and `write_all`), and every file transfer against `md5sum` (the hashing bound) and \
         `cp` + `sync` on the same filesystem (the bound for a durable copy). CPU is given per GiB for every transfer row, \
         so the cheapest subject per byte shows, not only the fastest.\n"
    );
    if ctx.quick {
        let _ = writeln!(md, "**Quick mode**: tiny sizes, one run. These numbers only show that the harness works; run `make bench` for real figures.\n");
    }
    let _ = writeln!(md, "## Machine\n");
    let _ = writeln!(md, "- date: {}", sh("date -u '+%Y-%m-%d %H:%M UTC'"));
    let _ = writeln!(md, "- cores: {}", sh("nproc"));
    let _ = writeln!(
        md,
        "- CPU: {}",
        sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")
    );
    let _ = writeln!(md, "- kernel: {}", sh("uname -sr"));
    let _ = writeln!(
        md,
        "- background load: {:.2} of the cores busy with other processes in the 2 s before the run{}",
        r.background_cores,
        if r.background_cores > 0.2 {
            " (**not a quiet machine: every figure below is suspect**)"
        } else {
            ""
        }
    );
    let _ = writeln!(md, "- memory: {}", sh("free -h | awk '/Mem:/ {print $2}'"));
    let _ = writeln!(md, "- peers: {}", sh("(socat -V | grep 'socat version'; iperf3 --version | head -1; ncat --version 2>&1 | head -1; ssh -V 2>&1) | tr '\\n' ';'"));
    let _ = writeln!(
        md,
        "- disk under /var/tmp (the on-disk rows): {}",
        sh("df -T /var/tmp | awk 'NR==2 {print $1, $2}'")
    );
    let _ = writeln!(md, "\n## Peers and their settings\n");
    for line in PEER_SETTINGS {
        let _ = writeln!(md, "- {line}");
    }
    let _ = writeln!(md, "\n## Ratios against peers\n");
    let _ = writeln!(
        md,
        "| comparison | socklab | peer | ratio | spread | target | |\n|---|---|---|---|---|---|---|"
    );
    for x in &r.ratios {
        let target = match x.target {
            Target::AtLeast(t) => format!("≥ {t}x"),
            Target::AtMost(t) => format!("≤ {t}x"),
            Target::None => "(context)".into(),
        };
        let verdict = match (x.target, x.met(), x.ceiling) {
            (Target::None, _, _) => String::new(),
            _ if !x.value().is_finite() => "not measured (see notes)".into(),
            // Tiny sizes measure start-up costs, not speed.
            _ if ctx.quick => "not judged (quick mode)".into(),
            (_, true, _) => "met".into(),
            // Only where the bound is clearly below the target: run-to-run noise is
            // about 10% on the machine these were first measured on.
            (Target::AtLeast(t), false, Some(c)) if c < t * CLEARLY_BELOW => {
                format!(
                    "**missed**; out of reach on these cores: the bound allows {}",
                    ratio(c)
                )
            }
            (_, false, _) => "**missed**".into(),
        };
        let spread = x.spread().map_or(String::new(), |(lo, hi)| {
            format!("{}–{}", ratio(lo), ratio(hi))
        });
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            cell(&x.what),
            num(x.ours),
            num(x.peer),
            ratio(x.value()),
            spread,
            target,
            verdict
        );
    }
    let mut case = "";
    for f in &r.figures {
        if f.case != case {
            case = &f.case;
            let _ = writeln!(
                md,
                "\n## {case}\n\n| subject | metric | median | min–max |\n|---|---|---|---|"
            );
        }
        let _ = writeln!(
            md,
            "| {} | {} | {} {} | {}–{} |",
            cell(&f.subject),
            cell(&f.metric),
            num(f.median()),
            f.unit,
            num(f.min()),
            num(f.max())
        );
    }
    if !r.notes.is_empty() {
        let _ = writeln!(md, "\n## Notes\n");
        for n in &r.notes {
            let _ = writeln!(md, "- {n}");
        }
    }
    if !r.failures.is_empty() {
        let _ = writeln!(md, "\n## Failures\n");
        for n in &r.failures {
            let _ = writeln!(md, "- {n}");
        }
    }
    std::fs::write(path, md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Figure;

    fn ctx(quick: bool) -> Ctx {
        Ctx {
            quick,
            runs: 3,
            bulk_bytes: None,
            file_bytes: None,
        }
    }

    fn written(r: &Results, quick: bool) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.md");
        write(&path, r, &ctx(quick)).unwrap();
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn a_pipe_in_a_name_stays_inside_its_table_cell() {
        let mut r = Results::default();
        r.figures.push(Figure {
            case: "trees".into(),
            subject: "tar c | ssh host tar x".into(),
            metric: "time".into(),
            unit: "s".into(),
            samples: vec![1.0],
        });
        r.paired_ratio("put -r / tar c | ssh", &[1.0], &[2.0], Target::AtMost(1.5));
        let md = written(&r, false);
        let row = md
            .lines()
            .find(|l| l.contains("tar c \\| ssh host"))
            .expect(&md);
        assert_eq!(row.matches(" | ").count(), 3, "{row}");
        let ratio = md
            .lines()
            .find(|l| l.contains("put -r / tar c"))
            .expect(&md);
        assert!(
            ratio.contains("tar c \\| ssh") && ratio.ends_with("| met |"),
            "{ratio}"
        );
    }

    #[test]
    fn the_report_links_the_narrative_and_gives_its_run_time_and_load() {
        let r = Results {
            total_secs: 612.0,
            background_cores: 1.5,
            ..Results::default()
        };
        let md = written(&r, false);
        assert!(md.contains("[performance.md](performance.md)"), "{md}");
        assert!(md.contains("in 612 s of wall time"), "{md}");
        assert!(md.contains("not a quiet machine"), "{md}");
        assert!(md.contains("OpenSSH:"), "{md}");
    }

    #[test]
    fn quick_mode_does_not_judge_targets() {
        let mut r = Results::default();
        r.paired_ratio("x", &[1.0], &[2.0], Target::AtLeast(2.0));
        let md = written(&r, true);
        assert!(md.contains("not judged (quick mode)"), "{md}");
        assert!(!md.contains("**missed**"), "{md}");
    }
}
