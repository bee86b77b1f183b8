//! Sessions through the real binaries: what a command may reach (the server's
//! terminal, its environment), what survives a session (nothing, however it ends),
//! stdin forwarding with flow control, the session's `cd` and the prompt's `exit N`.

mod common;

use common::{cmdline, exec, password, pids, read_line_of_output, send_exec, Fixture, USER};
use socklab_proto::msg::write_header;
use socklab_shell::request::{write_stdin, ShellRequest};
use socklab_shell::wire::{read_incoming, Incoming};
use socklab_testkit::{require_tool, run_with_stdin, wait_until};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// PIDs of every process whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    pids()
        .into_iter()
        .filter(|&pid| cmdline(pid).is_some_and(|c| c.contains(marker)))
        .collect()
}

/// A command that leaves three escapees behind: `setsid -f`, a double fork and
/// `nohup … &`, each a `sleep` whose argument carries `tag`, then prints `ready`.
fn escapees(tag: &str) -> String {
    format!(
        "setsid -f sleep 301.{tag}; (sleep 302.{tag} &); nohup sleep 303.{tag} >/dev/null 2>&1 & \
         sleep 0.2; echo ready"
    )
}

/// Logs in on a raw connection and runs [`escapees`] followed by a long `sleep`;
/// returns once all three escapees run, with the command still going.
fn start_escapees(fx: &Fixture, tag: &str) -> std::net::TcpStream {
    let mut s = fx.logged_in();
    send_exec(&mut s, &format!("{}; sleep 60", escapees(tag)), false);
    assert_eq!(read_line_of_output(&mut s), "ready\n");
    assert_running(tag);
    s
}

/// A tag no other test uses.
fn tag() -> String {
    format!("{}{}", std::process::id(), rand_digits())
}

