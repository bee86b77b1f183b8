//! Stress parts for the TCP servers: many echo clients, shell sessions and file
//! transfers at once, and one file over 4 GiB.

use super::Outcome;
use crate::stats::percentile;
use crate::{echo, ftp, start_quiet, Ctx};
use socklab_shell::client::Client;
use socklab_testkit::{password, peak_rss_kib, shell_server, wait_child, Cost, Fixture, USER};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

pub(super) fn echo_part(ctx: &Ctx, scale: usize) -> Result<Outcome, String> {
    let (clients, rounds) = (1000 / scale, 100);
    let max = (clients + 10).to_string();
    let mut summary = Vec::new();
    let mut failures = 0;
    for (mode, flags) in [("threads", &[][..]), ("event loop", &["--event-loop"][..])] {
        let srv = ctx.server(
            "echo-server",
            &[flags, &["--max-conns", &max, "--backlog", "4096"]].concat(),
        );
        let l = echo::load(&srv.connect_addr(), clients, rounds)?;
        failures += l.mismatches + l.errors;
        summary.push(format!(
            "{mode}: {clients} clients × {rounds} round trips of 1–1024 B, {} mismatches, {} errors, \
             p99 {:.0} µs, {:.0} round trips/s, peak RSS {:.1} MiB",
            l.mismatches,
            l.errors,
            l.p99_us,
            l.per_sec,
            peak_rss_kib(srv.pid()) as f64 / 1024.0
        ));
    }
    Ok(Outcome {
        summary: summary.join("; "),
        failures,
    })
}

pub(super) fn shell_part(_: &Ctx, scale: usize) -> Result<Outcome, String> {
    let (sessions, commands) = (50 / scale, 20);
    // The real argon2 cost: every session logs in at once, through the hash pool.
    let fx = Fixture::with_cost(Cost::Real);
    let max = (sessions + 10).to_string();
    let srv = start_quiet(shell_server(&fx, &["--max-conns", &max]));
    let port = srv.port();
    let barrier = Arc::new(Barrier::new(sessions));
    let handles: Vec<_> = (0..sessions)
        .map(|id| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || -> (Vec<f64>, u64) {
                let mut client = match Client::connect(
                    "127.0.0.1",
                    port,
                    Duration::from_secs(10),
                    USER,
                    password(),
                ) {
                    Ok(c) => c,
                    Err(_) => return (Vec::new(), commands as u64),
                };
                barrier.wait();
                let (mut times, mut bad) = (Vec::new(), 0);
                for i in 0..commands {
                    let cmd = format!(
                        "printf 'out-{id}-{i}'; printf 'err-{id}-{i}' >&2; exit {}",
                        i % 3
                    );
                    let (mut out, mut err) = (Vec::new(), Vec::new());
                    let t = Instant::now();
                    match client.exec(&cmd, &mut out, &mut err) {
                        Ok(status)
                            if status.local_code() == (i % 3) as u8
                                && out == format!("out-{id}-{i}").as_bytes()
                                && err == format!("err-{id}-{i}").as_bytes() =>
                        {
                            times.push(t.elapsed().as_secs_f64() * 1e3)
                        }
                        _ => bad += 1,
                    }
                }
                (times, bad)
            })
        })
        .collect();
    let (mut all, mut failures) = (Vec::new(), 0);
    for h in handles {
        let (t, b) = h
            .join()
            .map_err(|_| "a session thread panicked".to_string())?;
        all.extend(t);
        failures += b;
    }
    Ok(Outcome {
        summary: format!(
            "{sessions} sessions × {commands} commands at once (stdout, stderr and exit code checked): \
             {failures} wrong or failed, p99 {:.1} ms, peak RSS {:.1} MiB",
            percentile(&all, 99.0),
            peak_rss_kib(srv.pid()) as f64 / 1024.0
        ),
        failures,
    })
}

