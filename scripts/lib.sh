# shellcheck shell=bash
# Helpers for socklab's demo, smoke, bench and users scripts. Source it; do not run it.
#
# Everything stays on loopback, uses port 0 (the server picks a free port and prints
# it), works in a private temp directory, and stops the processes it started, by PID,
# when the script exits however it exits.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROFILE=${PROFILE:-debug}
BIN="$ROOT/target/$PROFILE"
WORK=$(mktemp -d -t socklab.XXXXXX)
STARTED_PIDS=()

cleanup() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# Prints a heading in the transcript (bold on a terminal, plain in a log file).
if [[ -t 1 ]]; then
    step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    step() { printf '\n== %s\n' "$*"; }
fi

# Shows a command, then runs it.
show() { printf '$ %s\n' "$*"; "$@"; }

# Fails the script with a message.
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# start_server VAR CMD ARGS...: starts a server in the background, waits for its
# `listening on ADDR` line, and sets VAR_PID, VAR_ADDR and VAR_PORT. Its stdout and
# stderr go to $WORK/VAR.out and $WORK/VAR.err.
start_server() {
    local var=$1
    shift
    local out="$WORK/$var.out" err="$WORK/$var.err" line="" i pid
    "$@" >"$out" 2>"$err" &
    pid=$!
    STARTED_PIDS+=("$pid")
    for i in $(seq 1 400); do
        line=$(head -n 1 "$out" 2>/dev/null || true)
        [[ $line == "listening on "* ]] && break
        kill -0 "$pid" 2>/dev/null || die "$* exited before listening: $(cat "$err")"
        sleep 0.05
    done
    [[ $line == "listening on "* ]] || die "$* did not print 'listening on ADDR' within 20 s"
    local addr=${line#listening on }
    printf -v "${var}_PID" '%s' "$pid"
    printf -v "${var}_ADDR" '%s' "$addr"
    printf -v "${var}_PORT" '%s' "${addr##*:}"
}

# stop_server PID: SIGTERM, then wait for it to exit (at most 10 s).
stop_server() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    die "process $pid did not stop within 10 s of SIGTERM"
}

# make_users FILE USER: adds USER with a random password to the users file FILE (created
# if missing) through the real socklab-passwd, as the lessons show it, and prints the
# password. Every script that needs a users file makes it with this.
make_users() {
    local file=$1 user=$2 pw log
    pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | head -c 20)
    log=$(printf '%s\n' "$pw" | "$BIN/socklab-passwd" --users "$file" "$user" 2>&1) ||
        die "socklab-passwd could not add $user to $file: $log"
    printf '%s' "$pw"
}