fn rand_digits() -> u32 {
    use std::time::SystemTime;
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

/// Asserts that all three escapees of `tag` are running, then that they are gone
/// within `limit` of `since`.
fn assert_all_gone(fx: &Fixture, tag: &str, since: Instant, limit: Duration, how: &str) {
    let gone = wait_until(limit, || processes_with(&format!(".{tag}")).is_empty());
    assert!(
        gone,
        "{how}: still running after {:?}: {:?}\nserver log:\n{}",
        since.elapsed(),
        processes_with(&format!(".{tag}")),
        fx.server.stderr()
    );
}

fn assert_running(tag: &str) {
    let ok = wait_until(Duration::from_secs(5), || {
        processes_with(&format!(".{tag}")).len() >= 3
    });
    assert!(
        ok,
        "the escapees did not start: {:?}",
        processes_with(&format!(".{tag}"))
    );
}

#[test]
fn nothing_a_session_started_survives_its_end_however_it_ends() {
    require_tool("setsid");
    require_tool("nohup");
    // 1. The command exits by itself.
    let fx = Fixture::start(&["--timeout", "30"]);
    let t = tag();
    let mut c = fx.client();
    let (st, out, _) = exec(&mut c, &escapees(&t));
    assert_eq!((st.exit, out.as_slice()), (Some(0), &b"ready\n"[..]));
    assert_all_gone(
        &fx,
        &t,
        Instant::now(),
        Duration::from_secs(1),
        "after exit",
    );

    // 2. The client is killed with SIGKILL.
    let t = tag();
    let port = fx.server.port().to_string();
    let mut client = Command::new(env!("CARGO_BIN_EXE_shell-client"))
        .args(["--port", &port, "--user", USER, "-n", "--"])
        .arg(format!("{}; sleep 60", escapees(&t)))
        .env("SOCKLAB_PASSWORD", password())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = [0u8; 6];
    std::io::Read::read_exact(client.stdout.as_mut().unwrap(), &mut line).unwrap();
    assert_eq!(&line, b"ready\n");
    assert_running(&t);
    client.kill().unwrap();
    client.wait().unwrap();
    assert_all_gone(
        &fx,
        &t,
        Instant::now(),
        Duration::from_secs(1),
        "client SIGKILL",
    );

    // 3. The client sends a byte (the start of its next request), then closes.
    let t = tag();
    let mut s = start_escapees(&fx, &t);
    s.write_all(&[0]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(s);
    assert_all_gone(
        &fx,
        &t,
        Instant::now(),
        Duration::from_secs(1),
        "byte then close",
    );

    // 4. The command times out.
    let fx = Fixture::start(&["--timeout", "2"]);
    let t = tag();
    let mut c = fx.client();
    let (st, _, _) = exec(&mut c, &format!("{}; sleep 60", escapees(&t)));
    assert!(st.timed_out, "{st:?}");
    assert_all_gone(&fx, &t, Instant::now(), Duration::from_secs(1), "timeout");

    // 5. The server is stopped with SIGTERM.
    let mut fx = Fixture::start(&["--timeout", "60"]);
    let t = tag();
    let _conn = start_escapees(&fx, &t);
    fx.server.signal("TERM");
    fx.server
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| fx.fail("no exit after SIGTERM"));
    assert_all_gone(
        &fx,
        &t,
        Instant::now(),
        Duration::from_secs(1),
        "server SIGTERM",
    );
}

#[test]
fn a_command_cannot_reach_the_servers_terminal() {
    let fx = Fixture::start(&["--timeout", "20"]);
    let mut c = fx.client();
    let started = Instant::now();
    let (st, out, err) = exec(
        &mut c,
        "echo HI > /dev/tty; echo status=$?; read x < /dev/tty; echo read=$?",
    );
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.contains("status=") && !out.contains("status=0") && !out.contains("read=0"),
        "/dev/tty was reachable: {out} {}",
        String::from_utf8_lossy(&err)
    );
    assert_eq!(st.exit, Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "opening /dev/tty hung"
    );
    // No controlling terminal, and a session of its own.
    // /proc/PID/stat: field 6 is the session, field 7 the controlling terminal (0: none).
    let (_, out, _) = exec(&mut c, "cut -d' ' -f1,6,7 /proc/$$/stat");
    let fields: Vec<String> = String::from_utf8_lossy(&out)
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(
        fields.get(2).map(String::as_str),
        Some("0"),
        "has a terminal: {fields:?}"
    );
    let server_stat = std::fs::read_to_string(format!("/proc/{}/stat", fx.server.pid())).unwrap();
    let server_sid = server_stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(3)
        .unwrap();
    assert_ne!(
        fields.get(1).map(String::as_str),
        Some(server_sid),
        "in the server's session"
    );
}

#[test]
fn commands_get_a_clean_environment_with_the_listed_variables() {
    let files = socklab_testkit::Fixture::with_cost(socklab_testkit::Cost::Cheap);
    let mut cmd =
        socklab_testkit::shell_server(&files, &["--allow-root", "--pass-env", "SOCKLAB_PASSED"]);
    cmd.env("AWS_SECRET_ACCESS_KEY", "s3cr3t")
        .env("SOCKLAB_PASSED", "yes");
    let server = socklab_testkit::Server::spawn_with(&mut cmd);
    let port = server.port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_shell-client"))
        .args(["--port", &port, "--user", USER, "-n", "--", "env"])
        .env("SOCKLAB_PASSWORD", password())
        .env("LANG", "C.UTF-8")
        .env("LC_TIME", "C")
        .output()
        .unwrap();
    let env = String::from_utf8_lossy(&out.stdout);
    assert!(
        !env.contains("s3cr3t"),
        "the server's secret leaked:\n{env}"
    );
    let account = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .unwrap()
        .unwrap();
    for want in [
        format!("USER={}", account.name),
        format!("LOGNAME={}", account.name),
        format!("HOME={}", account.dir.display()),
        format!("SHELL={}", account.shell.display()),
        format!("SOCKLAB_USER={USER}"),
        "SOCKLAB_PASSED=yes".into(),
        "LANG=C.UTF-8".into(),
        "LC_TIME=C".into(),
    ] {
        assert!(env.lines().any(|l| l == want), "{want} missing:\n{env}");
    }
    assert!(
        env.lines().any(|l| l.starts_with("PATH=/usr/local")),
        "{env}"
    );
    let names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
    for name in &names {
        assert!(
            [
                "HOME",
                "USER",
                "LOGNAME",
                "SHELL",
                "PATH",
                "SOCKLAB_USER",
                "SOCKLAB_PASSED",
                "LANG",
                "LC_TIME",
                "PWD",
                "SHLVL",
                "_",
                "OLDPWD"
            ]
            .contains(name),
            "unexpected variable {name}:\n{env}"
        );
    }
}

