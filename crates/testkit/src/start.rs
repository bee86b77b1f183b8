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
