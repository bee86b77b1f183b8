//! The echo case.

use super::echo_cpu::{self, finite_median, Cpu};
use super::repeat;
use crate::stats::{percentile, Target};
use crate::{cpu, echo, peers, Ctx, Results};
use socklab_testkit::{peak_rss_kib, rss_kib, Server};
use std::time::Duration;

/// The echo servers measured. The first is the default (a blocking `read`), the one a
/// user gets; the second is the same server with busy polling turned on (opt-in,
/// crates/echo/src/busy_poll.rs), to show in the same run what it buys and what it
/// costs; then one thread for all (`--event-loop`) and zero-copy (`--splice`).
const ECHO_MODES: [(&str, &[&str]); 4] = [
    ("echo-server (threads)", &[]),
    (
        "echo-server (threads) --busy-poll-us 100",
        &["--busy-poll-us", "100"],
    ),
    ("echo-server --event-loop", &["--event-loop"]),
    ("echo-server --splice", &["--splice"]),
];

/// The busy-polling row of [`ECHO_MODES`].
const ECHO_BUSY_POLL: usize = 1;

/// The reference every echo row is read against: the simplest correct server, a
/// thread per connection copying through a 64 KiB buffer (src/bin/std-echo.rs).
const STD_REFERENCE: &str = "std-echo (reference: thread per connection, 30 lines)";

/// A bulk run that moves nothing for this long has deadlocked.
const BULK_STALL: Duration = Duration::from_secs(3);

/// How many times a peer's run is tried in one round when it deadlocks: socat's
/// `PIPE` at its default size deadlocks on itself in a few runs in a hundred, and
/// its speed at that setting is still the one a user gets when it works. A peer
/// that deadlocks on every try of a round is left out of later rounds.
const PEER_TRIES: usize = 3;

/// What each echo row of the bulk case is judged by: (mode, against the best socat,
/// against the std reference).
fn bulk_targets(mode: &str) -> (Target, Target) {
    if mode.contains("--splice") {
        (Target::AtLeast(2.4), Target::AtLeast(1.2))
    } else {
        (Target::None, Target::None)
    }
}

/// A server the bulk case measures, kept running until the case ends.
struct Subject {
    name: String,
    addr: String,
    pid: u32,
    ours: bool,
    _running: Running,
}

