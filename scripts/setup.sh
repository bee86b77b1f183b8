#!/usr/bin/env bash
# Installs the peers socklab's tests, demo and benchmarks talk to, when they are
# missing: netcat-openbsd (nc), socat, python3, tshark (the wire-view tests and
# make capture), ss, and vi, top, tmux and sudo (the remote shell's terminal tests), and
# with BENCH=1 (make bench) ncat, iperf3, OpenSSH (client and server: the bench
# starts its own sshd on a free loopback port, with a temporary host key, and stops
# it) and strace. Idempotent: it does nothing when they are all there. Needs root (or
# sudo) only when it must install.
set -euo pipefail

need=()
command -v nc >/dev/null 2>&1 && nc -h 2>&1 | grep -q -- '-N' || need+=(netcat-openbsd)
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v script >/dev/null 2>&1 || need+=(bsdutils)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v setsid >/dev/null 2>&1 || need+=(util-linux)
command -v cmp >/dev/null 2>&1 || need+=(diffutils)
command -v tar >/dev/null 2>&1 || need+=(tar)
command -v less >/dev/null 2>&1 || need+=(less)
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v ss >/dev/null 2>&1 || need+=(iproute2)
# Programs the remote shell's terminal tests run on a PTY.
command -v vi >/dev/null 2>&1 || need+=(vim-tiny)
command -v top >/dev/null 2>&1 || need+=(procps)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v sudo >/dev/null 2>&1 || need+=(sudo)
# The install test renders a man page (man -l) and runs make.
command -v man >/dev/null 2>&1 || need+=(man-db)
command -v groff >/dev/null 2>&1 || need+=(groff-base)
command -v make >/dev/null 2>&1 || need+=(make)
if [[ ${BENCH:-0} == 1 ]]; then
    command -v ncat >/dev/null 2>&1 || need+=(ncat)
    command -v iperf3 >/dev/null 2>&1 || need+=(iperf3)
    command -v ssh >/dev/null 2>&1 && command -v scp >/dev/null 2>&1 || need+=(openssh-client)
    [[ -x /usr/sbin/sshd && -x /usr/lib/openssh/sftp-server ]] || need+=(openssh-server)
    command -v strace >/dev/null 2>&1 || need+=(strace)
fi
install_packages() {
    echo "setup: installing ${need[*]}" >&2
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "setup: need root to install ${need[*]}; install them and run again" >&2
            exit 1
        }
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [[ " ${need[*]} " == *" tshark "* ]]; then
        # wireshark-common asks whether non-root users may capture; answer no (root still
        # can; `dpkg-reconfigure wireshark-common` changes it) so that nothing prompts.
        echo "wireshark-common wireshark-common/install-setuid boolean false" |
            "${sudo[@]}" debconf-set-selections
    fi
    "${sudo[@]}" apt-get update -qq
    # The bench runs its own sshd; installing the package must not start the system's
    # (listening on port 22 of every address). Debian's maintainer scripts ask
    # policy-rc.d before starting a service: when there is none, one that says "no" is
    # put there for the install and removed after it. (On a systemd machine the package
    # still enables ssh for the next boot: `systemctl disable ssh` undoes that.)
    policy=/usr/sbin/policy-rc.d
    if [[ " ${need[*]} " == *" openssh-server "* && ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod 755 "$policy"
        trap '"${sudo[@]}" rm -f "$policy"' EXIT
    fi
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# The sudo test's account (crates/shell/tests/pty_programs.rs). sudo asks only a user
# who is not root for a password, so that test runs shell-server as this system
# account: no home, no login through anything but that test, a password that stays
# locked except while the test runs (it sets a random one and locks it again), and
# one sudoers line that lets it run sudo with that password. Made only when this
# script runs as root (CI, a container): a workstation that runs the tests as a
# user skips the sudo test, and gets no new account. `userdel socklab-sudo; rm
# /etc/sudoers.d/socklab-sudo` removes both.
sudo_test_account() {
    [[ $(id -u) -eq 0 ]] || return 0
    id -u socklab-sudo >/dev/null 2>&1 ||
        useradd --system --shell /bin/sh --home-dir /nonexistent --no-create-home socklab-sudo
    passwd -l socklab-sudo >/dev/null
    local rule=/etc/sudoers.d/socklab-sudo
    if [[ ! -e $rule ]]; then
        printf 'Defaults:socklab-sudo lecture=never\nsocklab-sudo ALL=(ALL) ALL\n' >"$rule.tmp"
        chmod 440 "$rule.tmp"
        mv "$rule.tmp" "$rule"
    fi
}

[[ ${#need[@]} -eq 0 ]] || install_packages
if command -v sudo >/dev/null 2>&1; then sudo_test_account; fi
