//! Medians, percentiles and the figures a report is made of.

/// One measured quantity of one subject (socklab or a peer) over several runs.
#[derive(Debug, Clone)]
pub struct Figure {
    /// The case, e.g. "echo bulk".
    pub case: String,
    /// Who was measured, e.g. "echo-server" or "socat".
    pub subject: String,
    /// What, e.g. "throughput".
    pub metric: String,
    /// Unit, e.g. "MB/s".
    pub unit: String,
    /// One value per run.
    pub samples: Vec<f64>,
}

impl Figure {
    /// The median of the runs.
    pub fn median(&self) -> f64 {
        percentile(&self.samples, 50.0)
    }
    /// The smallest run.
    pub fn min(&self) -> f64 {
        self.samples.iter().copied().fold(f64::INFINITY, f64::min)
    }
    /// The largest run.
    pub fn max(&self) -> f64 {
        self.samples
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

/// How a ratio is judged against its target.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// ours / peer must be at least this.
    AtLeast(f64),
    /// ours / peer must be at most this.
    AtMost(f64),
    /// Reported only.
    None,
}

/// ours / peer, with its target.
#[derive(Debug, Clone)]
pub struct Ratio {
    /// What is compared, in words.
    pub what: String,
    /// socklab's median.
    pub ours: f64,
    /// The peer's median.
    pub peer: f64,
    /// The goal.
    pub target: Target,
    /// The best ratio this machine allows any program, where one was worked out from
    /// figures measured in the same run (see `cpu::transfer_bound`).
    pub ceiling: Option<f64>,
    /// ours / peer of each interleaved run (A, B, A, B…), when the two were measured
    /// in pairs: the ratio is then their median, and their min–max is its spread.
    pub pairs: Vec<f64>,
}

impl Ratio {
    /// The median of the paired runs' ratios when there are any, else ours / peer.
    pub fn value(&self) -> f64 {
        let pairs: Vec<f64> = self
            .pairs
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        if !pairs.is_empty() {
            percentile(&pairs, 50.0)
        } else if self.peer == 0.0 {
            f64::NAN
        } else {
            self.ours / self.peer
        }
    }
    /// The smallest and largest of the paired runs' ratios, if it was measured in pairs.
    pub fn spread(&self) -> Option<(f64, f64)> {
        let pairs = self.pairs.iter().copied().filter(|v| v.is_finite());
        let (lo, hi) = pairs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        (lo <= hi).then_some((lo, hi))
    }
    /// True when the target is met (or there is none).
    pub fn met(&self) -> bool {
        match self.target {
            Target::AtLeast(t) => self.value() >= t,
            Target::AtMost(t) => self.value() <= t,
            Target::None => true,
        }
    }
}

/// The `p`th percentile (nearest rank) of `values`; NaN when empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 50.0), 2.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn ratio_targets() {
        let r = Ratio {
            what: "x".into(),
            ours: 3.0,
            peer: 1.0,
            target: Target::AtLeast(2.4),
            ceiling: None,
            pairs: vec![],
        };
        assert!(r.met());
        let r = Ratio {
            what: "x".into(),
            ours: 1.0,
            peer: 1.0,
            target: Target::AtMost(0.75),
            ceiling: None,
            pairs: vec![],
        };
        assert!(!r.met());
    }

    #[test]
    fn paired_ratio_is_the_median_of_the_pairs_with_their_spread() {
        let r = Ratio {
            what: "x".into(),
            ours: 10.0,
            peer: 1.0,
            target: Target::None,
            ceiling: None,
            pairs: vec![2.0, f64::NAN, 3.0, 1.5],
        };
        assert_eq!(r.value(), 2.0);
        assert_eq!(r.spread(), Some((1.5, 3.0)));
        let unpaired = Ratio { pairs: vec![], ..r };
        assert_eq!(unpaired.value(), 10.0);
        assert_eq!(unpaired.spread(), None);
    }
}
