#!/usr/bin/env bash
# Smoke: echo-server on port 0 answers nc and echo-client, then stops on SIGTERM.
source "$(dirname "$0")/../lib.sh"
start_server ECHO "$BIN/echo-server" --port 0 --upper
got=$(printf 'smoke\n' | nc -N 127.0.0.1 "$ECHO_PORT")
[[ $got == SMOKE ]] || die "nc got '$got'"
got=$(printf 'client\n' | "$BIN/echo-client" --port "$ECHO_PORT")
[[ $got == CLIENT ]] || die "echo-client got '$got'"
stop_server "$ECHO_PID"
wait "$ECHO_PID" 2>/dev/null; true
