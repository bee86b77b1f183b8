//! The benchmark cases: each measures one lesson beside the tools a user would reach
//! for, in the same run, and records figures and ratios in [`Results`].

mod chat;
mod echo;
mod ftp;
mod shell;

use crate::{cpu, Ctx, Results};

/// One case: measures, records into `Results`, and fails only when socklab does.
pub type Case = fn(&Ctx, &mut Results) -> Result<(), String>;

/// Every case, in report order.
pub const CASES: &[(&str, Case)] = &[
    ("echo bulk", echo::echo_bulk),
    ("echo round trip", echo::echo_round_trip),
    ("echo under load", echo::echo_load),
    ("echo 10,000 connections", echo::echo_hold),
    ("remote shell", shell::shell_exec),
    ("file transfer", ftp::file_transfer),
    ("chat relay", chat::chat_relay),
];

fn repeat<T>(runs: usize, mut f: impl FnMut() -> Result<T, String>) -> Result<Vec<T>, String> {
    (0..runs).map(|_| f()).collect()
}

/// Runs `prepare` then `f`, `runs` times, metering the CPU of each `f` (this process,
/// the children it reaped, and `server`). Returns `f`'s results and the CPU seconds
/// per GiB of `size` bytes.
fn metered(
    runs: usize,
    server: Option<u32>,
    size: u64,
    mut prepare: impl FnMut(),
    mut f: impl FnMut() -> Result<f64, String>,
) -> Result<(Vec<f64>, Vec<f64>), String> {
    let per_gib = (1u64 << 30) as f64 / size as f64;
    let (mut results, mut cpu) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        prepare();
        let meter = cpu::Meter::start(server);
        results.push(f()?);
        cpu.push(meter.seconds() * per_gib);
    }
    Ok((results, cpu))
}

/// Records what [`metered`] measured of `subject`: its throughput (MB/s) and CPU
/// (s/GiB) figures. Returns the median throughput, and the CPU of its cheapest run,
/// which is what the bound is built from.
fn rate_and_cpu(
    r: &mut Results,
    case: &str,
    subject: &str,
    (rates, cpu): (Vec<f64>, Vec<f64>),
) -> (f64, f64) {
    let cheapest = cpu::least(&cpu);
    let median = r.figure(case, subject, "throughput", "MB/s", rates);
    r.figure(case, subject, "CPU", "s/GiB", cpu);
    (median, cheapest)
}

/// [`metered`] for a peer (nc, md5sum…): a failure is noted and shown as "–", not
/// fatal: the harness judges socklab, not the tools beside it.
fn peer_metered(
    r: &mut Results,
    what: &str,
    runs: usize,
    size: u64,
    prepare: impl FnMut(),
    f: impl FnMut() -> Result<f64, String>,
) -> (Vec<f64>, Vec<f64>) {
    metered(runs, None, size, prepare, f).unwrap_or_else(|e| {
        r.notes.push(format!("{what} failed and is left out: {e}"));
        (vec![f64::NAN], vec![f64::NAN])
    })
}
