//! `socklab-bench`: measures each lesson beside the tools a user would otherwise reach
//! for, in the same run, and writes `docs/benchmarks.md`.
//!
//! ```text
//! make bench            # release build, every case 3 times, ~10 minutes
//! make bench QUICK=1    # tiny sizes, well under a minute: checks the harness runs
//! ```
//!
//! Everything runs on loopback. Servers are the release binaries next to this one,
//! started on port 0 and stopped by PID; peers (socat, iperf3, ncat, nc, md5sum) are
//! started on a free port and killed when their case ends. Each case is bounded in
//! bytes and round trips, so the whole run stops by itself.

use clap::Parser;
use socklab_bench::stats::{percentile, Target};
use socklab_bench::{chat, cpu, echo, ftp, peers, report, shell, start_quiet, Ctx, Results};
use socklab_testkit::{peak_rss_kib, rss_kib, shell_server, Cost, Fixture};
use std::path::PathBuf;
use std::process::ExitCode;

/// Run socklab's benchmarks and write docs/benchmarks.md.
#[derive(Debug, Parser)]
struct Args {
    /// Tiny sizes and one run per case: checks that every case runs.
    #[arg(long)]
    quick: bool,
    /// Runs per case (the report gives the median and the min–max).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Where to write the report.
    #[arg(long, default_value = "docs/benchmarks.md")]
    out: PathBuf,
    /// Only cases whose name contains this.
    #[arg(long)]
    only: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runs = if args.quick { 1 } else { args.runs.max(1) };
    // The 10,000-connection case holds the client ends here.
    let _ = rlimit::increase_nofile_limit(30_000);
    let mut results = Results::default();
    let wants = |name: &str| args.only.as_deref().is_none_or(|o| name.contains(o));
    let ctx = Ctx {
        quick: args.quick,
        runs,
    };
    let mut ok = true;
    for (name, case) in CASES {
        if !wants(name) {
            continue;
        }
        eprintln!("case: {name}");
        if let Err(e) = case(&ctx, &mut results) {
            eprintln!("error: case {name}: {e}");
            results.failures.push(format!("{name}: {e}"));
            ok = false;
        }
    }
    if let Err(e) = report::write(&args.out, &results, &ctx) {
        eprintln!("error: writing {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    eprintln!("wrote {}", args.out.display());
    for r in &results.ratios {
        eprintln!(
            "  {}: {} {}",
            r.what,
            report::ratio(r.value()),
            if !r.value().is_finite() {
                "(not measured)"
            } else if matches!(r.target, Target::None) {
                "(context)"
            } else if args.quick {
                // Tiny sizes measure start-up costs, not speed: quick mode only checks
                // that every case runs and yields a number.
                "(quick mode: not judged)"
            } else if r.met() {
                "(target met)"
            } else {
                "(TARGET MISSED)"
            }
        );
    }
    if !results.failures.is_empty() {
        ok = false;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

type Case = fn(&Ctx, &mut Results) -> Result<(), String>;

const CASES: &[(&str, Case)] = &[
    ("echo bulk", echo_bulk),
    ("echo round trip", echo_round_trip),
    ("echo under load", echo_load),
    ("echo 10,000 connections", echo_hold),
    ("remote shell", shell_exec),
    ("file transfer", file_transfer),
    ("chat relay", chat_relay),
];

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

/// Measures a peer (socat, nc, md5sum…) `runs` times. A peer that fails is noted and
/// shown as "–", not fatal: the harness judges socklab, not the tools beside it.
fn peer_samples(
    r: &mut Results,
    what: &str,
    runs: usize,
    f: impl FnMut() -> Result<f64, String>,
) -> Vec<f64> {
    match repeat(runs, f) {
        Ok(v) => v,
        Err(e) => {
            r.notes.push(format!("{what} failed and is left out: {e}"));
            vec![f64::NAN]
        }
    }
}

fn repeat<T>(runs: usize, mut f: impl FnMut() -> Result<T, String>) -> Result<Vec<T>, String> {
    (0..runs).map(|_| f()).collect()
}

fn echo_bulk(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
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

fn echo_round_trip(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
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

fn echo_load(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
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

fn echo_hold(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
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

fn shell_exec(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let count = ctx.pick(50, 1000);
    let case = format!("remote shell, {count} × `true`");
    r.notes.push(format!("remote shell: {count} `exec true` on one logged-in session per run; ncat gets one connection per command"));
    // The real argon2 cost, as a user's users file has; the session logs in once.
    let fx = Fixture::with_cost(Cost::Real);
    let srv = start_quiet(shell_server(&fx, &[]));
    let medians =
        |runs: Vec<Vec<f64>>| runs.iter().map(|t| percentile(t, 50.0)).collect::<Vec<_>>();
    let ours = r.figure(
        &case,
        "shell-server exec",
        "median per command",
        "ms",
        medians(repeat(ctx.runs, || {
            shell::exec_loop(srv.port(), "true", count)
        })?),
    );
    r.figure(
        &case,
        "shell-server",
        "peak RSS",
        "MiB",
        vec![peak_rss_kib(srv.pid()) as f64 / 1024.0],
    );
    let local = r.figure(
        &case,
        "local sh -c true",
        "median per command",
        "ms",
        medians(repeat(ctx.runs, || shell::local_sh("true", count))?),
    );
    r.ratio(
        "remote shell exec true, shell-server / local sh -c true",
        ours,
        local,
        Target::AtMost(1.5),
    );
    match peers::start(
        "ncat",
        &["-l", "-k", "127.0.0.1", "{port}", "--exec", "/bin/true"],
    ) {
        Ok(ncat) => {
            let m = r.figure(
                &case,
                "ncat --exec /bin/true",
                "median per command",
                "ms",
                medians(repeat(ctx.runs, || shell::ncat_exec(ncat.port, count))?),
            );
            r.ratio(
                "remote shell exec true, shell-server / ncat --exec",
                ours,
                m,
                Target::None,
            );
        }
        Err(e) => r.notes.push(format!("ncat skipped: {e}")),
    }
    Ok(())
}

fn file_transfer(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let size: u64 = ctx.pick(32 << 20, 1 << 30);
    let case = format!("file transfer, {} MiB", size >> 20);
    r.notes.push(format!(
        "file transfer: one {} MiB file of random data on tmpfs (/dev/shm) for every subject, so the disk is not measured; \
         put and get include connecting, logging in, md5 on both ends and the server's fsync; \
         every subject's destination file is deleted just before each run writes it (see crates/bench/src/ftp.rs, `fresh`); \
         CPU is user + system time of every process the subject ran (for ftp, the client and the server), per GiB moved",
        size >> 20
    ));
    let dir = ftp::scratch()?;
    let src = dir.path().join("src.bin");
    ftp::make_file(&src, size)?;
    let (srv, fx) = ftp::start_server(dir.path(), &[]);
    let root = fx.root();
    let cfg = ftp::config(srv.port());
    let server = Some(srv.pid());
    let runs = metered(
        ctx.runs,
        server,
        size,
        || ftp::fresh(&root.join("big.bin")),
        || ftp::put(&cfg, &src, "big.bin", size),
    )?;
    let (put, put_cpu) = rate_and_cpu(r, &case, "ftp put (md5 both ends)", runs);
    let out = dir.path().join("got.bin");
    let runs = metered(
        ctx.runs,
        server,
        size,
        || {
            ftp::fresh(&out);
            // A get cut short in an earlier run would leave a partial that a plain get
            // refuses to start over on.
            ftp::fresh(&socklab_ftp::client::part_path(&out));
        },
        || ftp::get(&cfg, "big.bin", &out, size),
    )?;
    let (get, get_cpu) = rate_and_cpu(r, &case, "ftp get (md5 both ends)", runs);
    r.figure(
        &case,
        "ftp-server",
        "peak RSS",
        "MiB",
        vec![peak_rss_kib(srv.pid()) as f64 / 1024.0],
    );
    drop(srv);
    let runs = peer_metered(
        r,
        "md5sum",
        ctx.runs,
        size,
        || (),
        || ftp::md5sum(&src, size),
    );
    let (md5, md5_cpu) = rate_and_cpu(r, &case, "md5sum (one core's hashing rate)", runs);
    let nc_out = dir.path().join("nc.bin");
    let runs = peer_metered(
        r,
        "nc",
        ctx.runs,
        size,
        || ftp::fresh(&nc_out),
        || ftp::nc(&src, &nc_out, size),
    );
    let (nc, nc_cpu) = rate_and_cpu(r, &case, "nc (no verification)", runs);
    let pipe_out = dir.path().join("pipe.bin");
    let runs = peer_metered(
        r,
        "md5sum + socat + md5sum",
        ctx.runs,
        size,
        || (),
        || ftp::pipeline(&src, &pipe_out, size),
    );
    let (pipeline, _) = rate_and_cpu(r, &case, "md5sum + socat + md5sum pipeline", runs);
    // The best a program could do on these cores if it hashed at md5sum's speed on
    // both ends and moved the bytes as cheaply as the cheapest run measured here (of
    // nc, or of ftp once its two md5s are taken out): see `cpu::transfer_bound`. From
    // the cheapest runs, not the medians, so that it is an upper bound.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let moving = nc_cpu.min(put_cpu.min(get_cpu) - 2.0 * md5_cpu).max(0.0);
    r.figure(
        &case,
        "moving 1 GiB and writing it, without hashing (cheapest run of nc, or of ftp less two md5sums)",
        "CPU",
        "s/GiB",
        vec![moving],
    );
    let bound = cpu::transfer_bound(md5_cpu, moving, cores);
    let bound_subject = "bound: md5 on both ends at md5sum's speed plus that move, on all cores";
    r.figure(&case, bound_subject, "throughput", "MB/s", vec![bound]);
    // Quick mode's 32 MiB runs are mostly fixed costs (login, process start): no bound.
    let ceiling = |peer: f64| (!ctx.quick).then_some(bound / peer);
    r.ratio("file put, ftp / md5sum", put, md5, Target::AtLeast(0.8))
        .ceiling = ceiling(md5);
    r.ratio("file get, ftp / md5sum", get, md5, Target::AtLeast(0.8))
        .ceiling = ceiling(md5);
    r.ratio(
        "file put, ftp / md5sum+socat+md5sum",
        put,
        pipeline,
        Target::AtLeast(2.0),
    )
    .ceiling = ceiling(pipeline);
    r.ratio(
        "file get, ftp / md5sum+socat+md5sum",
        get,
        pipeline,
        Target::AtLeast(2.0),
    )
    .ceiling = ceiling(pipeline);
    r.ratio("file put, ftp / plain nc", put, nc, Target::None);
    r.ratio(
        "file put, ftp / the bound for md5 on both ends",
        put,
        bound,
        Target::None,
    );
    r.ratio(
        "file get, ftp / the bound for md5 on both ends",
        get,
        bound,
        Target::None,
    );
    Ok(())
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

/// [`metered`] for a peer: a failure is noted and shown as "–", as in [`peer_samples`].
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

fn chat_relay(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let (members, count) = (4, ctx.pick(2_000u64, 100_000));
    let case = format!("chat relay, 1 sender → {members} members, {count} messages");
    r.notes.push(format!(
        "chat relay: the sender sends {count} messages with at most {} in flight (sent, not yet received by the first member; \
         the raw loop's sender the same), see `WINDOW` in crates/bench/src/chat.rs; the flood row sends as fast as it can; \
         the server's rate cap is raised for the run; deliveries/s counts every copy a member received",
        chat::WINDOW
    ));
    let srv = ctx.server(
        "chat-server",
        &["--rate", "10000000", "--burst", "10000000", "--no-console"],
    );
    let addr: std::net::SocketAddr = srv.connect_addr().parse().map_err(|e| format!("{e}"))?;
    let runs = repeat(ctx.runs, || chat::relay(addr, members, count, true))?;
    let ours = r.figure(
        &case,
        "chat-server relay",
        "deliveries",
        "msg/s",
        runs.iter().map(|x| x.deliveries_per_sec).collect(),
    );
    r.figure(
        &case,
        "chat-server relay",
        "loss",
        "%",
        runs.iter().map(|x| x.loss * 100.0).collect(),
    );
    // What a sender that ignores everyone costs: most of its flood is dropped at the
    // server's full socket, and the relay keeps serving at what CPU is left.
    let flood = repeat(ctx.runs, || chat::relay(addr, members, count, false))?;
    r.figure(
        &case,
        "chat-server relay, flooding sender",
        "deliveries",
        "msg/s",
        flood.iter().map(|x| x.deliveries_per_sec).collect(),
    );
    r.figure(
        &case,
        "chat-server relay, flooding sender",
        "loss",
        "%",
        flood.iter().map(|x| x.loss * 100.0).collect(),
    );
    r.figure(
        &case,
        "chat-server",
        "peak RSS",
        "MiB",
        vec![peak_rss_kib(srv.pid()) as f64 / 1024.0],
    );
    let raw = repeat(ctx.runs, || chat::raw_loop(count))?;
    let ceiling = r.figure(
        &case,
        "raw sendto/recvfrom loop",
        "datagrams",
        "msg/s",
        raw.iter().map(|x| x.deliveries_per_sec).collect(),
    );
    r.figure(
        &case,
        "raw sendto/recvfrom loop",
        "loss",
        "%",
        raw.iter().map(|x| x.loss * 100.0).collect(),
    );
    r.ratio(
        "chat relay deliveries / raw UDP loop datagrams",
        ours,
        ceiling,
        Target::AtLeast(0.5),
    );
    Ok(())
}
