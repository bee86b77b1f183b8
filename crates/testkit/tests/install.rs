//! `make install` and `make uninstall` (issue 19): into a temp prefix, with the
//! binaries this build already made (`BIN_DIR`, so the test builds nothing), then each
//! installed binary, completion and man page is used the way a user would use it, and
//! uninstall must leave the prefix as empty as it was.
//!
//! Needs every lesson binary built (`cargo build --workspace --bins`; `cargo test
//! --workspace` does), and `man` (scripts/setup.sh installs man-db).

use socklab_testkit::{bin, require_tool};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What `make install` installs.
const BINS: [&str; 9] = [
    "echo-server",
    "echo-client",
    "chat-server",
    "chat-client",
    "shell-server",
    "shell-client",
    "ftp-server",
    "ftp-client",
    "socklab-passwd",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(cmd: &mut Command) -> Output {
    let desc = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {desc}: {e}"));
    assert!(
        out.status.success(),
        "{desc} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn make(target: &str, prefix: &Path, bin_dir: &Path) -> Output {
    run(Command::new("make")
        .arg("-C")
        .arg(workspace_root())
        .arg(target)
        .arg(format!("PREFIX={}", prefix.display()))
        .env("BIN_DIR", bin_dir))
}

/// Every file and directory under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn make_install_puts_working_binaries_completions_and_man_pages_under_prefix_and_uninstall_removes_them(
) {
    require_tool("make");
    require_tool("man");
    let bin_dir = bin("echo-server").parent().unwrap().to_path_buf();
    for b in BINS {
        bin(b); // Panics, saying how to build it, when it is not there.
    }
    let prefix = tempfile::tempdir().unwrap();
    let p = prefix.path();
    make("install", p, &bin_dir);
    let installed = tree(p);

    for b in BINS {
        let exe = p.join("bin").join(b);
        let help = run(Command::new(&exe).arg("--help"));
        let help = String::from_utf8_lossy(&help.stdout).into_owned();
        let examples = help
            .split_once("Examples:")
            .map(|(_, e)| e)
            .unwrap_or_else(|| panic!("{b} --help has no examples:\n{help}"));
        assert!(
            examples.matches(&format!("{b} ")).count() >= 1
                && examples.lines().filter(|l| !l.trim().is_empty()).count() >= 2,
            "{b} --help should end with two or three examples using it:\n{help}"
        );
        let version = run(Command::new(&exe).arg("--version"));
        let version = String::from_utf8_lossy(&version.stdout).into_owned();
        assert!(
            version.starts_with(&format!("{b} {}", env!("CARGO_PKG_VERSION"))),
            "{b} --version: {version:?}"
        );
        for f in [
            format!("share/man/man1/{b}.1"),
            format!("share/bash-completion/completions/{b}"),
            format!("share/zsh/site-functions/_{b}"),
            format!("share/fish/vendor_completions.d/{b}.fish"),
        ] {
            let text = std::fs::read_to_string(p.join(&f))
                .unwrap_or_else(|e| panic!("{f}: {e}; installed: {installed:#?}"));
            assert!(text.contains(b), "{f} does not name {b}:\n{text}");
        }
    }

    // The bash completion registers itself for its command.
    let completion = p.join("share/bash-completion/completions/ftp-client");
    let out = run(Command::new("bash").arg("-c").arg(format!(
        "source '{}' && complete -p ftp-client",
        completion.display()
    )));
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.starts_with("complete ") && out.trim_end().ends_with(" ftp-client"),
        "complete -p ftp-client: {out:?}"
    );

    // The zsh one is a compdef file for its command.
    let zsh = std::fs::read_to_string(p.join("share/zsh/site-functions/_ftp-client")).unwrap();
    assert!(zsh.starts_with("#compdef ftp-client"), "{zsh}");

    // The man page renders, with the real flags and the examples.
    let page = p.join("share/man/man1/ftp-client.1");
    let out = run(Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for needle in ["NAME", "ftp-client", "--password-file", "terminal 2$"] {
        assert!(
            text.contains(needle),
            "man -l {} lacks {needle:?}:\n{text}",
            page.display()
        );
    }

    make("uninstall", p, &bin_dir);
    let left = tree(p);
    assert!(
        left.is_empty(),
        "make uninstall left {left:#?} (installed: {installed:#?})"
    );
}
