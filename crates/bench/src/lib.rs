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
pub mod openssh;
pub mod peers;
pub mod pty;
pub mod report;
pub mod shell;
pub mod sshd;
pub mod stats;
pub mod stress;
pub mod tree;

use socklab_testkit::Server;
use stats::{Figure, Ratio, Target};
use std::process::Command;
use std::sync::OnceLock;

/// What a run collects.
#[derive(Debug, Default)]
pub struct Results {
    /// Every figure measured.
    pub figures: Vec<Figure>,
    /// Every ratio against a peer.
    pub ratios: Vec<Ratio>,
    /// Wall time of the whole run, seconds (set when it ends).
    pub total_secs: f64,
    /// Cores other processes kept busy in the moments before the run, while the
    /// bench did nothing: a machine that is not quiet shows here.
    pub background_cores: f64,
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

/// Sizes of the tree and stdin-stream cases, from socklab-bench's flags (set once with
/// [`set_sizes`]; `None` keeps the mode's default). They live outside [`Ctx`] so its
/// other users (socklab-stress) need not set them.
#[derive(Debug, Default, Clone)]
pub struct Sizes {
    /// `--tree-files`: files in the tree-copy rows.
    pub tree_files: Option<usize>,
    /// `--stream-mib`: bytes through `cat` in the stdin rows.
    pub stream_bytes: Option<u64>,
}

static SIZES: OnceLock<Sizes> = OnceLock::new();

/// ssh's fastest cipher on this machine, probed once by the first case that needs it
/// (see [`Ctx::ssh_cipher`]).
static SSH_FASTEST: OnceLock<Result<String, String>> = OnceLock::new();

/// Sets the sizes the flags asked for; only the first call counts.
pub fn set_sizes(sizes: Sizes) {
    let _ = SIZES.set(sizes);
}

impl Ctx {
    /// Starts server binary `bin` (the release build beside this one) on port 0 with
    /// `args`, logging only warnings.
    pub fn server(&self, bin: &str, args: &[&str]) -> Server {
        start_quiet(socklab_testkit::server_command(bin, args))
    }

    /// ssh's fastest cipher of [`sshd::CIPHERS`] here, for the rows that use one
    /// cipher (latency, trees, the md5 pipeline): each is timed through
    /// `ssh host 'cat > /dev/null'`, alternately, twice; the first call probes, later
    /// ones reuse the answer. The probe's figures go into the notes.
    pub fn ssh_cipher(&self, r: &mut Results, sshd: &sshd::Sshd) -> Result<String, String> {
        SSH_FASTEST
            .get_or_init(|| {
                let size: u64 = self.pick(8 << 20, 128 << 20);
                let dir = ftp::scratch()?;
                let src = dir.path().join("probe.bin");
                ftp::make_file(&src, size)?;
                let mut rates = vec![Vec::new(); sshd::CIPHERS.len()];
                for _ in 0..2 {
                    for (i, c) in sshd::CIPHERS.iter().enumerate() {
                        if let Ok(v) = openssh::probe(sshd, c, &src, size) {
                            rates[i].push(v);
                        }
                    }
                }
                let best = (0..rates.len())
                    .filter(|&i| !rates[i].is_empty())
                    .max_by(|&a, &b| {
                        stats::percentile(&rates[a], 50.0)
                            .total_cmp(&stats::percentile(&rates[b], 50.0))
                    })
                    .ok_or("no cipher worked in `ssh host cat`")?;
                let said: Vec<String> = sshd::CIPHERS
                    .iter()
                    .zip(&rates)
                    .map(|(c, v)| format!("{c} {:.0} MB/s", stats::percentile(v, 50.0)))
                    .collect();
                r.notes.push(format!(
                    "ssh's fastest cipher here, from `ssh host 'cat > /dev/null'` of {} MiB, each cipher twice in turn: \
                     {} ({}); the rows that use one cipher use it",
                    size >> 20,
                    sshd::CIPHERS[best],
                    said.join(", ")
                ));
                Ok(sshd::CIPHERS[best].to_owned())
            })
            .clone()
    }

    /// Files in the tree-copy rows: `--tree-files`, else 200 quick, 10,000 full.
    pub fn tree_files(&self) -> usize {
        let flag = SIZES.get().and_then(|s| s.tree_files);
        flag.unwrap_or(self.pick(200, 10_000)).max(1)
    }

    /// Bytes through `cat` in the stdin rows: `--stream-mib`, else 16 MiB quick, 256
    /// MiB full.
    pub fn stream_bytes(&self) -> u64 {
        let flag = SIZES.get().and_then(|s| s.stream_bytes);
        flag.unwrap_or(self.pick(16 << 20, 256 << 20)).max(1)
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
