//! The echo case.

use super::{peer_samples, repeat};
use crate::stats::{percentile, Target};
use crate::{cpu, echo, peers, Ctx, Results};
use socklab_testkit::{peak_rss_kib, rss_kib};

/// The echo servers measured. The first is the default (a blocking `read`), the one a
/// user gets and the one compared with the peers; the second is the same server with
/// busy polling turned on (opt-in, crates/echo/src/busy_poll.rs), to show in the same
/// run what it buys and what it costs.
const ECHO_MODES: [(&str, &[&str]); 3] = [
    ("echo-server (threads)", &[]),
    (
        "echo-server (threads) --busy-poll-us 100",
        &["--busy-poll-us", "100"],
    ),
    ("echo-server --event-loop", &["--event-loop"]),
];

/// The busy-polling row of [`ECHO_MODES`].
const ECHO_BUSY_POLL: usize = 1;

pub(super) fn echo_bulk(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let bytes: u64 = ctx.pick(16 << 20, 1 << 30);
    r.notes
        .push(format!("echo bulk: {} MiB each way per run", bytes >> 20));
    let mut ours = 0.0;
    for (name, mode) in ECHO_MODES {
        let srv = ctx.server("echo-server", mode);
        let addr = srv.connect_addr();
        let rates = repeat(ctx.runs, || echo::bulk(&addr, bytes))?;
        let m = r.figure("echo bulk", name, "throughput", "MB/s", rates);
        if ours == 0.0 {
            ours = m;
        }
        r.figure(
            "echo bulk",
            name,
            "peak RSS",
            "MiB",
            vec![peak_rss_kib(srv.pid()) as f64 / 1024.0],
        );
    }
    // A peer that fails is reported, not fatal: the harness judges socklab, not socat.
    let socat = match peers::socat_echo() {
        Ok(s) => s,
        Err(e) => {
            r.notes.push(format!("echo bulk: socat skipped: {e}"));
            return Ok(());
        }
    };
    let addr = format!("127.0.0.1:{}", socat.port);
    let samples = peer_samples(r, "echo bulk, socat", ctx.runs, || echo::bulk(&addr, bytes));
    let peer = r.figure(
        "echo bulk",
        "socat fork PIPE",
        "throughput",
        "MB/s",
        samples,
    );
    drop(socat);
    r.ratio(
        "echo bulk throughput, echo-server / socat",
        ours,
        peer,
        Target::AtLeast(2.4),
    );
    match repeat(ctx.runs, || peers::iperf3_rate(bytes)) {
        Ok(rates) => {
            let ceiling = r.figure(
                "echo bulk",
                "iperf3 (one way, the ceiling)",
                "throughput",
                "MB/s",
                rates,
            );
            r.ratio(
                "echo bulk throughput, echo-server / iperf3",
                ours,
                ceiling,
                Target::None,
            );
        }
        Err(e) => r.notes.push(format!("iperf3 skipped: {e}")),
    }
    Ok(())
}

pub(super) fn echo_round_trip(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let count = ctx.pick(500, 10_000);
    r.notes.push(format!(
        "echo round trip: {count} sequential 64-byte round trips per run, TCP_NODELAY; \
         CPU per round trip counts the client (this process) and the server"
    ));
    let measure = |r: &mut Results, name: &str, addr: &str| -> Result<f64, String> {
        let runs = repeat(ctx.runs, || echo::round_trips(addr, count, 64))?;
        let medians = runs.iter().map(|t| percentile(t, 50.0)).collect();
        let p99s = runs.iter().map(|t| percentile(t, 99.0)).collect();
        let m = r.figure("echo round trip", name, "median", "µs", medians);
        r.figure("echo round trip", name, "p99", "µs", p99s);
        Ok(m)
    };
    let mut medians = Vec::with_capacity(ECHO_MODES.len());
    for (name, mode) in ECHO_MODES {
        let srv = ctx.server("echo-server", mode);
        let meter = cpu::Meter::start(Some(srv.pid()));
        medians.push(measure(r, name, &srv.connect_addr())?);
        // What each mode costs: a spin, or a wake-up, shows up as CPU per round trip.
        let cpu_us = meter.seconds() / (ctx.runs * count) as f64 * 1e6;
        r.figure(
            "echo round trip",
            name,
            "CPU per round trip",
            "µs",
            vec![cpu_us],
        );
    }
    let peer = match peers::socat_echo() {
        Ok(socat) => measure(r, "socat fork PIPE", &format!("127.0.0.1:{}", socat.port)),
        Err(e) => Err(e),
    };
    let peer = match peer {
        Ok(m) => m,
        Err(e) => {
            r.notes.push(format!(
                "echo round trip, socat failed and is left out: {e}"
            ));
            f64::NAN
        }
    };
    // The default sleeps in `read` between messages, as socat does: context. The
    // target is for busy polling, the mode made to cut that wake-up.
    r.ratio(
        "echo round trip median, echo-server / socat",
        medians[0],
        peer,
        Target::None,
    );
    r.ratio(
        "echo round trip median, echo-server --busy-poll-us 100 / socat",
        medians[ECHO_BUSY_POLL],
        peer,
        Target::AtMost(0.75),
    );
    Ok(())
}

pub(super) fn echo_load(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let rounds = ctx.pick(10, 100);
    for clients in ctx.pick(vec![20, 50], vec![200, 1000]) {
        let case = format!("echo under load, {clients} clients × {rounds} round trips");
        for (name, mode) in ECHO_MODES {
            let max = (clients + 10).to_string();
            let srv = ctx.server(
                "echo-server",
                &[mode, &["--max-conns", &max, "--backlog", "4096"]].concat(),
            );
            let loads = repeat(ctx.runs, || {
                echo::load(&srv.connect_addr(), clients, rounds)
            })?;
            let bad: u64 = loads.iter().map(|l| l.mismatches + l.errors).sum();
            if bad > 0 {
                r.failures.push(format!(
                    "{case}, {name}: {bad} mismatched or failed round trips"
                ));
            }
            r.figure(
                &case,
                name,
                "throughput",
                "round trips/s",
                loads.iter().map(|l| l.per_sec).collect(),
            );
            r.figure(
                &case,
                name,
                "p99",
                "µs",
                loads.iter().map(|l| l.p99_us).collect(),
            );
            r.figure(&case, name, "mismatches + errors", "", vec![bad as f64]);
            r.figure(
                &case,
                name,
                "peak RSS",
                "MiB",
                vec![peak_rss_kib(srv.pid()) as f64 / 1024.0],
            );
        }
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
        let per_conn = if mode.contains(&"--event-loop") { 1 } else { 2 };
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
