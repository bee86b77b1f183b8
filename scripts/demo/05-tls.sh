#!/usr/bin/env bash
# Lesson 5, TLS: encryption and trust on first use, with the echo server as the vehicle.
source "$(dirname "$0")/../lib.sh"

step "Lesson 5: TLS (crates/net/src/tls, crates/echo/src/tls.rs, docs/lessons/05-tls.md)"
export SOCKLAB_KNOWN_HOSTS="$WORK/known_hosts"
start_server TLS "$BIN/echo-server" --port 0 --tls --state-dir "$WORK/tls-a"
fingerprint=$(sed -n 2p "$WORK/TLS.out")
echo "echo-server --tls: listening on $TLS_ADDR, then its second line:"
echo "  $fingerprint"
echo "(a self-signed ECDSA P-256 certificate, made on first start and kept in --state-dir)"

step "first contact: trust on first use, as ssh does (--accept-new off a terminal)"
echo "\$ printf 'hello over TLS\\n' | echo-client --port $TLS_PORT --tls --accept-new"
printf 'hello over TLS\n' | "$BIN/echo-client" --port "$TLS_PORT" --tls --accept-new
echo "the known-hosts file now holds one line:"
sed 's/^/  /' "$SOCKLAB_KNOWN_HOSTS"

step "a real peer: openssl s_client speaks TLS 1.3 to it (-quiet waits for more input: cut after 2 s)"
printf 'hello from openssl\n' |
    timeout 2 openssl s_client -connect "127.0.0.1:$TLS_PORT" -quiet -verify_quiet 2>/dev/null || true

step "a plain client on a TLS port is told why, not left hanging"
printf 'plain text\n' | nc -N 127.0.0.1 "$TLS_PORT" || true

step "the same host:port, another certificate: refused, nothing sent"
stop_server "$TLS_PID"
start_server TLS2 "$BIN/echo-server" --port "$TLS_PORT" --tls --state-dir "$WORK/tls-b"
echo "new server: $(sed -n 2p "$WORK/TLS2.out")"
if printf 'secret\n' | "$BIN/echo-client" --port "$TLS_PORT" --tls 2>"$WORK/changed.err"; then
    die "echo-client trusted a changed certificate"
fi
sed 's/^/  /' "$WORK/changed.err"
stop_server "$TLS2_PID"
