#!/usr/bin/env bash
# Smoke, lesson 3: shell-server on port 0, one login + command through shell-client,
# then SIGTERM and exit 0.
source "$(dirname "$0")/../lib.sh"

PW=$(make_users "$WORK/users" smoke)
start_server SHELL "$BIN/shell-server" --users "$WORK/users" --port 0 --workdir "$WORK" --allow-root
code=0
out=$(SOCKLAB_PASSWORD=$PW "$BIN/shell-client" --port "$SHELL_PORT" --user smoke -- \
    'echo smoke-out; echo smoke-err >&2; exit 7' 2>"$WORK/client.err") || code=$?
[[ $out == smoke-out ]] || die "stdout was '$out'"
[[ $(cat "$WORK/client.err") == smoke-err ]] || die "stderr was '$(cat "$WORK/client.err")'"
[[ $code -eq 7 ]] || die "exit code was $code, want 7"
kill -TERM "$SHELL_PID"
status=0
wait "$SHELL_PID" || status=$?
[[ $status -eq 0 ]] || die "shell-server exited $status after SIGTERM: $(cat "$WORK/SHELL.err")"
