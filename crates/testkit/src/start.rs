//! The one way tests and benchmarks start socklab's servers: the binary built beside
//! the running executable, on port 0, stdin at EOF, with a [`Fixture`]'s files where
//! the server needs them, then the caller's flags.
//!
//! `start_*` spawn and wait for `listening on ADDR`; [`server_command`],
//! [`shell_server`] and [`ftp_server`] return the command instead, for a caller that
//! sets more (an environment variable, a stdin) before [`Server::spawn_with`].

use crate::{Fixture, Server};
use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Binary `name` from the target directory of the running executable: a test runs
/// from `target/PROFILE/deps/`, a benchmark from `target/PROFILE/`, and the binaries
/// are in `target/PROFILE/`. (`CARGO_BIN_EXE_<name>` is known only to tests of the crate
/// that defines the binary.) Panics, saying how to build it, when it is not there.
pub fn bin(name: &str) -> PathBuf {
    let path = profile_dir().join(name);
    assert!(
        path.is_file(),
        "{} is not built; run cargo build --workspace --bins",
        path.display()
    );
    path
}

/// Example `name`, which `cargo test` builds into `target/PROFILE/examples/`.
pub fn example(name: &str) -> PathBuf {
    let path = profile_dir().join("examples").join(name);
    assert!(
        path.is_file(),
        "{} is not built; run cargo test or cargo build --examples",
        path.display()
    );
    path
}

/// The longest a teaching example may run: they end by themselves in seconds.
pub const EXAMPLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs example `name` with `args`, asserts it exited 0 within [`EXAMPLE_LIMIT`], and
/// returns its stdout. Both pipes are drained on threads, so a chatty example cannot
/// block on a full pipe; a hung one is killed and fails with what it printed.
pub fn run_example(name: &str, args: &[&str]) -> String {
    use std::io::Read;
    let mut child = Command::new(example(name))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start example {name}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let status = crate::wait_child(&mut child, EXAMPLE_LIMIT);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    let Some(status) = status else {
        panic!(
            "{name} still running after {EXAMPLE_LIMIT:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
    };
    assert!(
        status.success(),
        "{name} failed ({status})\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the running executable has a path");
    let dir = exe.parent().expect("an executable is in a directory");
    if dir.file_name() == Some(OsStr::new("deps")) {
        dir.parent().unwrap_or(dir).to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// Server binary `name` with `--port 0 ARGS`: echo-server and chat-server need no
/// more (both bind 127.0.0.1 unless `ARGS` has `--host`).
pub fn server_command(name: &str, args: &[&str]) -> Command {
    command(name, &[], args)
}

/// `shell-server --port 0 --users USERS --workdir WORK --allow-root ARGS`, with the
/// fixture's users file and work directory. `--allow-root` because CI runs the tests
/// as root; it changes nothing for another user.
pub fn shell_server(fx: &Fixture, args: &[&str]) -> Command {
    let mut all = args.to_vec();
    if !all.contains(&"--allow-root") {
        all.insert(0, "--allow-root");
    }
    command(
        "shell-server",
        &[("--users", fx.users()), ("--workdir", fx.work())],
        &all,
    )
}

/// `ftp-server --port 0 --root ROOT --users USERS ARGS`, with the fixture's served
/// directory and users file.
pub fn ftp_server(fx: &Fixture, args: &[&str]) -> Command {
    command(
        "ftp-server",
        &[("--root", fx.root()), ("--users", fx.users())],
        args,
    )
}

/// Starts `echo-server --port 0 ARGS`.
pub fn start_echo(args: &[&str]) -> Server {
    Server::spawn_with(&mut server_command("echo-server", args))
}

/// Starts `chat-server --port 0 ARGS`.
pub fn start_chat(args: &[&str]) -> Server {
    Server::spawn_with(&mut server_command("chat-server", args))
}

/// Starts [`shell_server`].
pub fn start_shell(fx: &Fixture, args: &[&str]) -> Server {
    Server::spawn_with(&mut shell_server(fx, args))
}

/// Starts [`ftp_server`].
pub fn start_ftp(fx: &Fixture, args: &[&str]) -> Server {
    Server::spawn_with(&mut ftp_server(fx, args))
}

fn command(name: &str, files: &[(&str, PathBuf)], args: &[&str]) -> Command {
    let mut cmd = Command::new(bin(name));
    cmd.args(["--port", "0"]);
    for (flag, path) in files {
        cmd.arg(flag).arg(path);
    }
    cmd.args(args).stdin(Stdio::null());
    cmd
}
