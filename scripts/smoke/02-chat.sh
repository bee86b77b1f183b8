#!/usr/bin/env bash
# Smoke: chat-server on port 0 relays a chat-client's message to an nc -u member, then
# stops on SIGTERM with exit 0.
source "$(dirname "$0")/../lib.sh"
start_server CHAT "$BIN/chat-server" --port 0
# The nc member joins, stays two seconds, and records what it hears.
{ printf '/nick watcher\n'; sleep 2; } | nc -u -w1 127.0.0.1 "$CHAT_PORT" >"$WORK/nc.out" &
NC_PID=$!
STARTED_PIDS+=("$NC_PID")
sleep 0.5
printf 'smoke test\n' | "$BIN/chat-client" --port "$CHAT_PORT" --nick smoker --linger 0.3 >"$WORK/client.out" 2>"$WORK/client.err"
grep -q '^\*\*\* welcome, smoker' "$WORK/client.out" || die "chat-client got '$(cat "$WORK/client.out")'"
for i in $(seq 1 100); do
    grep -qx '<smoker> smoke test' "$WORK/nc.out" && break
    sleep 0.05
done
grep -qx '<smoker> smoke test' "$WORK/nc.out" || die "nc got '$(cat "$WORK/nc.out")'"
kill -TERM "$CHAT_PID"
rc=0
wait "$CHAT_PID" || rc=$?
[[ $rc -eq 0 ]] || die "chat-server exited $rc after SIGTERM: $(cat "$WORK/CHAT.err")"
