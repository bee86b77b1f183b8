#!/usr/bin/env bash
# Installs the peers socklab's tests, demo and benchmarks talk to, when they are
# missing: netcat-openbsd (nc), socat, python3 and tshark (the wire-view tests and
# make capture), and with BENCH=1 (make bench) ncat
# and iperf3 too. Idempotent: it does
# nothing when they are all there. Needs root (or sudo) only when it must install.
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
# The install test renders a man page (man -l) and runs make.
command -v man >/dev/null 2>&1 || need+=(man-db)
command -v groff >/dev/null 2>&1 || need+=(groff-base)
command -v make >/dev/null 2>&1 || need+=(make)
if [[ ${BENCH:-0} == 1 ]]; then
    command -v ncat >/dev/null 2>&1 || need+=(ncat)
    command -v iperf3 >/dev/null 2>&1 || need+=(iperf3)
fi
[[ ${#need[@]} -eq 0 ]] && exit 0

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
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
