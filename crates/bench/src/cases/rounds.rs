//! Interleaved rounds: every subject of a case runs once per round, in turn (A, B,
//! C, A, B, C…), so a drift of the machine hits them all alike, and each ratio is the
//! median of per-round ratios (see `Results::paired_ratio`).

use crate::{cpu, peers, Results};
use std::time::Duration;

/// One subject's values (the unit its `run` returns) and CPU figures, one per round
/// (NaN for a round not measured).
pub(super) type Runs = (Vec<f64>, Vec<f64>);

/// How long to wait for a server to reap the processes a run left (sshd forks one
/// per connection): their CPU reaches the meter only once they are reaped.
const REAP_LIMIT: Duration = Duration::from_secs(2);

/// One subject of a case: `prepare` runs with the clock stopped, `run` is measured
/// and returns its value (MB/s, ms, s…); a peer's failure is noted and the peer left
/// out of later rounds, ours ends the case.
pub(super) struct Subject<'a> {
    pub name: String,
    pub ours: bool,
    /// A server process whose CPU (and that of the children it reaps) is counted.
    pub server: Option<u32>,
    /// Wait, after each run, until `server` has no child left (sshd's connection
    /// processes), so their CPU is counted in the run that made them.
    pub reaps: bool,
    pub prepare: Box<dyn FnMut() + 'a>,
    pub run: Box<dyn FnMut() -> Result<f64, String> + 'a>,
}

impl<'a> Subject<'a> {
    /// A subject with nothing to prepare and no server to meter.
    pub fn new(
        name: impl Into<String>,
        ours: bool,
        run: impl FnMut() -> Result<f64, String> + 'a,
    ) -> Self {
        Subject {
            name: name.into(),
            ours,
            server: None,
            reaps: false,
            prepare: Box::new(|| ()),
            run: Box::new(run),
        }
    }

    /// Meters `server` too.
    pub fn server(mut self, pid: u32) -> Self {
        self.server = Some(pid);
        self
    }

    /// Meters `server` too, waiting for it to reap what each run left.
    pub fn reaping(mut self, pid: u32) -> Self {
        self.server = Some(pid);
        self.reaps = true;
        self
    }

    /// Runs `prepare` before each run, with the clock stopped.
    pub fn prepare(mut self, prepare: impl FnMut() + 'a) -> Self {
        self.prepare = Box::new(prepare);
        self
    }
}

/// Runs `rounds` rounds, each subject once per round in turn. Returns each subject's
/// values and CPU seconds (of this process, its reaped children and the subject's
/// server) times `cpu_scale` (per GiB for a transfer: GiB over bytes moved), and the
/// subjects' names, both in `subjects` order. The subjects are dropped on return, so
/// what their closures borrowed is free again for the case.
pub(super) fn interleaved(
    r: &mut Results,
    case: &str,
    rounds: usize,
    cpu_scale: f64,
    mut subjects: Vec<Subject<'_>>,
) -> Result<(Vec<Runs>, Vec<String>), String> {
    let mut out = vec![(Vec::new(), Vec::new()); subjects.len()];
    let mut failed = vec![false; subjects.len()];
    for _round in 0..rounds {
        for (i, s) in subjects.iter_mut().enumerate() {
            if failed[i] {
                out[i].0.push(f64::NAN);
                out[i].1.push(f64::NAN);
                continue;
            }
            (s.prepare)();
            let meter = cpu::Meter::start(s.server);
            match (s.run)() {
                Ok(value) => {
                    if let (true, Some(pid)) = (s.reaps, s.server) {
                        socklab_testkit::wait_until(REAP_LIMIT, || {
                            peers::children_of(pid).is_empty()
                        });
                    }
                    out[i].0.push(value);
                    out[i].1.push(meter.seconds() * cpu_scale);
                }
                Err(e) if s.ours => return Err(format!("{}: {e}", s.name)),
                Err(e) => {
                    r.notes
                        .push(format!("{case}: {} failed and is left out: {e}", s.name));
                    failed[i] = true;
                    out[i].0.push(f64::NAN);
                    out[i].1.push(f64::NAN);
                }
            }
        }
    }
    Ok((out, subjects.into_iter().map(|s| s.name).collect()))
}

/// The index, among `candidates`, of the subject whose median value is the best
/// (highest with `higher_is_better`, else lowest), ignoring subjects not measured.
pub(super) fn best(runs: &[Runs], candidates: &[usize], higher_is_better: bool) -> Option<usize> {
    let median = |i: usize| {
        let v: Vec<f64> = runs[i]
            .0
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        crate::stats::percentile(&v, 50.0)
    };
    candidates
        .iter()
        .copied()
        .filter(|&i| median(i).is_finite())
        .max_by(|&a, &b| {
            let (a, b) = (median(a), median(b));
            if higher_is_better {
                a.total_cmp(&b)
            } else {
                b.total_cmp(&a)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_picks_the_highest_or_lowest_median_and_skips_failed_subjects() {
        let runs: Vec<Runs> = vec![
            (vec![1.0, 2.0, 3.0], vec![]),
            (vec![5.0, 4.0, 6.0], vec![]),
            (vec![f64::NAN, f64::NAN], vec![]),
            (vec![0.5, 9.0, 0.7], vec![]),
        ];
        assert_eq!(best(&runs, &[0, 1, 2, 3], true), Some(1));
        assert_eq!(best(&runs, &[0, 1, 2, 3], false), Some(3));
        assert_eq!(best(&runs, &[2], true), None);
    }

    #[test]
    fn rounds_alternate_subjects_and_a_failing_peer_is_left_out() {
        let order = std::cell::RefCell::new(Vec::new());
        let mut r = Results::default();
        let mut peer_calls = 0;
        let subjects = vec![
            Subject::new("ours", true, || {
                order.borrow_mut().push('A');
                Ok(1.0)
            }),
            Subject::new("peer", false, || {
                order.borrow_mut().push('B');
                peer_calls += 1;
                if peer_calls == 2 {
                    Err("broke".into())
                } else {
                    Ok(2.0)
                }
            }),
        ];
        let (runs, names) = interleaved(&mut r, "case", 3, 1.0, subjects).unwrap();
        assert_eq!(names, ["ours", "peer"]);
        assert_eq!(order.into_inner(), vec!['A', 'B', 'A', 'B', 'A']);
        assert_eq!(runs[0].0, vec![1.0, 1.0, 1.0]);
        assert_eq!(runs[1].0[0], 2.0);
        assert!(runs[1].0[1].is_nan() && runs[1].0[2].is_nan());
        assert!(r
            .notes
            .iter()
            .any(|n| n.contains("peer failed") && n.contains("broke")));
    }
}
