//! # socklab-bench
//!
//! The benchmark and stress drivers of socklab, and the load patterns they share:
//!
//! - `socklab-bench` (`make bench`): each lesson beside the tool a user would reach for
//!   otherwise, in the same run; writes docs/benchmarks.md.
//! - `socklab-stress` (`make stress`): many clients at once against every server,
//!   bounded to a few minutes; fails on any mismatch or lost data.

pub mod cases;
pub mod chat;
pub mod cpu;
pub mod echo;
pub mod ftp;
pub mod peers;
pub mod report;
pub mod shell;
pub mod stats;

use socklab_testkit::Server;
use stats::{Figure, Ratio, Target};
use std::process::Command;

/// What a run collects.
#[derive(Debug, Default)]
pub struct Results {
    /// Every figure measured.
    pub figures: Vec<Figure>,
    /// Every ratio against a peer.
    pub ratios: Vec<Ratio>,
    /// Wall time of the whole run, seconds (set when it ends).
    pub total_secs: f64,
    /// Sentences for the report (sizes, skipped peers).
    pub notes: Vec<String>,
    /// Hard failures: mismatches, lost data.
    pub failures: Vec<String>,
}

impl Results {
    /// Records a figure and returns its median.
    pub fn figure(
        &mut self,
        case: &str,
        subject: &str,
        metric: &str,
        unit: &str,
        samples: Vec<f64>,
    ) -> f64 {
        let f = Figure {
            case: case.into(),
            subject: subject.into(),
            metric: metric.into(),
            unit: unit.into(),
            samples,
        };
        let m = f.median();
        eprintln!("  {case} | {subject} | {metric}: {m:.2} {unit}");
        self.figures.push(f);
        m
    }

    /// Records a ratio of two medians; returns it, to set its ceiling.
    pub fn ratio(&mut self, what: &str, ours: f64, peer: f64, target: Target) -> &mut Ratio {
        self.ratios.push(Ratio {
            what: what.into(),
            ours,
            peer,
            target,
            ceiling: None,
            pairs: vec![],
        });
        let last = self.ratios.len() - 1;
        &mut self.ratios[last]
    }

    /// Records a ratio measured in interleaved pairs: `ours[i]` and `peer[i]` come from
    /// the same round. Its value is the median of the per-round ratios.
    pub fn paired_ratio(
        &mut self,
        what: &str,
        ours: &[f64],
        peer: &[f64],
        target: Target,
    ) -> &mut Ratio {
        let pairs = ours.iter().zip(peer).map(|(o, p)| o / p).collect();
        let median = |v: &[f64]| stats::percentile(v, 50.0);
        let x = self.ratio(what, median(ours), median(peer), target);
        x.pairs = pairs;
        x
    }
}

/// What every case gets.
#[derive(Debug)]
pub struct Ctx {
    /// Tiny sizes.
    pub quick: bool,
    /// Runs per case.
    pub runs: usize,
    /// `--bulk-mib`: bytes each way per echo bulk run, overriding the mode's default.
    pub bulk_bytes: Option<u64>,
    /// `--file-mib`: bytes per file-transfer run, overriding the mode's default.
    pub file_bytes: Option<u64>,
}

impl Ctx {
    /// Starts server binary `bin` (the release build beside this one) on port 0 with
    /// `args`, logging only warnings.
    pub fn server(&self, bin: &str, args: &[&str]) -> Server {
        start_quiet(socklab_testkit::server_command(bin, args))
    }

    /// `quick` in quick mode, `full` otherwise.
    pub fn pick<T>(&self, quick: T, full: T) -> T {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

/// Starts one of testkit's server commands logging only warnings: a server that logs a
/// line per connection would spend part of what is measured writing its log.
pub fn start_quiet(mut cmd: Command) -> Server {
    Server::spawn_with(cmd.env("RUST_LOG", "warn"))
}
