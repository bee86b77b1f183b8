//! The ftp case.

use super::{metered, peer_metered, rate_and_cpu};
use crate::stats::Target;
use crate::{cpu, ftp, Ctx, Results};
use socklab_testkit::peak_rss_kib;

pub(super) fn file_transfer(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
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
