//! CPU time, user + system, of the bench process, the children it has reaped, and a
//! server it started: what a subject cost, as opposed to how long it took.
//!
//! The file-transfer case uses it to work out what this machine allows at best (see
//! [`transfer_bound`]): on two cores, hashing on both ends plus moving the bytes is
//! more work than two cores can do at `md5sum`'s rate.

use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::time::TimeVal;

fn seconds(t: TimeVal) -> f64 {
    t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6
}

/// CPU seconds of this process (all its threads) plus every child it has waited for
/// (and, through them, their children: `sh -c 'nc …'` counts nc).
fn own_and_reaped() -> f64 {
    [UsageWho::RUSAGE_SELF, UsageWho::RUSAGE_CHILDREN]
        .into_iter()
        .filter_map(|who| getrusage(who).ok())
        .map(|u| seconds(u.user_time()) + seconds(u.system_time()))
        .sum()
}

/// CPU seconds of a running process (all its threads), from `/proc/PID/stat`; `None`
/// when it cannot be read (the process is gone).
#[cfg(test)]
fn of_process(pid: u32) -> Option<f64> {
    proc_stat_times(pid, 2)
}

/// CPU seconds of a running process and of the children it has reaped (socat forks
/// one per connection): utime, stime, cutime and cstime.
fn of_process_and_reaped(pid: u32) -> Option<f64> {
    proc_stat_times(pid, 4)
}

/// The sum of the first `fields` time fields of `/proc/PID/stat`, from utime on.
fn proc_stat_times(pid: u32, fields: usize) -> Option<f64> {
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    // utime, stime, cutime and cstime are fields 14 to 17, the 12th to 15th after the
    // name.
    let (_, after_name) = stat.rsplit_once(')')?;
    let times = after_name.split_whitespace().skip(11).take(fields);
    let sum = times.map(|f| f.parse::<f64>().ok()).sum::<Option<f64>>()?;
    Some(sum / ticks)
}

/// The smallest of `samples`, ignoring NaN (a run that could not be measured); NaN if
/// there is none.
pub fn least(samples: &[f64]) -> f64 {
    samples
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .fold(f64::NAN, f64::min)
}

/// Counts the CPU time spent from [`Meter::start`] to [`Meter::seconds`] by this
/// process, its reaped children, and optionally one server process.
#[derive(Debug)]
pub struct Meter {
    server: Option<u32>,
    start: f64,
    server_start: f64,
}

impl Meter {
    /// Starts counting; `server` is a process to include (it is not our child to reap),
    /// with the children it reaps in the meantime.
    pub fn start(server: Option<u32>) -> Meter {
        Meter {
            server,
            start: Self::now(server),
            server_start: Self::server_now(server),
        }
    }

    /// NaN when the server's CPU time cannot be read: a figure that cannot be trusted
    /// shows as NaN rather than as a plausible number without the server's share.
    fn now(server: Option<u32>) -> f64 {
        own_and_reaped()
            + server
                .map_or(Some(0.0), of_process_and_reaped)
                .unwrap_or(f64::NAN)
    }

    fn server_now(server: Option<u32>) -> f64 {
        server.and_then(of_process_and_reaped).unwrap_or(f64::NAN)
    }

    /// CPU seconds spent since the start (NaN if the server's could not be read).
    pub fn seconds(&self) -> f64 {
        Self::now(self.server) - self.start
    }

    /// The server's share of [`Meter::seconds`] (NaN without a server).
    pub fn server_seconds(&self) -> f64 {
        Self::server_now(self.server) - self.server_start
    }
}

/// The best throughput (MB/s) a transfer that hashes on both ends can reach on this
/// machine, from what was measured in the same run: `md5_cpu` is `md5sum`'s CPU
/// seconds per GiB (one end's hashing), `move_cpu` the CPU seconds per GiB, both ends,
/// that moving the bytes and writing the file cost (the cheapest measured), on `cores`
/// cores.
///
/// The hashing of one end is sequential (each md5 block depends on the one before), so
/// a transfer takes at least `md5_cpu`; and all the work has to fit on the cores, so it
/// takes at least `(2 × md5_cpu + move_cpu) / cores`. With cores to spare (from
/// `2 + move_cpu / md5_cpu` on) the first wins and `md5sum`'s own rate is the limit;
/// on 2 cores the second always does.
///
/// It is an upper bound for a program that hashes as fast as `md5sum` (a faster md5
/// would move it), built from the cheapest runs measured; both `md5sum` and the mover
/// read the file, so the read is counted twice and the bound errs a little low.
pub fn transfer_bound(md5_cpu: f64, move_cpu: f64, cores: usize) -> f64 {
    let seconds = md5_cpu.max((2.0 * md5_cpu + move_cpu) / cores.max(1) as f64);
    (1u64 << 30) as f64 / 1e6 / seconds
}

/// The whole machine's busy and total CPU time so far, in clock ticks, from the
/// first line of `/proc/stat` (every process, not only the bench's).
fn machine_ticks() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<f64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal…: idle and iowait are not busy.
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0.0);
    Some((total - idle, total))
}

/// How busy the whole machine's cores were between [`MachineMeter::start`] and
/// [`MachineMeter::cores_busy`]: what the bench's subjects used and what every other
/// process did meanwhile.
#[derive(Debug)]
pub struct MachineMeter(Option<(f64, f64)>);

impl MachineMeter {
    /// Starts counting.
    pub fn start() -> MachineMeter {
        MachineMeter(machine_ticks())
    }

    /// Cores busy on average since the start (2.0 = both of two cores all the time);
    /// NaN when /proc/stat cannot be read.
    pub fn cores_busy(&self, cores: usize) -> f64 {
        match (self.0, machine_ticks()) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => (b1 - b0) / (t1 - t0) * cores as f64,
            _ => f64::NAN,
        }
    }
}

