#!/usr/bin/env bash
# `make install` / `make uninstall`: the lesson binaries, their man pages and their
# bash, zsh and fish completions under PREFIX, and a manifest of exactly what was put
# there, so that uninstall removes those files and the directories install created,
# and nothing else.
#
#   scripts/install.sh install   PREFIX=… [PROFILE=release|debug] [BIN_DIR=DIR]
#   scripts/install.sh uninstall PREFIX=…
#
# PROFILE picks the cargo build to make and install (release by default); BIN_DIR
# installs the binaries already built in DIR instead, building nothing (the install
# test uses the binaries `cargo test` built).
#
# The pages and completions are never written by hand: each binary prints its own
# (`BINARY --generate man|bash|zsh|fish`, socklab_net::cli::parse), from the clap
# definition it parses its command line with.
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:?usage: install.sh install|uninstall}
prefix=${PREFIX:-/usr/local}
prefix=${prefix/#\~/$HOME} # PREFIX=~/.local, should the shell have left the ~ alone
profile=${PROFILE:-release}
cargo=${CARGO:-cargo}
bins=(echo-server echo-client chat-server chat-client shell-server shell-client
      ftp-server ftp-client socklab-passwd)
packages=(socklab-echo socklab-chat socklab-shell socklab-ftp socklab-auth)

manifest="$prefix/share/socklab/install-manifest"

# Where each file goes, relative to PREFIX.
bin_path()  { echo "bin/$1"; }
man_path()  { echo "share/man/man1/$1.1"; }
bash_path() { echo "share/bash-completion/completions/$1"; }
zsh_path()  { echo "share/zsh/site-functions/_$1"; }
fish_path() { echo "share/fish/vendor_completions.d/$1.fish"; }

# Manifest lines: `file PATH` and `dir PATH` (a directory install created).
files=()
dirs=()

read_manifest() {
    [[ -f $manifest ]] || return 0
    while IFS= read -r line; do
        case $line in
            "file "*) files+=("${line#file }") ;;
            "dir "*) dirs+=("${line#dir }") ;;
        esac
    done <"$manifest"
}

# Creates PREFIX/REL's parent directories, remembering the ones that were not there.
make_parent() {
    local dir missing=() d
    dir=$(dirname "$1")
    d=$dir
    while [[ ! -d $d ]]; do
        missing=("$d" "${missing[@]}")
        d=$(dirname "$d")
    done
    mkdir -p "$dir"
    for d in "${missing[@]}"; do
        dirs+=("$d")
    done
}

remember_file() {
    local f
    for f in "${files[@]}"; do [[ $f == "$1" ]] && return 0; done
    files+=("$1")
}

do_install() {
    case $profile in
        release) cargo_profile=release ;;
        debug | dev) profile=debug cargo_profile=dev ;;
        *) echo "install: PROFILE must be release or debug, not $profile" >&2; exit 2 ;;
    esac
    local bin_dir=${BIN_DIR:-}
    if [[ -z $bin_dir ]]; then
        pkg_args=()
        for p in "${packages[@]}"; do pkg_args+=(-p "$p"); done
        "$cargo" build --profile "$cargo_profile" "${pkg_args[@]}" --bins
        bin_dir=${CARGO_TARGET_DIR:-target}/$profile
    fi
    # Generate everything first: a binary that cannot print its page installs nothing.
    # Global, not local: the EXIT trap runs after this function has returned.
    stage=$(mktemp -d)
    trap 'rm -rf "$stage"' EXIT
    local b what
    for b in "${bins[@]}"; do
        local exe="$bin_dir/$b"
        [[ -x $exe ]] || { echo "install: $exe is missing; build it (cargo build --workspace --bins)" >&2; exit 1; }
        for what in man bash zsh fish; do
            "$exe" --generate "$what" >"$stage/$b.$what"
        done
    done
    read_manifest
    mkdir -p "$prefix"
    for b in "${bins[@]}"; do
        local pair src rel mode
        for pair in "bin:$bin_dir/$b" "man:$stage/$b.man" "bash:$stage/$b.bash" \
                    "zsh:$stage/$b.zsh" "fish:$stage/$b.fish"; do
            what=${pair%%:*}
            src=${pair#*:}
            rel=$("${what}_path" "$b")
            mode=0644
            [[ $what == bin ]] && mode=0755
            make_parent "$prefix/$rel"
            install -m "$mode" "$src" "$prefix/$rel"
            remember_file "$prefix/$rel"
        done
    done
    make_parent "$manifest"
    {
        for f in "${files[@]}"; do echo "file $f"; done
        for d in "${dirs[@]}"; do echo "dir $d"; done
    } >"$manifest.tmp"
    mv "$manifest.tmp" "$manifest"
    echo "installed ${#bins[@]} binaries, their man pages and bash/zsh/fish completions under $prefix"
    echo "  manifest: $manifest (make uninstall PREFIX=$prefix removes exactly these)"
    case ":$PATH:" in
        *":$prefix/bin:"*) ;;
        *) echo "  note: $prefix/bin is not on your PATH" ;;
    esac
}

do_uninstall() {
    if [[ ! -f $manifest ]]; then
        echo "uninstall: no $manifest: nothing was installed under $prefix by make install" >&2
        exit 1
    fi
    read_manifest
    local f i removed=0
    for f in "${files[@]}"; do
        if [[ -e $f || -L $f ]]; then
            rm -f -- "$f"
            removed=$((removed + 1))
        fi
    done
    rm -f -- "$manifest"
    # Deepest first; a directory someone else put files in stays.
    for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
        rmdir -- "${dirs[i]}" 2>/dev/null || true
    done
    echo "removed $removed files from $prefix"
}

case $action in
    install) do_install ;;
    uninstall) do_uninstall ;;
    *) echo "usage: install.sh install|uninstall" >&2; exit 2 ;;
esac