#[test]
fn refuses_to_run_as_root_without_allow_root_and_warns_with_it() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: not running as root");
        return;
    }
    let files = socklab_testkit::Fixture::with_cost(socklab_testkit::Cost::Cheap);
    let mut cmd = Command::new(socklab_testkit::bin("shell-server"));
    cmd.args(["--port", "0", "--users"]).arg(files.users());
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("running as root") && err.contains("--allow-root"),
        "{err}"
    );
    let fx = Fixture::start(&[]);
    assert!(fx
        .server
        .wait_for_log("WARNING: running as root", Duration::from_secs(5)));
}

fn client_with_stdin(fx: &Fixture, args: &[&str], input: &[u8]) -> std::process::Output {
    let port = fx.server.port().to_string();
    run_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_shell-client"))
            .args(["--port", &port, "--user", USER])
            .args(args)
            .env("SOCKLAB_PASSWORD", password()),
        input,
    )
}

#[test]
fn stdin_reaches_the_command_and_n_gives_end_of_input_at_once() {
    let fx = Fixture::start(&["--timeout", "30"]);
    let out = client_with_stdin(&fx, &["--", "cat"], b"x\n");
    assert_eq!(
        (out.status.code(), out.stdout.as_slice()),
        (Some(0), &b"x\n"[..]),
        "{out:?}"
    );
    // wc sees end of input when the local input ends.
    let out = client_with_stdin(&fx, &["--", "wc -c"], &[7u8; 100_000]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "100000",
        "{out:?}"
    );
    // -n: nothing is forwarded, even from a pipe that stays open.
    let port = fx.server.port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shell-client"))
        .args(["--port", &port, "--user", USER, "-n", "--", "cat; echo end"])
        .env("SOCKLAB_PASSWORD", password())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let _held_open = child.stdin.take();
    let started = Instant::now();
    let done = wait_until(Duration::from_secs(10), || {
        child.try_wait().unwrap().is_some()
    });
    assert!(
        done,
        "-n: cat still waits for input after {:?}",
        started.elapsed()
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.stdout, b"end\n");
}

#[test]
fn tar_through_stdin_reproduces_a_tree() {
    require_tool("tar");
    let fx = Fixture::start(&["--timeout", "60"]);
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("a/b c")).unwrap();
    std::fs::write(
        src.path().join("a/b c/data.bin"),
        socklab_testkit::random_bytes(300_000),
    )
    .unwrap();
    std::fs::write(src.path().join("top.txt"), b"hello\n").unwrap();
    let tarball = Command::new("tar")
        .arg("c")
        .arg("-C")
        .arg(src.path())
        .arg(".")
        .output()
        .unwrap();
    assert!(tarball.status.success());
    std::fs::create_dir(fx.work.join("dest")).unwrap();
    let out = client_with_stdin(&fx, &["--", "tar", "x", "-C", "dest"], &tarball.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let diff = Command::new("diff")
        .arg("-r")
        .arg(src.path())
        .arg(fx.work.join("dest"))
        .output()
        .unwrap();
    assert!(
        diff.status.success(),
        "trees differ:\n{}",
        String::from_utf8_lossy(&diff.stdout)
    );
}

