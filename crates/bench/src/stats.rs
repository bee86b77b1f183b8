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
}

impl Ratio {
    /// ours / peer.
    pub fn value(&self) -> f64 {
        if self.peer == 0.0 {
            f64::NAN
        } else {
            self.ours / self.peer
        }
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
        };
        assert!(r.met());
        let r = Ratio {
            what: "x".into(),
            ours: 1.0,
            peer: 1.0,
            target: Target::AtMost(0.75),
            ceiling: None,
        };
        assert!(!r.met());
    }
}
