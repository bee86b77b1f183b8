//! PTY sessions, driven the way a person drives them: shell-client runs on a real
//! pseudo-terminal made by the test (it is that terminal's session leader, through
//! `setsid -c`), and the test types into the master side and reads the screen there.

mod common;

use common::{password, Fixture, USER};
use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcsetwinsize, Winsize};
use socklab_testkit::{require_tool, wait_until};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// shell-client on a terminal of the test's own.
struct Terminal {
    master: File,
    slave: OwnedFd,
    screen: Arc<Mutex<Vec<u8>>>,
    client: Child,
    /// `stty -g` before the client started.
    initial: String,
}

fn size(rows: u16, cols: u16) -> Winsize {
    Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl Terminal {
    /// Starts `shell-client ARGS` on a new terminal of `rows` x `cols`.
    fn start(fx: &Fixture, args: &[&str], (rows, cols): (u16, u16)) -> Terminal {
        require_tool("setsid");
        let master =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave: OwnedFd = File::options()
            .read(true)
            .write(true)
            .open(name.to_str().unwrap())
            .unwrap()
            .into();
        tcsetwinsize(&master, size(rows, cols)).unwrap();
        let initial = modes(&slave);
        let port = fx.server.port().to_string();
        let client = Command::new("setsid")
            .args(["-c", "-w", env!("CARGO_BIN_EXE_shell-client")])
            .args(["--port", &port, "--user", USER])
            .args(args)
            .env("SOCKLAB_PASSWORD", password())
            .env("TERM", "xterm-256color")
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave.try_clone().unwrap())
            .spawn()
            .unwrap();
        let master = File::from(master);
        let screen = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EIO when the last slave descriptor closes.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Terminal {
            master,
            slave,
            screen,
            client,
            initial,
        }
    }

    /// Waits for the remote login shell's prompt: input typed before the shell
    /// reads its terminal may be discarded by its startup, as on any terminal.
    fn wait_for_shell(&self, fx: &Fixture) {
        let ready = wait_until(Duration::from_secs(15), || {
            let s = self.screen();
            s.contains("# ") || s.contains("$ ")
        });
        assert!(
            ready,
            "no shell prompt:\n{}\nserver log:\n{}",
            self.screen(),
            fx.server.stderr()
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    fn type_in(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
    }

    /// Waits up to `limit` for `needle` to appear on the screen after byte `from`.
    fn expect_after(&self, from: usize, needle: &str, limit: Duration) {
        let seen = wait_until(limit, || {
            let s = self.screen.lock().unwrap();
            String::from_utf8_lossy(&s[from.min(s.len())..]).contains(needle)
        });
        assert!(
            seen,
            "{needle:?} not on the screen within {limit:?}:\n{}",
            self.screen()
        );
    }

    fn mark(&self) -> usize {
        self.screen.lock().unwrap().len()
    }

    /// Runs `line` in the remote shell and waits for its unique end marker.
    fn run(&mut self, line: &str) -> String {
        let from = self.mark();
        let marker = format!("done-{}", from);
        self.type_in(&format!("{line}; echo {}-{}\r", "done", from));
        self.expect_after(from, &format!("\n{marker}"), Duration::from_secs(15));
        let s = self.screen.lock().unwrap();
        String::from_utf8_lossy(&s[from..]).into_owned()
    }

    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Some(st) = self.client.try_wait().unwrap() {
                return st;
            }
            assert!(
                Instant::now() < end,
                "client still running:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `stty -g` of the terminal now.
    fn modes(&self) -> String {
        modes(&self.slave)
    }
}

/// Whether a process runs whose command line is exactly `cmdline` (words joined by
/// spaces).
fn running(cmdline: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .map(|c| {
                String::from_utf8_lossy(&c)
                    .trim_end_matches('\0')
                    .replace('\0', " ")
                    == cmdline
            })
            .unwrap_or(false)
    })
}

/// `stty -g` of terminal `slave`.
fn modes(slave: &OwnedFd) -> String {
    let out = Command::new("stty")
        .arg("-g")
        .stdin(slave.try_clone().unwrap())
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.client.kill();
        let _ = self.client.wait();
    }
}

