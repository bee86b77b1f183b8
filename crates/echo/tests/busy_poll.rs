//! Busy polling is opt-in: the real echo-server, measured from outside through
//! /proc/PID/stat, sleeps while its client is idle by default.
//!
//! The other side, that `--busy-poll-us` does spin, is not asserted on CPU time here:
//! a spinner that yields gets next to no CPU on a machine whose cores are busy with
//! other work, so no bound would hold both on an idle and on a loaded machine.
//! `busy_poll`'s unit tests check what the spin returns.

use nix::unistd::{sysconf, SysconfVar};
use socklab_testkit::Server;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

const SERVER: &str = env!("CARGO_BIN_EXE_echo-server");

/// How long the test watches the server.
const WATCH: Duration = Duration::from_secs(1);

/// CPU time (user + system, all threads) that process `pid` has used so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/stat: {e}"));
    // The command name may hold spaces; the fields after its ")" start at field 3, so
    // utime and stime (fields 14 and 15, in clock ticks) are the 12th and 13th.
    let rest = stat.rsplit_once(')').expect("a /proc stat line").1;
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse::<u64>().expect("a tick count"))
        .sum();
    let per_sec = sysconf(SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&t| t > 0)
        .unwrap_or(100);
    Duration::from_secs_f64(ticks as f64 / per_sec as f64)
}

/// Runs `during` and returns the CPU time the server used meanwhile, and the wall time.
fn cpu_used_by(srv: &Server, during: impl FnOnce()) -> (Duration, Duration) {
    let (cpu, wall) = (cpu_time(srv.pid()), Instant::now());
    during();
    (cpu_time(srv.pid()) - cpu, wall.elapsed())
}

/// Connects and checks one round trip, so the server has a served connection.
fn connect_and_echo(srv: &Server) -> TcpStream {
    let mut s = TcpStream::connect(srv.connect_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    echo_once(&mut s);
    s
}

fn echo_once(s: &mut TcpStream) {
    s.write_all(b"hello\n").unwrap();
    let mut back = [0u8; 6];
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello\n");
}

#[test]
fn default_server_uses_no_cpu_while_its_client_is_idle() {
    for mode in [&[][..], &["--event-loop"][..]] {
        let srv = Server::spawn(SERVER, &[&["--port", "0"], mode].concat());
        let mut s = connect_and_echo(&srv);
        let (cpu, wall) = cpu_used_by(&srv, || thread::sleep(WATCH));
        eprintln!("echo-server {mode:?}, one idle connection: {cpu:?} of CPU in {wall:?}");
        // A blocking read costs nothing until data comes; 5% leaves room for the
        // accept loop's periodic wake-ups and the tick-sampled accounting.
        assert!(
            cpu < wall / 20,
            "echo-server {mode:?} used {cpu:?} of CPU in {wall:?} with one idle connection"
        );
        echo_once(&mut s);
    }
}