enum Running {
    Server(Server),
    // Held only to keep it running (killed on drop).
    Peer(#[allow(dead_code)] peers::Peer),
}

/// Starts every echo-server mode, the std reference and socat at each of `socat`'s
/// settings, in that order ([`ECHO_MODES`], then the reference at index
/// `ECHO_MODES.len()`, then socat). A socat that does not start is noted.
fn start_subjects(
    ctx: &Ctx,
    r: &mut Results,
    case: &str,
    socat: &[(&str, &[&str])],
) -> Vec<Subject> {
    let mut subjects = Vec::new();
    for (name, mode) in ECHO_MODES {
        let srv = ctx.server("echo-server", mode);
        subjects.push(Subject {
            name: name.into(),
            addr: srv.connect_addr(),
            pid: srv.pid(),
            ours: true,
            _running: Running::Server(srv),
        });
    }
    let reference = ctx.server("std-echo", &[]);
    subjects.push(Subject {
        name: STD_REFERENCE.into(),
        addr: reference.connect_addr(),
        pid: reference.pid(),
        ours: false,
        _running: Running::Server(reference),
    });
    for &(name, options) in socat {
        // A peer that fails is reported, not fatal: the harness judges socklab, not socat.
        match peers::socat_echo(options) {
            Ok(p) => subjects.push(Subject {
                name: name.into(),
                addr: format!("127.0.0.1:{}", p.port),
                pid: p.pid(),
                ours: false,
                _running: Running::Peer(p),
            }),
            Err(e) => r.notes.push(format!("{case}: {name} skipped: {e}")),
        }
    }
    subjects
}

/// Notes a peer's deadlocked run, the first time with where its processes wait
/// (whose deadlock it is: a socat child in `anon_pipe_write` waits on its own `PIPE`
/// while this client reads), and kills the children stuck in it, which would
/// otherwise sit there until the peer is stopped.
fn note_peer_stall(r: &mut Results, s: &Subject, e: &str, count: usize) {
    if count == 1 {
        let waiting = peers::children_waiting_in(s.pid);
        r.notes.push(format!(
            "echo bulk: a run of {} deadlocked: {e}; its processes were waiting in: {}",
            s.name,
            if waiting.is_empty() {
                "(none found)"
            } else {
                &waiting
            }
        ));
    }
    peers::kill_children(s.pid);
}

/// One measured bulk run of `s` with the machine's load during it and its CPU meter,
/// tried up to `tries` times while it deadlocks; `None` when every try did. Our own
/// subject's failure is an error: only a peer's deadlock is retried.
fn bulk_tries(
    r: &mut Results,
    s: &Subject,
    bytes: u64,
    cores: usize,
    tries: usize,
    stalls: &mut usize,
) -> Result<Option<(echo::Bulk, f64, cpu::Meter)>, String> {
    for _ in 0..tries {
        let meter = cpu::Meter::start(Some(s.pid));
        let machine = cpu::MachineMeter::start();
        match echo::bulk_measured(&s.addr, bytes, BULK_STALL) {
            Ok(run) => {
                let busy = machine.cores_busy(cores);
                // socat reaps the child that served the run on SIGCHLD: give it the
                // moment that takes, so the child's CPU is counted.
                std::thread::sleep(Duration::from_millis(100));
                return Ok(Some((run, busy, meter)));
            }
            Err(e) if s.ours => return Err(format!("{}: {e}", s.name)),
            Err(e) => {
                *stalls += 1;
                note_peer_stall(r, s, &e, *stalls);
            }
        }
    }
    Ok(None)
}

pub(super) fn echo_bulk(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let bytes: u64 = ctx.bulk_bytes.unwrap_or(ctx.pick(16 << 20, 1 << 30));
    let per_gib = (1u64 << 30) as f64 / bytes as f64;
    r.notes.push(format!(
        "echo bulk: {} MiB each way per run, written in 256 KiB chunks by one thread while another reads the echo; \
         every subject is started first, then the runs go round them in turn ({} rounds); \
         CPU is user + system time of the client (this process) and the server (with the children it reaped: socat forks one per connection), per GiB echoed; \
         socat is tried at each setting in its own row and compared at its fastest, iperf3 runs at its defaults",
        bytes >> 20,
        ctx.runs
    ));
    let subjects = start_subjects(ctx, r, "echo bulk", &peers::SOCAT_SETTINGS);
    let mut rates = vec![Vec::with_capacity(ctx.runs); subjects.len()];
    let mut cpus = vec![Cpu::default(); subjects.len()];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut failed = vec![false; subjects.len()];
    let mut stalls = vec![0usize; subjects.len()];
    for _round in 0..ctx.runs {
        for (i, s) in subjects.iter().enumerate() {
            let tries = if s.ours { 1 } else { PEER_TRIES };
            let measured = match failed[i] {
                true => None,
                false => bulk_tries(r, s, bytes, cores, tries, &mut stalls[i])?,
            };
            let Some((run, busy, meter)) = measured else {
                if !failed[i] {
                    failed[i] = true;
                    r.notes.push(format!(
                        "echo bulk: {} deadlocked on each of {tries} tries in a round and is left out of later rounds",
                        s.name
                    ));
                }
                rates[i].push(f64::NAN);
                cpus[i].total.push(f64::NAN);
                cpus[i].server.push(f64::NAN);
                continue;
            };
            cpus[i].machine.push(busy);
            cpus[i]
                .reads_per_mib
                .push(run.reads as f64 / (bytes as f64 / (1 << 20) as f64));
            rates[i].push(run.rate);
            cpus[i].total.push(meter.seconds() * per_gib);
            let server = meter.server_seconds();
            cpus[i].server.push(server * per_gib);
            for (k, cpu) in [server, run.writer_cpu, run.reader_cpu]
                .into_iter()
                .enumerate()
            {
                cpus[i].busy[k].push(cpu / run.secs);
            }
        }
    }
    for (i, s) in subjects.iter().enumerate() {
        if stalls[i] > 0 {
            r.notes.push(format!(
                "echo bulk: {} deadlocked in {} of its runs; each was tried again (up to {PEER_TRIES} times a round) and only runs that ended count",
                s.name, stalls[i]
            ));
        }
    }
    let mut medians = Vec::with_capacity(subjects.len());
    for (i, s) in subjects.iter().enumerate() {
        medians.push(r.figure("echo bulk", &s.name, "throughput", "MB/s", rates[i].clone()));
        echo_cpu::record(r, &s.name, &cpus[i], cores);
        if let Running::Server(srv) = &s._running {
            r.figure(
                "echo bulk",
                &s.name,
                "peak RSS",
                "MiB",
                vec![peak_rss_kib(srv.pid()) as f64 / 1024.0],
            );
        }
    }
    let server_median: Vec<f64> = cpus.iter().map(|c| finite_median(&c.server)).collect();
    let cheapest = (0..subjects.len())
        .filter(|&i| server_median[i].is_finite())
        .min_by(|&a, &b| server_median[a].total_cmp(&server_median[b]));
    if let Some(c) = cheapest {
        r.notes.push(format!(
            "echo bulk: cheapest server per byte: {} ({:.2} s of server CPU per GiB echoed)",
            subjects[c].name, server_median[c]
        ));
    }
    let reference = ECHO_MODES.len();
    for (i, (name, _)) in ECHO_MODES.iter().enumerate() {
        echo_cpu::versus(r, (name, &cpus[i]), (STD_REFERENCE, &cpus[reference]));
    }
    // The fastest socat setting that worked is the one compared with.
    let socat = (reference + 1..subjects.len())
        .filter(|&i| medians[i].is_finite())
        .max_by(|&a, &b| medians[a].total_cmp(&medians[b]));
    for (i, (name, _)) in ECHO_MODES.iter().enumerate() {
        let (vs_socat, vs_std) = bulk_targets(name);
        match socat {
            Some(p) => {
                r.paired_ratio(
                    &format!(
                        "echo bulk throughput, {name} / {} (its fastest setting)",
                        subjects[p].name
                    ),
                    &rates[i],
                    &rates[p],
                    vs_socat,
                );
            }
            None => r
                .notes
                .push("echo bulk: no socat setting worked; no ratio against socat".into()),
        }
        r.paired_ratio(
            &format!("echo bulk throughput, {name} / std-echo reference"),
            &rates[i],
            &rates[reference],
            vs_std,
        );
    }
    drop(subjects);
    match repeat(ctx.runs, || peers::iperf3_rate(bytes)) {
        Ok(rates) => {
            let ceiling = r.figure(
                "echo bulk",
                "iperf3 (one way, the ceiling)",
                "throughput",
                "MB/s",
                rates,
            );
            // An echoed byte crosses loopback twice (there and back) where iperf3's
            // crosses once, on the same cores: half its rate is the echo's ceiling.
            for (i, (name, _)) in ECHO_MODES.iter().enumerate() {
                r.ratio(
                    &format!("echo bulk throughput, {name} / half of iperf3 (an echo crosses loopback twice)"),
                    medians[i],
                    ceiling / 2.0,
                    Target::None,
                );
            }
        }
        Err(e) => r.notes.push(format!("iperf3 skipped: {e}")),
    }
    Ok(())
}

pub(super) fn echo_round_trip(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let case = "echo round trip";
    let count = ctx.pick(500, 10_000);
    r.notes.push(format!(
        "echo round trip: {count} sequential 64-byte round trips per run, TCP_NODELAY, \
         the runs going round the subjects in turn ({} rounds); socat at its default \
         (its transfer size does not matter to 64-byte messages); \
         CPU per round trip counts the client (this process) and the server",
        ctx.runs
    ));
    let subjects = start_subjects(ctx, r, case, &peers::SOCAT_SETTINGS[..1]);
    let n = subjects.len();
    let (mut medians, mut p99s, mut cpu_us) = (vec![vec![]; n], vec![vec![]; n], vec![vec![]; n]);
    let mut failed = vec![false; n];
    for _round in 0..ctx.runs {
        for (i, s) in subjects.iter().enumerate() {
            let meter = cpu::Meter::start(Some(s.pid));
            let times = if failed[i] {
                Err(String::new())
            } else {
                echo::round_trips(&s.addr, count, 64)
            };
            match times {
                Ok(t) => {
                    medians[i].push(percentile(&t, 50.0));
                    p99s[i].push(percentile(&t, 99.0));
                    // What each mode costs: a spin, or a wake-up, shows up here.
                    cpu_us[i].push(meter.seconds() / count as f64 * 1e6);
                }
                Err(e) if s.ours => return Err(format!("{}: {e}", s.name)),
                Err(e) => {
                    if !failed[i] {
                        r.notes
                            .push(format!("{case}: {} failed and is left out: {e}", s.name));
                    }
                    failed[i] = true;
                    for v in [&mut medians[i], &mut p99s[i], &mut cpu_us[i]] {
                        v.push(f64::NAN);
                    }
                }
            }
        }
    }
    for (i, s) in subjects.iter().enumerate() {
        r.figure(case, &s.name, "median", "µs", medians[i].clone());
        r.figure(case, &s.name, "p99", "µs", p99s[i].clone());
        r.figure(case, &s.name, "CPU per round trip", "µs", cpu_us[i].clone());
    }
    let reference = ECHO_MODES.len();
    for (i, (name, _)) in ECHO_MODES.iter().enumerate() {
        // The default sleeps in `read` between messages, as socat does: context. The
        // target is for busy polling, the mode made to cut that wake-up.
        let target = if i == ECHO_BUSY_POLL {
            Target::AtMost(0.75)
        } else {
            Target::None
        };
        if let Some(socat) = subjects.get(reference + 1) {
            r.paired_ratio(
                &format!("echo round trip median, {name} / {}", socat.name),
                &medians[i],
                &medians[reference + 1],
                target,
            );
        }
        r.paired_ratio(
            &format!("echo round trip median, {name} / std-echo reference"),
            &medians[i],
            &medians[reference],
            Target::None,
        );
    }
    Ok(())
}

pub(super) fn echo_load(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let rounds = ctx.pick(10, 100);
    r.notes.push(format!(
        "echo under load: every echo-server mode and the std-echo reference, the runs going round them in turn \
         ({} rounds); socat is left out (it would fork a process per client)",
        ctx.runs
    ));
    for clients in ctx.pick(vec![20, 50], vec![200, 1000]) {
        let case = format!("echo under load, {clients} clients × {rounds} round trips");
        let max = (clients + 10).to_string();
        let mut servers: Vec<(&str, Server)> = ECHO_MODES
            .iter()
            .map(|&(name, mode)| {
                let args = [mode, &["--max-conns", &max, "--backlog", "4096"]].concat();
                (name, ctx.server("echo-server", &args))
            })
            .collect();
        servers.push((STD_REFERENCE, ctx.server("std-echo", &[])));
        let mut loads: Vec<Vec<echo::Load>> = vec![Vec::new(); servers.len()];
        for _round in 0..ctx.runs {
            for (i, (name, srv)) in servers.iter().enumerate() {
                let load = echo::load(&srv.connect_addr(), clients, rounds)
                    .map_err(|e| format!("{name}: {e}"))?;
                loads[i].push(load);
            }
        }
        for (i, (name, srv)) in servers.iter().enumerate() {
            let bad: u64 = loads[i].iter().map(|l| l.mismatches + l.errors).sum();
            if bad > 0 {
                r.failures.push(format!(
                    "{case}, {name}: {bad} mismatched or failed round trips"
                ));
            }
            let per_sec: Vec<f64> = loads[i].iter().map(|l| l.per_sec).collect();
            r.figure(&case, name, "throughput", "round trips/s", per_sec);
            let p99: Vec<f64> = loads[i].iter().map(|l| l.p99_us).collect();
            r.figure(&case, name, "p99", "µs", p99);
            r.figure(&case, name, "mismatches + errors", "", vec![bad as f64]);
            r.figure(
                &case,
                name,
                "peak RSS",
                "MiB",
                vec![peak_rss_kib(srv.pid()) as f64 / 1024.0],
            );
        }
        let reference = servers.len() - 1;
        let per_sec = |i: usize| loads[i].iter().map(|l| l.per_sec).collect::<Vec<_>>();
        for (i, (name, _)) in ECHO_MODES.iter().enumerate() {
            r.paired_ratio(
                &format!("{case}: throughput, {name} / std-echo reference"),
                &per_sec(i),
                &per_sec(reference),
                Target::None,
            );
        }
        servers.clear();
    }
    Ok(())
}

pub(super) fn echo_hold(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let clients: usize = ctx.pick(500, 10_000);
    let case = format!("echo, up to {clients} connections held at once");
    // The threaded server holds two descriptors per connection (it keeps a duplicate
    // so a stop can cut connections left after the grace period), so under a hard
    // open-file limit of L it can hold about L/2; the event loop needs one each.
    let hard = rlimit::Resource::NOFILE
        .get()
        .map(|(_, hard)| hard)
        .unwrap_or(u64::MAX);
    // Busy polling changes nothing about holding idle connections.
    for &(name, mode) in ECHO_MODES
        .iter()
        .filter(|(_, m)| !m.contains(&"--busy-poll-us"))
    {
        // --splice adds a pipe (two descriptors) per connection.
        let per_conn = if mode.contains(&"--event-loop") {
            1
        } else if mode.contains(&"--splice") {
            4
        } else {
            2
        };
        let n = clients.min((hard.saturating_sub(200) / per_conn) as usize);
        if n < clients {
            r.notes.push(format!(
                "{name} held {n} connections, not {clients}: two descriptors each under this machine's hard open-file limit of {hard}"
            ));
        }
        let max = (n + 10).to_string();
        let srv = ctx.server(
            "echo-server",
            &[mode, &["--max-conns", &max, "--backlog", "4096"]].concat(),
        );
        let t = std::time::Instant::now();
        let conns = echo::hold(&srv.connect_addr(), n)?;
        let secs = t.elapsed().as_secs_f64();
        let rss = rss_kib(srv.pid()) as f64 / 1024.0;
        let subject = format!("{name}, {n} connections");
        r.figure(&case, &subject, "RSS while holding them", "MiB", vec![rss]);
        r.figure(
            &case,
            &subject,
            "connect + one round trip each",
            "s",
            vec![secs],
        );
        drop(conns);
    }
    Ok(())
}