#[test]
fn two_hundred_fifty_six_mib_through_cat_come_back_byte_exact() {
    require_tool("cmp");
    let fx = Fixture::start(&["--timeout", "600"]);
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in"), dir.path().join("out"));
    let made = Command::new("head")
        .args(["-c", "268435456", "/dev/urandom"])
        .stdout(std::fs::File::create(&input).unwrap())
        .status()
        .unwrap();
    assert!(made.success());
    let port = fx.server.port().to_string();
    let status = Command::new(env!("CARGO_BIN_EXE_shell-client"))
        .args(["--port", &port, "--user", USER, "--", "cat"])
        .env("SOCKLAB_PASSWORD", password())
        .stdin(std::fs::File::open(&input).unwrap())
        .stdout(std::fs::File::create(&output).unwrap())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "{}", fx.server.stderr());
    let cmp = Command::new("cmp")
        .arg(&input)
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        cmp.status.success(),
        "{}",
        String::from_utf8_lossy(&cmp.stdout)
    );
}

#[test]
fn a_command_that_does_not_read_holds_back_the_client_not_the_servers_memory() {
    let fx = Fixture::start(&["--timeout", "30"]);
    let mut s = fx.logged_in();
    send_exec(&mut s, "echo started; sleep 20", true);
    assert_eq!(read_line_of_output(&mut s), "started\n");
    // Push input until the connection stops taking it.
    s.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let chunk = vec![b'z'; 60_000];
    let mut sent = 0usize;
    let limit = 512 * 1024 * 1024;
    while sent < limit {
        match write_stdin(&mut s, &chunk) {
            Ok(()) => sent += chunk.len(),
            Err(_) => break,
        }
    }
    assert!(
        sent < limit,
        "the server took {sent} bytes for a command that reads nothing"
    );
    let rss_kib = std::fs::read_to_string(format!("/proc/{}/status", fx.server.pid()))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:").map(|v| {
                v.trim()
                    .trim_end_matches(" kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap()
            })
        })
        .unwrap();
    assert!(
        rss_kib < 64 * 1024,
        "server RSS {rss_kib} KiB after {sent} bytes were pushed"
    );
    eprintln!(
        "pushed {sent} bytes before the connection stopped taking input; server RSS {rss_kib} KiB"
    );
}

#[test]
fn cd_understands_quotes_escapes_home_and_dash_or_says_why_not() {
    let fx = Fixture::start(&["--timeout", "20"]);
    std::fs::create_dir(fx.work.join("my dir")).unwrap();
    let work = fx.work.canonicalize().unwrap();
    let mut c = fx.client();
    for cd in [r#"cd "my dir""#, "cd 'my dir'", r"cd my\ dir"] {
        let (st, _, _) = exec(&mut c, cd);
        assert_eq!(
            st.cwd.as_deref(),
            Some(work.join("my dir").to_str().unwrap()),
            "{cd}"
        );
        let (_, out, _) = exec(&mut c, "pwd");
        assert_eq!(
            String::from_utf8_lossy(&out).trim(),
            work.join("my dir").to_str().unwrap()
        );
        exec(&mut c, "cd ..");
    }
    exec(&mut c, "cd /");
    let (st, _, _) = exec(&mut c, "cd -");
    assert_eq!(st.cwd.as_deref(), Some(work.to_str().unwrap()));
    let home = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .unwrap()
        .unwrap()
        .dir;
    let (st, _, _) = exec(&mut c, "cd ~");
    assert_eq!(
        st.cwd.map(std::path::PathBuf::from),
        Some(home.canonicalize().unwrap())
    );
    let mut out = Vec::new();
    let err = c.exec("cd $HOME", &mut out, &mut Vec::new()).unwrap_err();
    assert!(
        err.to_string().contains("expanded only by a shell"),
        "{err}"
    );
}

#[test]
fn exit_n_at_the_prompt_ends_the_session_with_n() {
    let fx = Fixture::start(&["--timeout", "20"]);
    let out = client_with_stdin(&fx, &["-T"], b"echo a\nexit 5\necho b\n");
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_eq!(out.stdout, b"a\n");
}

