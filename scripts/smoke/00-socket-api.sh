#!/usr/bin/env bash
# Smoke: echo-server --iterative --backlog 1 queues a second client behind a busy first
# one and serves it when the first leaves, then stops on SIGTERM with exit 0.
source "$(dirname "$0")/../lib.sh"
start_server ITER "$BIN/echo-server" --port 0 --iterative --backlog 1
{ printf 'first\n'; sleep 1; } | nc -N 127.0.0.1 "$ITER_PORT" >"$WORK/first.out" &
first=$!
sleep 0.3
got=$(printf 'second\n' | timeout 10 nc -N 127.0.0.1 "$ITER_PORT")
[[ $got == second ]] || die "queued client got '$got'"
wait "$first"
[[ $(cat "$WORK/first.out") == first ]] || die "busy client got '$(cat "$WORK/first.out")'"
kill -TERM "$ITER_PID"
status=0
wait "$ITER_PID" || status=$?
[[ $status -eq 0 ]] || die "echo-server --iterative exited $status on SIGTERM"
for ex in numbered blocking reuseport v6only unix create_connection; do
    "$BIN/examples/$ex" >"$WORK/$ex.out" || die "example $ex failed: $(cat "$WORK/$ex.out")"
done
