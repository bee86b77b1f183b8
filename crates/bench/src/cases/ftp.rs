//! The ftp cases: on tmpfs (the protocol and the hashing, not the disk) and on the
//! machine's disk (what a user's put and get really wait for).

use super::rate_and_cpu;
use super::rounds::{interleaved, Subject};
use crate::stats::Target;
use crate::{cpu, ftp, Ctx, Results};
use socklab_testkit::peak_rss_kib;
use std::path::Path;

pub(super) fn file_transfer(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let dir = ftp::scratch()?;
    transfer(ctx, r, dir.path(), false)
}

pub(super) fn file_transfer_on_disk(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
    let dir = ftp::scratch_on_disk()?;
    transfer(ctx, r, dir.path(), true)
}

/// The file-transfer case in `dir`; `on_disk` leaves out the network-only peers (nc
/// and the socat pipeline are the same on either) and judges put against cp + sync.
fn transfer(ctx: &Ctx, r: &mut Results, dir: &Path, on_disk: bool) -> Result<(), String> {
    let size: u64 = ctx.file_bytes.unwrap_or(ctx.pick(32 << 20, 1 << 30));
    let place = if on_disk {
        "on the machine's disk"
    } else {
        "on tmpfs"
    };
    let case = format!("file transfer {place}, {} MiB", size >> 20);
    r.notes.push(format!(
        "{case}: one file of random data in {} for every subject{}; \
         put and get include connecting, logging in, md5 on both ends and the server's fsync before it links the file; \
         cp + sync copies the file and fsyncs the copy (`sync FILE`), the least a durable copy costs on the same filesystem{}; \
         md5sum, nc and socat run at their defaults; \
         every subject's destination file is deleted just before each run writes it (see crates/bench/src/ftp.rs, `fresh`); \
         the runs go round the subjects in turn ({} rounds); \
         CPU is user + system time of every process the subject ran (for ftp, the client and the server), per GiB moved",
        dir.display(),
        if on_disk { "" } else { ", so the disk is not measured" },
        if on_disk { ", and cp alone shows what its fsync costs" } else { "" },
        ctx.runs
    ));
    let src = dir.join("src.bin");
    ftp::make_file(&src, size)?;
    let (srv, fx) = ftp::start_server(dir, &[]);
    let root = fx.root();
    let cfg = ftp::config(srv.port());
    let (out, nc_out, pipe_out, cp_out) = (
        dir.join("got.bin"),
        dir.join("nc.bin"),
        dir.join("pipe.bin"),
        dir.join("cp.bin"),
    );
    let mut subjects = vec![
        Subject::new("ftp put (md5 both ends)", true, || {
            ftp::put(&cfg, &src, "big.bin", size)
        })
        .server(srv.pid())
        .prepare(|| ftp::fresh(&root.join("big.bin"))),
        Subject::new("ftp get (md5 both ends)", true, || {
            ftp::get(&cfg, "big.bin", &out, size)
        })
        .server(srv.pid())
        .prepare(|| {
            ftp::fresh(&out);
            // A get cut short in an earlier run would leave a partial that a plain
            // get refuses to start over on.
            ftp::fresh(&socklab_ftp::client::part_path(&out));
        }),
        Subject::new("md5sum (one core's hashing rate)", false, || {
            ftp::md5sum(&src, size)
        }),
        Subject::new("cp + sync (same filesystem)", false, || {
            ftp::cp_sync(&src, &cp_out, size)
        })
        .prepare(|| ftp::fresh(&cp_out)),
    ];
    if on_disk {
        // cp + sync less this is what the fsync costs on this disk.
        subjects.push(
            Subject::new("cp without sync (page cache only)", false, || {
                ftp::cp_only(&src, &cp_out, size)
            })
            .prepare(|| ftp::fresh(&cp_out)),
        );
    } else {
        subjects.push(
            Subject::new("nc (no verification)", false, || {
                ftp::nc(&src, &nc_out, size)
            })
            .prepare(|| ftp::fresh(&nc_out)),
        );
        subjects.push(Subject::new(
            "md5sum + socat + md5sum pipeline",
            false,
            || ftp::pipeline(&src, &pipe_out, size),
        ));
    }
    let per_gib = (1u64 << 30) as f64 / size as f64;
    let (measured, names) = interleaved(r, &case, ctx.runs, per_gib, subjects)?;
    let mut medians = Vec::new();
    let mut cheapest = Vec::new();
    for (name, m) in names.iter().zip(measured.iter().cloned()) {
        let (median, least) = rate_and_cpu(r, &case, name, m);
        medians.push(median);
        cheapest.push(least);
    }
    r.figure(
        &case,
        "ftp-server",
        "peak RSS",
        "MiB",
        vec![peak_rss_kib(srv.pid()) as f64 / 1024.0],
    );
    drop(srv);
    let rates = |i: usize| measured[i].0.as_slice();
    let (put, get, md5, cp) = (0, 1, 2, 3);
    let what = |dir: &str, peer: &str| format!("file {dir} {place}, ftp / {peer}");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if on_disk {
        // As on tmpfs (below), the bound from md5 on both ends and the cheapest move,
        // here ftp's own less its two md5s (no nc on disk).
        let md5_cpu = cheapest[md5];
        let moving = (cheapest[put].min(cheapest[get]) - 2.0 * md5_cpu).max(0.0);
        let bound = cpu::transfer_bound(md5_cpu, moving, cores);
        r.figure(
            &case,
            "bound: md5 on both ends at md5sum's speed plus the cheapest ftp run's moving and writing, on all cores",
            "throughput",
            "MB/s",
            vec![bound],
        );
        let ceiling = (!ctx.quick && size >= 1 << 30).then_some(bound / medians[cp]);
        r.paired_ratio(
            &what("put", "cp + sync"),
            rates(put),
            rates(cp),
            Target::AtLeast(0.8),
        )
        .ceiling = ceiling;
        r.paired_ratio(
            &what("get", "cp + sync"),
            rates(get),
            rates(cp),
            Target::None,
        );
        r.paired_ratio(&what("put", "md5sum"), rates(put), rates(md5), Target::None);
        r.paired_ratio(&what("get", "md5sum"), rates(get), rates(md5), Target::None);
        r.notes.push(fsync_note(
            &case,
            (medians[put], medians[cp], medians[4]),
            cheapest[put],
            bound,
            cores,
        ));
        return Ok(());
    }
    let (nc, pipeline) = (4, 5);
    // The best a program could do on these cores if it hashed at md5sum's speed on
    // both ends and moved the bytes as cheaply as the cheapest run measured here (of
    // nc, or of ftp once its two md5s are taken out): see `cpu::transfer_bound`. From
    // the cheapest runs, not the medians, so that it is an upper bound.
    let md5_cpu = cheapest[md5];
    let moving = cheapest[nc]
        .min(cheapest[put].min(cheapest[get]) - 2.0 * md5_cpu)
        .max(0.0);
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
    let ceiling = |peer: f64| (!ctx.quick && size >= 1 << 30).then_some(bound / peer);
    for (dir, ours) in [("put", put), ("get", get)] {
        r.paired_ratio(
            &what(dir, "md5sum"),
            rates(ours),
            rates(md5),
            Target::AtLeast(0.8),
        )
        .ceiling = ceiling(medians[md5]);
        r.paired_ratio(
            &what(dir, "md5sum+socat+md5sum"),
            rates(ours),
            rates(pipeline),
            Target::AtLeast(2.0),
        )
        .ceiling = ceiling(medians[pipeline]);
    }
    r.paired_ratio(
        &what("put", "plain nc"),
        rates(put),
        rates(nc),
        Target::None,
    );
    r.paired_ratio(
        &what("put", "cp + sync"),
        rates(put),
        rates(cp),
        Target::None,
    );
    for (dir, ours) in [("put", put), ("get", get)] {
        r.ratio(
            &what(dir, "the bound for md5 on both ends"),
            medians[ours],
            bound,
            Target::None,
        );
    }
    Ok(())
}