#[test]
fn stdin_frames_sent_after_the_command_ended_are_skipped() {
    let fx = Fixture::start(&["--timeout", "20"]);
    let mut s = fx.logged_in();
    send_exec(&mut s, "true", true);
    loop {
        if let Incoming::Done(st) = read_incoming(&mut s).unwrap() {
            assert_eq!(st.exit, Some(0));
            break;
        }
    }
    write_stdin(&mut s, b"late").unwrap();
    write_stdin(&mut s, b"").unwrap();
    send_exec(&mut s, "echo next", false);
    assert_eq!(read_line_of_output(&mut s), "next\n");
}

#[test]
fn a_command_that_kills_its_keeper_still_leaves_nothing_behind() {
    require_tool("setsid");
    let fx = Fixture::start(&["--timeout", "30"]);
    let t = tag();
    let mut c = fx.client();
    // $PPID of the command's shell is its keeper; SIGKILL gives it no chance to clean up.
    let (st, _, _) = exec(
        &mut c,
        &format!("setsid -f sleep 304.{t}; (sleep 305.{t} &); sleep 0.2; kill -9 $PPID; sleep 60"),
    );
    assert_eq!(st.signal, Some(9), "{st:?}");
    let gone = wait_until(Duration::from_secs(1), || {
        processes_with(&format!(".{t}")).is_empty()
    });
    assert!(
        gone,
        "still running: {:?}\n{}",
        processes_with(&format!(".{t}")),
        fx.server.stderr()
    );
    // The session goes on.
    let (st, out, _) = exec(&mut c, "echo still-here");
    assert_eq!((st.exit, out.as_slice()), (Some(0), &b"still-here\n"[..]));
}

#[test]
fn a_server_killed_with_sigkill_leaves_nothing_behind() {
    require_tool("setsid");
    let mut fx = Fixture::start(&["--timeout", "60"]);
    let t = tag();
    let _conn = start_escapees(&fx, &t);
    fx.server.signal("KILL");
    fx.server
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| fx.fail("no exit after SIGKILL"));
    // The keeper's parent-death signal: it kills its tree.
    assert_all_gone(
        &fx,
        &t,
        Instant::now(),
        Duration::from_secs(1),
        "server SIGKILL",
    );
}

#[test]
fn a_pty_session_whose_client_vanishes_leaves_nothing_behind() {
    require_tool("setsid");
    let fx = Fixture::start(&["--timeout", "60"]);
    let t = tag();
    let mut s = fx.logged_in();
    let cmd = format!("{}; sleep 60", escapees(&t));
    write_header(
        &mut s,
        &ShellRequest::Pty {
            term: "xterm".into(),
            rows: 24,
            cols: 80,
            cmd: Some(cmd),
            env: Default::default(),
        },
    )
    .unwrap();
    assert!(read_line_of_output(&mut s).contains("ready"));
    assert_running(&t);
    drop(s);
    assert_all_gone(
        &fx,
        &t,
        Instant::now(),
        Duration::from_secs(1),
        "PTY client gone",
    );
}

#[test]
fn a_command_inherits_no_descriptor_of_the_server_or_other_sessions() {
    let fx = Fixture::start(&["--timeout", "30"]);
    // Another session's command is running, with its pipes, PTY and exit notifier open.
    let mut other = fx.connect();
    socklab_testkit::login(&mut other, USER, password()).unwrap();
    write_header(
        &mut other,
        &ShellRequest::Pty {
            term: "xterm".into(),
            rows: 24,
            cols: 80,
            cmd: Some("echo up; sleep 20".into()),
            env: Default::default(),
        },
    )
    .unwrap();
    assert!(read_line_of_output(&mut other).contains("up"));
    let mut c = fx.client();
    let (_, out, err) = exec(
        &mut c,
        "ls /proc/self/fd | tr '\\n' ' '; ls -l /proc/self/fd >&2",
    );
    // 0, 1, 2, and 3: the directory ls is reading.
    assert_eq!(
        String::from_utf8_lossy(&out),
        "0 1 2 3 ",
        "{}",
        String::from_utf8_lossy(&err)
    );
}

