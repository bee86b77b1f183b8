//! Load patterns for the echo server (and any echo peer: socat PIPE).

use crate::stats::percentile;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const CHUNK: usize = 256 * 1024;
const TIMEOUT: Duration = Duration::from_secs(60);

fn connect(addr: &str) -> Result<TcpStream, String> {
    let s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    Ok(s)
}

/// What one bulk run measured.
#[derive(Debug, Clone, Copy)]
pub struct Bulk {
    /// MB/s (10^6 bytes per second) of the echoed stream.
    pub rate: f64,
    /// Wall time of the run, seconds.
    pub secs: f64,
    /// CPU seconds of the client's writing thread.
    pub writer_cpu: f64,
    /// CPU seconds of the client's reading thread.
    pub reader_cpu: f64,
    /// How many `read` calls brought the echo back (how the server's sends arrive:
    /// fewer, larger reads cost the client less).
    pub reads: u64,
}

/// Streams `bytes` through the echo server while reading the echo back on another
/// thread, as any echo client must (a client that writes everything before reading
/// deadlocks against any server once both directions' buffers are full). Returns
/// MB/s (10^6 bytes per second) of the echoed stream. A peer that moves nothing for
/// `stall` fails the run.
pub fn bulk(addr: &str, bytes: u64, stall: Duration) -> Result<f64, String> {
    bulk_measured(addr, bytes, stall).map(|b| b.rate)
}

/// CPU seconds of the calling thread.
fn thread_cpu() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    getrusage(UsageWho::RUSAGE_THREAD).map_or(f64::NAN, |u| {
        let s = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
        s(u.user_time()) + s(u.system_time())
    })
}

/// [`bulk`], with the wall time and each client thread's CPU time: which side of an
/// echo is the limit shows in how busy each thread was.
pub fn bulk_measured(addr: &str, bytes: u64, stall: Duration) -> Result<Bulk, String> {
    let stream = connect(addr)?;
    for set in [TcpStream::set_read_timeout, TcpStream::set_write_timeout] {
        set(&stream, Some(stall)).map_err(|e| e.to_string())?;
    }
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let sender = std::thread::spawn(move || -> Result<f64, String> {
        let cpu = thread_cpu();
        let chunk = vec![0x5au8; CHUNK];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            writer
                .write_all(&chunk[..n])
                .map_err(|e| format!("send: {e}"))?;
            left -= n as u64;
        }
        writer
            .shutdown(Shutdown::Write)
            .map_err(|e| e.to_string())?;
        Ok(thread_cpu() - cpu)
    });
    let reader_start = thread_cpu();
    let mut reader = stream;
    let mut buf = vec![0u8; CHUNK];
    let (mut got, mut reads) = (0u64, 0u64);
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got += n as u64;
                reads += 1;
            }
            Err(e) => {
                // Unblocks the sender too, so its thread ends with this run.
                let _ = reader.shutdown(Shutdown::Both);
                let _ = sender.join();
                return Err(format!("receive after {got} of {bytes} bytes: {e}"));
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let reader_cpu = thread_cpu() - reader_start;
    let writer_cpu = sender.join().map_err(|_| "sender panicked".to_string())??;
    if got != bytes {
        return Err(format!("echoed {got} of {bytes} bytes"));
    }
    Ok(Bulk {
        rate: bytes as f64 / 1e6 / secs,
        secs,
        writer_cpu,
        reader_cpu,
        reads,
    })
}

/// `count` sequential round trips of `size` bytes; returns each one's time in µs.
pub fn round_trips(addr: &str, count: usize, size: usize) -> Result<Vec<f64>, String> {
    let mut s = connect(addr)?;
    let out = vec![0x42u8; size];
    let mut back = vec![0u8; size];
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let t = Instant::now();
        s.write_all(&out).map_err(|e| format!("send: {e}"))?;
        s.read_exact(&mut back)
            .map_err(|e| format!("receive: {e}"))?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    if back != out {
        return Err("echo differs".into());
    }
    Ok(times)
}

/// What `load` measured.
#[derive(Debug, Clone)]
pub struct Load {
    /// Round trips per second, all clients together.
    pub per_sec: f64,
    /// 99th percentile round-trip time, µs.
    pub p99_us: f64,
    /// Echoes that differed from what was sent.
    pub mismatches: u64,
    /// Clients that failed to connect or lost their connection.
    pub errors: u64,
}

/// `clients` connected at once, each making `rounds` round trips of random sizes
/// (1 to 1024 bytes, different content per client so a crossed reply is caught).
pub fn load(addr: &str, clients: usize, rounds: usize) -> Result<Load, String> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(connect(addr)?);
    }
    let barrier = Arc::new(Barrier::new(clients + 1));
    let handles: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(id, mut s)| {
            let barrier = Arc::clone(&barrier);
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    barrier.wait();
                    let mut times = Vec::with_capacity(rounds);
                    let mut mismatches = 0u64;
                    let mut seed = id as u64 * 2_654_435_761 + 1;
                    let mut back = vec![0u8; 1024];
                    for round in 0..rounds {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        let size = 1 + (seed % 1024) as usize;
                        let msg: Vec<u8> = (0..size).map(|i| (id + round + i) as u8).collect();
                        let t = Instant::now();
                        if s.write_all(&msg).is_err() || s.read_exact(&mut back[..size]).is_err() {
                            return (times, mismatches, 1u64);
                        }
                        times.push(t.elapsed().as_secs_f64() * 1e6);
                        if back[..size] != msg[..] {
                            mismatches += 1;
                        }
                    }
                    (times, mismatches, 0)
                })
                .map_err(|e| format!("spawning a client thread: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let start = Instant::now();
    barrier.wait();
    let mut all = Vec::with_capacity(clients * rounds);
    let (mut mismatches, mut errors) = (0, 0);
    for h in handles {
        let (t, m, e) = h.join().map_err(|_| "client thread panicked".to_string())?;
        all.extend(t);
        mismatches += m;
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(Load {
        per_sec: all.len() as f64 / secs,
        p99_us: percentile(&all, 99.0),
        mismatches,
        errors,
    })
}

/// Opens `clients` connections and gives each one round trip; returns them open so
/// the caller can measure the server while it holds them all.
pub fn hold(addr: &str, clients: usize) -> Result<Vec<TcpStream>, String> {
    let mut conns = Vec::with_capacity(clients);
    for i in 0..clients {
        let s = TcpStream::connect(addr).map_err(|e| format!("connect #{i}: {e}"))?;
        conns.push(s);
    }
    for s in &mut conns {
        s.write_all(b"ping").map_err(|e| format!("send: {e}"))?;
    }
    for (i, s) in conns.iter_mut().enumerate() {
        s.set_read_timeout(Some(TIMEOUT))
            .map_err(|e| e.to_string())?;
        let mut b = [0u8; 4];
        s.read_exact(&mut b)
            .map_err(|e| format!("reply #{i}: {e}"))?;
        if &b != b"ping" {
            return Err(format!("client {i} got {b:?}"));
        }
    }
    Ok(conns)
}
