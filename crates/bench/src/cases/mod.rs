//! The benchmark cases: each measures one lesson beside the tools a user would reach
//! for, in the same run, and records figures and ratios in [`Results`].

mod chat;
mod echo;
mod echo_cpu;
mod ftp;
mod rounds;
mod shell;
mod ssh_files;
mod ssh_shell;

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
    ("remote shell fresh connection", ssh_shell::fresh_connection),
    ("remote shell keystrokes", ssh_shell::keystrokes),
    ("remote shell stdin", ssh_shell::stdin_cat),
    ("file transfer", ftp::file_transfer),
    ("file transfer beside OpenSSH", ssh_files::files_vs_ssh),
    ("file trees", ssh_files::trees),
    ("file transfer on disk", ftp::file_transfer_on_disk),
    ("chat relay", chat::chat_relay),
];

fn repeat<T>(runs: usize, mut f: impl FnMut() -> Result<T, String>) -> Result<Vec<T>, String> {
    (0..runs).map(|_| f()).collect()
}

/// Records what was measured of `subject`: its throughput (MB/s) and CPU
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