#[test]
fn login_shell_on_a_pty_has_a_terminal_resizes_takes_ctrl_c_and_exits_with_its_code() {
    let fx = Fixture::start(&["--timeout", "120"]);
    let mut t = Terminal::start(&fx, &[], (33, 101));
    let before = t.initial.clone();
    t.wait_for_shell(&fx);
    let out = t.run("tty");
    assert!(out.contains("/dev/pts/"), "{out}");
    let out = t.run("stty size");
    assert!(out.contains("33 101\r\n"), "{out}");
    tcsetwinsize(&t.master, size(40, 120)).unwrap();
    let changed = wait_until(Duration::from_secs(5), || {
        t.run("stty size").contains("40 120\r\n")
    });
    assert!(
        changed,
        "the remote terminal was not resized:\n{}",
        t.screen()
    );
    // Ctrl-C stops the remote command, not the session.
    let from = t.mark();
    let nap = format!("sleep 32.{}", std::process::id());
    t.type_in(&format!("{nap}\r"));
    assert!(
        wait_until(Duration::from_secs(10), || running(&nap)),
        "{}",
        t.screen()
    );
    let pressed = Instant::now();
    t.type_in("\x03");
    t.type_in("echo after-$((40+2))\r");
    t.expect_after(from, "after-42", Duration::from_secs(2));
    assert!(!running(&nap), "Ctrl-C left {nap} running");
    assert!(pressed.elapsed() < Duration::from_secs(2));
    t.type_in("exit 3\r");
    let status = t.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(3), "{}", t.screen());
    assert_eq!(t.modes(), before, "terminal modes not restored");
}

#[test]
fn dash_t_runs_a_command_on_a_pty_and_sigterm_restores_the_terminal() {
    let fx = Fixture::start(&["--timeout", "60"]);
    let mut t = Terminal::start(&fx, &["-t", "--", "tty; exit 4"], (24, 80));
    let before = t.initial.clone();
    let status = t.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(4), "{}", t.screen());
    assert!(t.screen().contains("/dev/pts/"), "{}", t.screen());
    assert_eq!(t.modes(), before);

    let mut t = Terminal::start(&fx, &["-t", "--", "echo up; sleep 60"], (24, 80));
    let before = t.initial.clone();
    t.expect_after(0, "up", Duration::from_secs(15));
    assert_ne!(t.modes(), before, "the client did not switch to raw mode");
    socklab_testkit::signal(t.client.id(), "TERM");
    t.wait_exit(Duration::from_secs(10));
    assert_eq!(t.modes(), before, "SIGTERM left the terminal raw");
}

#[test]
fn ctrl_c_at_the_prompt_interrupts_the_command_and_keeps_the_session() {
    let fx = Fixture::start(&["--timeout", "60"]);
    std::fs::create_dir(fx.work.join("sub")).unwrap();
    let mut t = Terminal::start(&fx, &["-T"], (24, 80));
    t.expect_after(0, ">> ", Duration::from_secs(15));
    let from = t.mark();
    t.type_in("cd sub\r");
    t.expect_after(from, ">> ", Duration::from_secs(5));
    let from = t.mark();
    let nap = format!("sleep 33.{}", std::process::id());
    t.type_in(&format!("{nap}\r"));
    assert!(
        wait_until(Duration::from_secs(10), || running(&nap)),
        "{}",
        t.screen()
    );
    t.type_in("\x03");
    t.expect_after(from, ">> ", Duration::from_secs(2));
    assert!(!running(&nap), "Ctrl-C left {nap} running");
    let from = t.mark();
    t.type_in("pwd\r");
    t.expect_after(from, "/sub", Duration::from_secs(5));
    // Keys typed while a command runs go to that command: wait for the prompt.
    let from = t.screen().rfind("/sub").unwrap();
    t.expect_after(from, ">> ", Duration::from_secs(5));
    t.type_in("exit 7\r");
    assert_eq!(
        t.wait_exit(Duration::from_secs(10)).code(),
        Some(7),
        "{}",
        t.screen()
    );
}

