//! What the echo bulk case's CPU figures say: each side's CPU per GiB, how busy each
//! thread was, and from that where each server's limit is, and how much a cheaper
//! server (`--splice`) can gain on these cores at most.

use crate::stats::percentile;
use crate::{cpu, Results};

/// The median of the runs that were measured (NaN if none was).
pub(super) fn finite_median(samples: &[f64]) -> f64 {
    let v: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    percentile(&v, 50.0)
}

/// One bulk subject's CPU measurements, a value per run.
#[derive(Debug, Default, Clone)]
pub(super) struct Cpu {
    /// Client and server, s/GiB.
    pub total: Vec<f64>,
    /// The server alone, s/GiB.
    pub server: Vec<f64>,
    /// Busy fractions (of one core): server, client writer, client reader.
    pub busy: [Vec<f64>; 3],
    /// Cores the whole machine kept busy during the run.
    pub machine: Vec<f64>,
    /// The client's `read` calls per MiB echoed.
    pub reads_per_mib: Vec<f64>,
}

impl Cpu {
    /// The client's share, s/GiB: the total less the server's.
    pub fn client(&self) -> Vec<f64> {
        self.total
            .iter()
            .zip(&self.server)
            .map(|(a, b)| a - b)
            .collect()
    }
}

/// The fastest an echo of this CPU cost per GiB (client and server) could run if it
/// kept all `cores` busy: MB/s.
pub(super) fn cpu_bound(total_per_gib: f64, cores: usize) -> f64 {
    cores as f64 * (1u64 << 30) as f64 / 1e6 / total_per_gib
}

/// Records `name`'s CPU figures and the note on where its limit is.
pub(super) fn record(r: &mut Results, name: &str, c: &Cpu, cores: usize) {
    let case = "echo bulk";
    r.figure(case, name, "CPU", "s/GiB", c.total.clone());
    // The server's share alone: what a design saves is here, not in the client's.
    r.figure(case, name, "server CPU", "s/GiB", c.server.clone());
    r.figure(case, name, "client CPU", "s/GiB", c.client());
    r.figure(
        case,
        name,
        "client reads per MiB echoed",
        "",
        c.reads_per_mib.clone(),
    );
    let busy = |k: usize| finite_median(&c.busy[k]);
    if busy(0).is_finite() {
        let threads = [
            ("the server", busy(0)),
            ("the client's writer", busy(1)),
            ("the client's reader", busy(2)),
        ];
        r.notes.push(format!(
            "echo bulk, where the limit is for {name} (median of the runs; socat's server is its forked child): {}; \
             at its CPU per byte (client and server) the {cores} cores allow at most {:.0} MB/s",
            cpu::limit(&threads, cores, finite_median(&c.machine)),
            cpu_bound(finite_median(&c.total), cores)
        ));
    }
}

/// The note comparing `ours` (e.g. `--splice`) with the reference: each side's CPU
/// per GiB, and the most it can be ahead on these cores when both ends share them
/// (the ratio of their CPU bounds).
pub(super) fn versus(r: &mut Results, (ours, o): (&str, &Cpu), (reference, f): (&str, &Cpu)) {
    let m = |v: &[f64]| finite_median(v);
    let (os, oc, fs, fc) = (m(&o.server), m(&o.client()), m(&f.server), m(&f.client()));
    if !(os + oc + fs + fc).is_finite() {
        return;
    }
    r.notes.push(format!(
        "echo bulk, {ours} against {reference}: server {os:.2} against {fs:.2} s of CPU per GiB, client {oc:.2} \
         against {fc:.2}; with client and server on the same cores, throughput can follow only the whole cost per \
         byte, so the most {ours} can be ahead of {reference} here is {:.2}x (what it saves in the server, less \
         what the client then spends)",
        (fs + fc) / (os + oc)
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_share_is_the_total_less_the_server() {
        let c = Cpu {
            total: vec![1.5, 2.0],
            server: vec![0.5, 1.5],
            ..Cpu::default()
        };
        assert_eq!(c.client(), vec![1.0, 0.5]);
    }

    #[test]
    fn two_cores_at_one_second_per_gib_allow_about_2150_mb_s() {
        let b = cpu_bound(1.0, 2);
        assert!((b - 2147.48).abs() < 0.1, "{b}");
    }
}