/// Seconds per GiB at `rate` MB/s.
fn secs_per_gib(rate: f64) -> f64 {
    (1u64 << 30) as f64 / 1e6 / rate
}

/// What the fsync costs a put on this disk, and what the rest of the put's time is:
/// from the medians of put, cp + sync and cp alone (MB/s), put's cheapest CPU
/// (s/GiB) and the bound (MB/s).
fn fsync_note(
    case: &str,
    (put, cp_sync, cp): (f64, f64, f64),
    put_cpu: f64,
    bound: f64,
    cores: usize,
) -> String {
    let fsync = (secs_per_gib(cp_sync) - secs_per_gib(cp)).max(0.0);
    let put_secs = secs_per_gib(put);
    format!(
        "{case}: why put is measured against cp + sync: the server fsyncs every upload before it links it under its \
         name (crates/ftp/src/store/upload.rs, `Upload::commit`), so an `ok` means the bytes are on the disk, as after \
         cp + sync, and a crash never leaves a short file under a final name. Here the fsync costs about {fsync:.2} s \
         per GiB (cp + sync {:.2} s, cp alone {:.2} s), and a put takes {put_secs:.2} s per GiB: the fsync is about \
         {:.0}% of it. The rest is CPU: a put costs at least {put_cpu:.2} s of CPU per GiB (md5 on both ends, the \
         socket, the page cache) on {cores} cores, so on this machine it cannot pass {bound:.0} MB/s (the bound) \
         however fast the disk is; where cp + sync runs faster than that, the target is out of reach here, and it \
         comes within reach when client and server each have their own cores",
        secs_per_gib(cp_sync),
        secs_per_gib(cp),
        100.0 * fsync / put_secs,
    )
}