#[test]
fn ctrl_d_ctrl_z_job_control_and_a_pager_work_on_the_pty() {
    let fx = Fixture::start(&["--timeout", "120"]);
    let mut t = Terminal::start(&fx, &[], (24, 80));
    t.wait_for_shell(&fx);
    // Ctrl-D: end of input for cat, through the remote line discipline.
    let from = t.mark();
    t.type_in("cat; echo cat-ended-$((1+1))\r");
    std::thread::sleep(Duration::from_millis(300));
    t.type_in("\x04");
    t.expect_after(from, "cat-ended-2", Duration::from_secs(5));
    // Ctrl-Z: the remote shell's job control stops the job; `kill %1` ends it.
    let from = t.mark();
    let nap = format!("sleep 31.{}", std::process::id());
    t.type_in(&format!("{nap}\r"));
    let started = wait_until(Duration::from_secs(10), || running(&nap));
    assert!(started, "{nap} did not start:\n{}", t.screen());
    t.type_in("\x1a");
    t.expect_after(from, "Stopped", Duration::from_secs(5));
    let out = t.run("jobs; kill -9 %1");
    assert!(out.contains(&nap), "{out}");
    // A full-screen program: less pages its input and quits on q. (vi works as well,
    // but first asks the terminal where its cursor is, which this test's terminal
    // does not answer.)
    if std::path::Path::new("/usr/bin/less").exists() {
        let from = t.mark();
        t.type_in("seq 1000 | less\r");
        t.expect_after(from, "\n23", Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(300));
        t.type_in("q");
        let out = t.run("echo less-left-$((2+2))");
        assert!(out.contains("less-left-4"), "{out}");
    }
    t.type_in("exit\r");
    assert_eq!(
        t.wait_exit(Duration::from_secs(10)).code(),
        Some(0),
        "{}",
        t.screen()
    );
}

#[test]
fn sigterm_at_the_prompt_between_commands_still_ends_the_client() {
    let fx = Fixture::start(&["--timeout", "60"]);
    let mut t = Terminal::start(&fx, &["-T"], (24, 80));
    t.expect_after(0, ">> ", Duration::from_secs(15));
    let from = t.mark();
    // A command on a PTY installs the client's terminal signal handling...
    t.type_in("echo one\r");
    t.expect_after(from, "one", Duration::from_secs(5));
    let from = t.screen().rfind("one").unwrap();
    t.expect_after(from, ">> ", Duration::from_secs(5));
    // ...which must not outlive it: at the prompt, SIGTERM ends the client as usual.
    socklab_testkit::signal(t.client.id(), "TERM");
    let status = t.wait_exit(Duration::from_secs(5));
    assert!(!status.success(), "{status:?}");
    assert_eq!(t.modes(), t.initial);
}

#[test]
fn a_pty_session_works_over_tls_keystrokes_in_and_the_screen_out() {
    let state = tempfile::TempDir::new().unwrap();
    let st = state.path().to_str().unwrap();
    let fx = Fixture::start(&["--timeout", "60", "--tls", "--state-dir", st]);
    let fp = fx.server.fingerprint();
    let mut t = Terminal::start(
        &fx,
        &[
            "--fingerprint",
            &fp,
            "-t",
            "--",
            "tty; read line; echo \"got:$line\"; exit 5",
        ],
        (24, 80),
    );
    let before = t.initial.clone();
    t.expect_after(0, "/dev/pts/", Duration::from_secs(15));
    t.type_in("typed over tls\r");
    let status = t.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(5), "{}", t.screen());
    assert!(t.screen().contains("got:typed over tls"), "{}", t.screen());
    assert_eq!(t.modes(), before, "terminal modes not restored");
}
