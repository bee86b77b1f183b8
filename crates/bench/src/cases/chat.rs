//! The chat case.

use super::repeat;
use crate::stats::Target;
use crate::{chat, Ctx, Results};
use socklab_testkit::peak_rss_kib;

pub(super) fn chat_relay(ctx: &Ctx, r: &mut Results) -> Result<(), String> {
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
