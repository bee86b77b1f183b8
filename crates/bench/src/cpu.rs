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

/// CPU seconds of a running process (all its threads), from `/proc/PID/stat`; 0 when
/// it cannot be read.
fn of_process(pid: u32) -> f64 {
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    // utime and stime are fields 14 and 15, so the 12th and 13th after the name.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let mut fields = after_name.split_whitespace().skip(11);
    let mut next = || {
        fields
            .next()
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (next() + next()) / ticks
}

/// Counts the CPU time spent from [`Meter::start`] to [`Meter::seconds`] by this
/// process, its reaped children, and optionally one server process.
#[derive(Debug)]
pub struct Meter {
    server: Option<u32>,
    start: f64,
}

impl Meter {
    /// Starts counting; `server` is a process to include (it is not our child to reap).
    pub fn start(server: Option<u32>) -> Meter {
        Meter {
            server,
            start: Self::now(server),
        }
    }

    fn now(server: Option<u32>) -> f64 {
        own_and_reaped() + server.map_or(0.0, of_process)
    }

    /// CPU seconds spent since the start.
    pub fn seconds(&self) -> f64 {
        Self::now(self.server) - self.start
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
/// takes at least `(2 × md5_cpu + move_cpu) / cores`. With 4 cores or more the first
/// bound wins and `md5sum`'s own rate is the limit; on 2 cores the second does.
pub fn transfer_bound(md5_cpu: f64, move_cpu: f64, cores: usize) -> f64 {
    let seconds = md5_cpu.max((2.0 * md5_cpu + move_cpu) / cores.max(1) as f64);
    (1u64 << 30) as f64 / 1e6 / seconds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_counts_cpu_spent_in_this_process() {
        let m = Meter::start(None);
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed() < std::time::Duration::from_millis(200) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let spent = m.seconds();
        assert!(
            (0.1..2.0).contains(&spent),
            "200 ms of spinning counted as {spent} s of CPU"
        );
    }

    #[test]
    fn meter_reads_another_process() {
        assert!(of_process(std::process::id()) >= 0.0);
        assert_eq!(of_process(u32::MAX), 0.0, "a missing process counts as 0");
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
