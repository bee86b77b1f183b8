#!/usr/bin/env bash
# Lesson 1, TCP echo: the server in one "terminal", clients in another.
source "$(dirname "$0")/../lib.sh"

step "Lesson 1: TCP echo (crates/echo, docs/lessons/01-tcp-echo.md)"
start_server ECHO "$BIN/echo-server" --port 0
echo "echo-server started: listening on $ECHO_ADDR (pid $ECHO_PID)"

step "a line through nc, the tool everyone has"
echo "\$ printf 'hello, socklab\\n' | nc -N 127.0.0.1 $ECHO_PORT"
printf 'hello, socklab\n' | nc -N 127.0.0.1 "$ECHO_PORT"

step "echo-client's >> prompt (forced with --prompt, since this script is not a terminal)"
echo "(typing: 'hello', then a 3000-byte line that the tutorial's recv(1024) would cut)"
{ echo hello; head -c 3000 /dev/zero | tr '\0' 'z'; echo; } |
    "$BIN/echo-client" --port "$ECHO_PORT" --prompt |
    awk '{ if (length($0) > 60) print substr($0, 1, 40) "… (cut here for display: " length($0) " characters on this line)"; else print }'

step "pipe mode: 8 MiB of random bytes, byte-exact"
head -c $((8 << 20)) /dev/urandom >"$WORK/in.bin"
echo "\$ echo-client --port $ECHO_PORT < in.bin > out.bin"
"$BIN/echo-client" --port "$ECHO_PORT" <"$WORK/in.bin" >"$WORK/out.bin"
cmp "$WORK/in.bin" "$WORK/out.bin" && echo "cmp: identical ($(wc -c <"$WORK/out.bin") bytes)"

step "--upper, over AF_UNIX instead of TCP"
start_server UPPER "$BIN/echo-server" --unix "$WORK/echo.sock" --upper
printf 'shout, wörld\n' | "$BIN/echo-client" --unix "$WORK/echo.sock"

step "sticky packets (粘包): why the other lessons frame their messages"
"$BIN/examples/sticky"

step "SO_REUSEADDR: restarting on a port in TIME_WAIT"
"$BIN/examples/reuseaddr"

step "SIGTERM: a graceful stop"
stop_server "$ECHO_PID" && echo "echo-server stopped, exit 0. Its log:"
sed 's/^/  /' "$WORK/ECHO.err"
