#!/usr/bin/env bash
# Lesson 0, the socket API: each example shows one call or option at work
# (docs/lessons/00-socket-api.md). Every example is self-contained and ends by itself.
source "$(dirname "$0")/../lib.sh"

step "Lesson 0: the socket API (crates/echo/examples, docs/lessons/00-socket-api.md)"

step "the numbered stream: read until EOF instead of sleeping and polling"
"$BIN/examples/numbered"

step "blocking, timeout, non-blocking (WouldBlock), and waiting in poll"
"$BIN/examples/blocking"

step "listen(backlog): a busy --iterative echo server, its queue, and the overflow"
"$BIN/examples/backlog"

step "the same with the real binary: echo-server --iterative --backlog 1"
start_server ITER "$BIN/echo-server" --port 0 --iterative --backlog 1
echo "(client 1 holds the server for 2 s; client 2 connects at once and waits in the queue)"
{ printf 'first\n'; sleep 2; } | nc -N 127.0.0.1 "$ITER_PORT" | sed -u 's/^/client 1 got: /' &
first=$!
sleep 0.3
start=$(date +%s%N)
printf 'second\n' | nc -N 127.0.0.1 "$ITER_PORT" | sed 's/^/client 2 got: /'
echo "client 2 waited $((($(date +%s%N) - start) / 1000000)) ms for its echo"
wait "$first"
stop_server "$ITER_PID"

step "SO_REUSEPORT: two listeners on one port"
"$BIN/examples/reuseport"

step "IPV6_V6ONLY: does an IPv4 client reach a :: listener?"
"$BIN/examples/v6only"

step "AF_UNIX stream and datagram sockets, and socketpair"
"$BIN/examples/unix"

step "create_connection: every address of a name, in turn"
"$BIN/examples/create_connection"
