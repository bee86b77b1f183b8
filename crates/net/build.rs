//! Exports `SOCKLAB_GIT_COMMIT` to `socklab_net::cli::VERSION`: the checkout's commit
//! (short hash) when built from a git checkout, empty otherwise (a source tarball, or
//! no `git` installed). Every binary's `--version` prints it.
//!
//! Only optimised builds (`make install`, `make bench`, `cargo build --release`) carry
//! the commit: every crate above this one is rebuilt when it changes, and a
//! development build would then rebuild most of the workspace on every commit.
//!
//! Cargo reruns this when HEAD moves: it watches the files git changes on a commit or
//! a checkout (HEAD, its reflog, the branch's ref, packed-refs), found through `git rev-parse` so
//! that a worktree, whose `.git` is a file, works too.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOCKLAB_GIT_COMMIT");
    if std::env::var("PROFILE").as_deref() == Ok("debug") {
        println!("cargo:rustc-env=SOCKLAB_GIT_COMMIT=");
        return;
    }
    // A packager building from a tarball may say which commit it is.
    let commit = std::env::var("SOCKLAB_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    if let (Some(git_dir), Some(common)) = (
        git(&["rev-parse", "--absolute-git-dir"]),
        git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
    ) {
        let (git_dir, common) = (PathBuf::from(git_dir), PathBuf::from(common));
        // HEAD's reflog grows on every commit, checkout and reset of this worktree.
        let mut watch = vec![
            git_dir.join("HEAD"),
            git_dir.join("logs").join("HEAD"),
            common.join("packed-refs"),
        ];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch.push(common.join(branch));
        }
        // Only files that exist: cargo reruns the script on every build for a missing
        // one, and so rebuilds every crate above this one.
        for path in watch.iter().filter(|p| p.is_file()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    println!(
        "cargo:rustc-env=SOCKLAB_GIT_COMMIT={}",
        commit.unwrap_or_default()
    );
}