/// Where a transfer's limit is, from how busy each of its threads was (CPU seconds
/// over wall seconds, 1.0 = one core all the time) on `cores` cores, and how busy the
/// whole machine was meanwhile (`machine`, in cores): a thread busy nearly all the
/// time is the limit by itself; otherwise, cores busy nearly all the time are (the
/// threads take turns on them), and when other processes took part of them the
/// figure is held down by the machine's load; otherwise neither is, and the run
/// waited (wake-ups, scheduling, loopback).
pub fn limit(threads: &[(&str, f64)], cores: usize, machine: f64) -> String {
    const SATURATED: f64 = 0.9;
    let ours: f64 = threads.iter().map(|(_, b)| b).sum();
    let others = if machine.is_finite() {
        (machine - ours).max(0.0)
    } else {
        0.0
    };
    let each = threads
        .iter()
        .map(|(n, b)| format!("{n} {:.0}%", b * 100.0))
        .collect::<Vec<_>>()
        .join(", ");
    let n = cores.max(1) as f64;
    let busiest = threads
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|(_, b)| *b >= SATURATED);
    let verdict = if let Some((name, b)) = busiest {
        format!(
            "{name} was busy {:.0}% of the run: that one thread is the limit",
            b * 100.0
        )
    } else if ours / n >= SATURATED {
        format!(
            "the {cores} cores were {:.0}% busy with its {} threads: the limit is the CPU, and a cheaper server \
             can only gain what it leaves to the client",
            ours / n * 100.0,
            threads.len()
        )
    } else if (ours + others) / n >= SATURATED {
        format!(
            "the {cores} cores were busy, {others:.1} of them with other processes' work: this figure is held down \
             by the machine's load, not by the echo"
        )
    } else {
        format!(
            "no thread and not the cores ({:.0}% busy) were saturated: the run waited (wake-ups, scheduling)",
            (ours + others) / n * 100.0
        )
    };
    format!("{each} of a core; {verdict}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CPU seconds of the calling thread alone.
    fn thread_cpu() -> f64 {
        let u = getrusage(UsageWho::RUSAGE_THREAD).unwrap();
        seconds(u.user_time()) + seconds(u.system_time())
    }

    /// Spins until this thread has used `cpu` seconds of CPU (however long a busy
    /// machine takes to give them, up to a minute).
    fn burn(cpu: f64) {
        let (start, wall) = (thread_cpu(), std::time::Instant::now());
        let mut x = 0u64;
        while thread_cpu() - start < cpu && wall.elapsed() < std::time::Duration::from_secs(60) {
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
    }

    #[test]
    fn meter_counts_the_cpu_this_process_spends() {
        let m = Meter::start(None);
        burn(0.2);
        let spent = m.seconds();
        // Other test threads may add to it, never take away.
        assert!(
            spent >= 0.19,
            "0.2 s of spinning counted as {spent} s of CPU"
        );
    }

    #[test]
    fn proc_stat_agrees_with_getrusage_for_this_process() {
        burn(0.2);
        let u = getrusage(UsageWho::RUSAGE_SELF).unwrap();
        let rusage = seconds(u.user_time()) + seconds(u.system_time());
        let proc = of_process(std::process::id()).expect("/proc/self/stat is readable");
        // /proc counts in clock ticks (10 ms), and other test threads run in between.
        assert!(
            (proc - rusage).abs() < 0.1,
            "/proc says {proc} s, getrusage {rusage} s"
        );
        assert!(proc >= 0.19, "{proc}");
    }

    #[test]
    fn a_process_that_is_gone_has_no_cpu_time() {
        assert_eq!(of_process(u32::MAX), None);
    }

    #[test]
    fn the_machine_meter_sees_this_process_spin() {
        let m = MachineMeter::start();
        burn(0.2);
        let busy = m.cores_busy(1);
        assert!(busy > 0.0 && busy.is_finite(), "{busy}");
    }

    #[test]
    fn least_skips_runs_that_were_not_measured() {
        assert_eq!(least(&[3.0, f64::NAN, 2.0]), 2.0);
        assert!(least(&[f64::NAN]).is_nan());
    }

    #[test]
    fn limit_names_a_saturated_thread_or_the_cores() {
        let one = limit(
            &[("server", 0.97), ("writer", 0.3), ("reader", 0.3)],
            4,
            1.6,
        );
        assert!(one.contains("server was busy 97%"), "{one}");
        let cores = limit(&[("server", 0.7), ("writer", 0.6), ("reader", 0.6)], 2, 1.9);
        assert!(cores.contains("cores were 95% busy"), "{cores}");
        let loaded = limit(&[("server", 0.3), ("writer", 0.2)], 2, 1.9);
        assert!(
            loaded.contains("1.4 of them with other processes"),
            "{loaded}"
        );
        let idle = limit(&[("server", 0.2), ("writer", 0.2)], 2, 0.5);
        assert!(idle.contains("the run waited"), "{idle}");
    }

    #[test]
    fn bound_is_the_hash_rate_with_cores_to_spare_and_less_on_two() {
        // 1.75 s of md5 per GiB is md5sum at about 613 MB/s.
        let md5_rate = (1u64 << 30) as f64 / 1e6 / 1.75;
        let roomy = transfer_bound(1.75, 2.0, 8);
        assert!((roomy - md5_rate).abs() < 1e-6, "{roomy} vs {md5_rate}");
        // On 2 cores: (3.5 + 2.0) / 2 = 2.75 s per GiB.
        let tight = transfer_bound(1.75, 2.0, 2);
        assert!(
            (tight - (1u64 << 30) as f64 / 1e6 / 2.75).abs() < 1e-6,
            "{tight}"
        );
    }
}
