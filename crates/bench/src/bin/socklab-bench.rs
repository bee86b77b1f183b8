//! `socklab-bench`: measures each lesson beside the tools a user would otherwise reach
//! for, in the same run, and writes `docs/benchmarks.md`.
//!
//! ```text
//! make bench            # release build, every case 3 times, ~10 minutes
//! make bench QUICK=1    # tiny sizes, about a minute: checks the harness runs
//! make bench QUICK=1 ARGS="--only trees --tree-files 500 --runs 2"   # one case, small
//! ```
//!
//! Everything runs on loopback. Servers are the release binaries next to this one,
//! started on port 0 and stopped by PID; peers (socat, iperf3, ncat, nc, md5sum, and
//! OpenSSH through an sshd of the bench's own, see `socklab_bench::sshd`) are started
//! on a free port and killed when their case ends. Each case is bounded in bytes and
//! round trips, so the whole run stops by itself.

use clap::Parser;
use socklab_bench::cases::CASES;
use socklab_bench::stats::Target;
use socklab_bench::{report, Ctx, Results};
use std::path::PathBuf;
use std::process::ExitCode;

/// Run socklab's benchmarks and write docs/benchmarks.md.
#[derive(Debug, Parser)]
struct Args {
    /// Tiny sizes and one run per case: checks that every case runs.
    #[arg(long)]
    quick: bool,
    /// Runs per case (the report gives the median and the min–max); quick mode runs
    /// once unless this is given.
    #[arg(long)]
    runs: Option<usize>,
    /// Where to write the report.
    #[arg(long, default_value = "docs/benchmarks.md")]
    out: PathBuf,
    /// Only cases whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// MiB each way per echo bulk run, instead of the mode's default (16 quick, 1024
    /// full): for a targeted run.
    #[arg(long, value_name = "MIB")]
    bulk_mib: Option<u64>,
    /// MiB per file-transfer run, instead of the mode's default (32 quick, 1024 full).
    #[arg(long, value_name = "MIB")]
    file_mib: Option<u64>,
    /// Files of 4 KiB in the tree-copy rows, instead of the mode's default (200 quick,
    /// 10,000 full).
    #[arg(long, value_name = "N")]
    tree_files: Option<usize>,
    /// MiB through `cat` in the stdin rows, instead of the mode's default (16 quick,
    /// 256 full).
    #[arg(long, value_name = "MIB")]
    stream_mib: Option<u64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runs = args.runs.unwrap_or(if args.quick { 1 } else { 3 }).max(1);
    // The 10,000-connection case holds the client ends here.
    let _ = rlimit::increase_nofile_limit(30_000);
    let mut results = Results::default();
    let wants = |name: &str| args.only.as_deref().is_none_or(|o| name.contains(o));
    let ctx = Ctx {
        quick: args.quick,
        runs,
        bulk_bytes: args.bulk_mib.map(|m| m << 20),
        file_bytes: args.file_mib.map(|m| m << 20),
    };
    socklab_bench::set_sizes(socklab_bench::Sizes {
        tree_files: args.tree_files,
        stream_bytes: args.stream_mib.map(|m| m << 20),
    });
    let mut ok = true;
    // How busy the machine is without the bench: figures from a busy one are noise.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let idle = socklab_bench::cpu::MachineMeter::start();
    std::thread::sleep(std::time::Duration::from_secs(2));
    results.background_cores = idle.cores_busy(cores);
    eprintln!(
        "background load: {:.2} of {cores} cores busy before the run",
        results.background_cores
    );
    let started = std::time::Instant::now();
    for (name, case) in CASES {
        if !wants(name) {
            continue;
        }
        eprintln!("case: {name}");
        if let Err(e) = case(&ctx, &mut results) {
            eprintln!("error: case {name}: {e}");
            results.failures.push(format!("{name}: {e}"));
            ok = false;
        }
    }
    // Every case stops what it started, by PID: anything still running is a bug.
    let left = socklab_bench::peers::children_of(std::process::id());
    if !left.is_empty() {
        results.failures.push(format!(
            "processes the cases started are still running: {left:?}"
        ));
    }
    results.total_secs = started.elapsed().as_secs_f64();
    eprintln!("total time: {:.0} s", results.total_secs);
    if let Err(e) = report::write(&args.out, &results, &ctx) {
        eprintln!("error: writing {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    eprintln!("wrote {}", args.out.display());
    for r in &results.ratios {
        eprintln!(
            "  {}: {} {}",
            r.what,
            report::ratio(r.value()),
            if !r.value().is_finite() {
                "(not measured)"
            } else if matches!(r.target, Target::None) {
                "(context)"
            } else if args.quick {
                // Tiny sizes measure start-up costs, not speed: quick mode only checks
                // that every case runs and yields a number.
                "(quick mode: not judged)"
            } else if r.met() {
                "(target met)"
            } else {
                "(TARGET MISSED)"
            }
        );
    }
    if !results.failures.is_empty() {
        ok = false;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