#[test]
fn a_session_started_meanwhile_does_not_delay_the_reply_of_another() {
    let fx = Fixture::start(&["--timeout", "30"]);
    let mut a = fx.client();
    let mut b = fx.logged_in();
    let started = Instant::now();
    let a_thread = std::thread::spawn(move || {
        let (st, out, _) = exec(&mut a, "sleep 1; echo a-done");
        (st, out, started.elapsed())
    });
    // B's keeper starts while A's command runs, and lives 15 s.
    std::thread::sleep(Duration::from_millis(300));
    send_exec(&mut b, "echo b-up; sleep 15", false);
    assert_eq!(read_line_of_output(&mut b), "b-up\n");
    let (st, out, took) = a_thread.join().unwrap();
    assert_eq!((st.exit, out.as_slice()), (Some(0), &b"a-done\n"[..]));
    assert!(
        took < Duration::from_secs(8),
        "A's reply waited for B: {took:?}"
    );
}

#[test]
fn a_sessions_commands_share_one_keeper_and_each_leaves_nothing_behind() {
    require_tool("setsid");
    let fx = Fixture::start(&["--timeout", "30"]);
    let mut c = fx.client();
    let t = tag();
    // The command ends at once; its escapees are killed before the reply leaves.
    let (st, out, err) = exec(&mut c, &escapees(&t));
    assert_eq!(
        (st.exit, out.as_slice()),
        (Some(0), &b"ready\n"[..]),
        "{}",
        String::from_utf8_lossy(&err)
    );
    assert!(
        processes_with(&format!(".{t}")).is_empty(),
        "left running after the reply: {:?}\n{}",
        processes_with(&format!(".{t}")),
        fx.server.stderr()
    );
    // Each command in a process group of its own, under the same keeper, which holds
    // no terminal.
    let parent_and_group = "echo $PPID $(cut -d' ' -f5 /proc/$$/stat) $$";
    let (_, first, _) = exec(&mut c, parent_and_group);
    let (_, second, _) = exec(&mut c, parent_and_group);
    let fields = |b: &[u8]| -> Vec<u32> {
        String::from_utf8_lossy(b)
            .split_whitespace()
            .map(|f| f.parse().unwrap())
            .collect()
    };
    let (a, b) = (fields(&first), fields(&second));
    assert_eq!(a[0], b[0], "one keeper per session: {a:?} {b:?}");
    assert_eq!(
        (a[1], b[1]),
        (a[2], b[2]),
        "own process groups: {a:?} {b:?}"
    );
    let keeper_cmdline = std::fs::read(format!("/proc/{}/cmdline", a[0])).unwrap();
    assert!(
        String::from_utf8_lossy(&keeper_cmdline).contains("--socklab-session-keeper"),
        "{:?}",
        String::from_utf8_lossy(&keeper_cmdline)
    );
    // The session's end ends its keeper.
    drop(c);
    let gone = wait_until(Duration::from_secs(1), || {
        !std::path::Path::new(&format!("/proc/{}", a[0])).exists()
    });
    assert!(gone, "keeper {} outlived its session", a[0]);
}

#[test]
fn a_clients_socket_is_watched_by_tcp_keepalive_so_a_silent_death_is_seen() {
    require_tool("ss");
    let fx = Fixture::start(&[]);
    let s = fx.logged_in();
    let (server, client) = (fx.server.port(), s.local_addr().unwrap().port());
    // The server's end of this connection: its keepalive timer is armed.
    let filter = format!("( sport = :{server} and dport = :{client} )");
    let out = Command::new("ss")
        .args(["-tnoH", "state", "established", &filter])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("timer:(keepalive"),
        "no keepalive on the server's socket: {text:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