pub(super) fn ftp_part(_: &Ctx, scale: usize) -> Result<Outcome, String> {
    let (transfers, size) = (20 / scale, 8u64 << 20);
    let dir = ftp::scratch()?;
    let max = (transfers + 10).to_string();
    let (srv, fx) = ftp::start_server(dir.path(), &["--max-conns", &max]);
    let root = fx.root();
    let cfg = ftp::config(srv.port());
    let barrier = Arc::new(Barrier::new(transfers));
    let handles: Vec<_> = (0..transfers)
        .map(|i| {
            let (cfg, barrier, base) = (cfg.clone(), Arc::clone(&barrier), dir.path().to_owned());
            std::thread::spawn(move || -> Result<f64, String> {
                let src = base.join(format!("src-{i}.bin"));
                let back = base.join(format!("back-{i}.bin"));
                ftp::make_file(&src, size)?;
                barrier.wait();
                let t = Instant::now();
                ftp::put(&cfg, &src, &format!("f{i}.bin"), size)?;
                ftp::get(&cfg, &format!("f{i}.bin"), &back, size)?;
                let same = std::fs::read(&src).map_err(|e| e.to_string())?
                    == std::fs::read(&back).map_err(|e| e.to_string())?;
                if !same {
                    return Err(format!("transfer {i}: the file came back different"));
                }
                Ok(t.elapsed().as_secs_f64() * 1e3)
            })
        })
        .collect();
    let (mut times, mut failures, mut first_error) = (Vec::new(), 0, None);
    for h in handles {
        match h
            .join()
            .map_err(|_| "a transfer thread panicked".to_string())?
        {
            Ok(t) => times.push(t),
            Err(e) => {
                failures += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    // Every file must be there, complete, under its final name, and nothing else.
    let stored = std::fs::read_dir(&root)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name().to_string_lossy().starts_with('f')
                && e.metadata().is_ok_and(|m| m.len() == size)
        })
        .count();
    if stored != transfers {
        failures += 1;
        first_error.get_or_insert(format!("{stored} of {transfers} files stored complete"));
    }
    Ok(Outcome {
        summary: format!(
            "{transfers} concurrent put + get of {} MiB each, byte-compared: {failures} failed{}, p99 {:.0} ms, peak RSS {:.1} MiB",
            size >> 20,
            first_error.map(|e| format!(" (first: {e})")).unwrap_or_default(),
            percentile(&times, 99.0),
            peak_rss_kib(srv.pid()) as f64 / 1024.0
        ),
        failures,
    })
}

/// Runs the release ftp-client with `args` in `dir` and returns (success, its peak RSS
/// in KiB, sampled from /proc while it runs).
fn client_with_peak_rss(dir: &std::path::Path, args: &[&str]) -> Result<(bool, u64), String> {
    let mut child = std::process::Command::new(socklab_testkit::bin("ftp-client"))
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("ftp-client: {e}"))?;
    let mut peak = 0;
    let status = loop {
        peak = peak.max(peak_rss_kib(child.id()));
        if let Some(status) = wait_child(&mut child, Duration::from_millis(50)) {
            break status;
        }
    };
    Ok((status.success(), peak))
}

pub(super) fn huge_part(_: &Ctx, _scale: usize) -> Result<Outcome, String> {
    use std::io::{Seek, SeekFrom, Write};
    let size: u64 = (4 << 30) + 1;
    let dir = ftp::scratch()?;
    let local = dir.path().join("local");
    std::fs::create_dir(&local).map_err(|e| e.to_string())?;
    // Sparse but with data at both ends; every byte is still read, sent and hashed.
    let src = local.join("huge.bin");
    let mut f = std::fs::File::create(&src).map_err(|e| e.to_string())?;
    f.write_all(b"head").map_err(|e| e.to_string())?;
    f.seek(SeekFrom::Start(size - 1))
        .map_err(|e| e.to_string())?;
    f.write_all(b"!").map_err(|e| e.to_string())?;
    drop(f);
    let (srv, fx) = ftp::start_server(dir.path(), &[]);
    let pw_file = fx.password_file();
    let port = srv.port().to_string();
    let base = [
        "--port",
        &port,
        "--user",
        USER,
        "--password-file",
        pw_file.to_str().unwrap_or_default(),
    ];
    let (put_ok, put_rss) =
        client_with_peak_rss(&local, &[&base[..], &["put", "huge.bin"]].concat())?;
    let back = local.join("back.bin");
    let (get_ok, get_rss) = client_with_peak_rss(
        &local,
        &[&base[..], &["get", "huge.bin", "-o", "back.bin"]].concat(),
    )?;
    let server_rss = peak_rss_kib(srv.pid());
    drop(srv);
    let same = put_ok
        && get_ok
        && std::process::Command::new("cmp")
            .arg(&src)
            .arg(&back)
            .status()
            .is_ok_and(|s| s.success());
    let limit = 64 * 1024;
    let failures = u64::from(!same)
        + u64::from(put_rss.max(get_rss) >= limit)
        + u64::from(server_rss >= limit);
    Ok(Outcome {
        summary: format!(
            "4 GiB + 1 byte put and get: {}; peak RSS server {:.1} MiB, client put {:.1} MiB, client get {:.1} MiB (limit 64 MiB)",
            if same { "byte-identical" } else { "DIFFERENT or failed" },
            server_rss as f64 / 1024.0,
            put_rss as f64 / 1024.0,
            get_rss as f64 / 1024.0
        ),
        failures,
    })
}
