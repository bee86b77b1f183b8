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

step "the remote shell over TLS: the password and every command encrypted"
PATH="$BIN:$PATH"
export SOCKLAB_PASSWORD
SOCKLAB_PASSWORD=$(make_users "$WORK/tls-users" alice)
mkdir -p "$WORK/tls-box"
start_server TSH shell-server --users "$WORK/tls-users" --port 0 --workdir "$WORK/tls-box" \
    --tls --state-dir "$WORK/tls-shell" --allow-root
shell_fp=$(sed -n 2p "$WORK/TSH.out" | awk '{print $2}')
echo "shell-server --tls: listening on $TSH_ADDR, $(sed -n 2p "$WORK/TSH.out")"
echo "\$ shell-client --port $TSH_PORT --user alice --fingerprint $shell_fp -- 'echo \$SOCKLAB_USER; uname -s'"
shell-client --port "$TSH_PORT" --user alice --fingerprint "$shell_fp" -- 'echo $SOCKLAB_USER; uname -s' |
    sed 's/^/  /'
echo "first contact without a pin: --accept-new trusts it and writes one known-hosts line"
shell-client --port "$TSH_PORT" --user alice --accept-new -- 'echo trusted' | sed 's/^/  /'
grep -c ":$TSH_PORT " "$SOCKLAB_KNOWN_HOSTS" | sed 's/^/  lines for this server: /'

step "a plain shell-client on the TLS port: told tls_required before its password leaves"
code=0
shell-client --port "$TSH_PORT" --user alice -- true 2>"$WORK/plain.err" || code=$?
sed 's/^/  /' "$WORK/plain.err"
echo "  exit code: $code"
[[ $code -eq 255 ]] || die "a plain client on a TLS port should exit 255, got $code"

step "another certificate on the same shell port: refused before the login, exit 255"
stop_server "$TSH_PID"
start_server TSH2 shell-server --users "$WORK/tls-users" --port "$TSH_PORT" \
    --workdir "$WORK/tls-box" --tls --state-dir "$WORK/tls-shell-other" --allow-root
code=0
shell-client --port "$TSH_PORT" --user alice --tls -- true 2>"$WORK/shell-changed.err" || code=$?
sed 's/^/  /' "$WORK/shell-changed.err"
echo "  exit code: $code"
[[ $code -eq 255 ]] || die "a changed certificate should exit 255, got $code"
stop_server "$TSH2_PID"

step "files over TLS: ftp put and get, byte-exact"
mkdir -p "$WORK/tls-root" "$WORK/tls-down"
start_server TFTP ftp-server --users "$WORK/tls-users" --root "$WORK/tls-root" --port 0 \
    --tls --state-dir "$WORK/tls-ftp"
ftp_fp=$(sed -n 2p "$WORK/TFTP.out" | awk '{print $2}')
echo "ftp-server --tls: listening on $TFTP_ADDR, fingerprint $ftp_fp"
head -c 1048576 /dev/urandom >"$WORK/tls-up.bin"
echo "\$ ftp-client --port $TFTP_PORT --user alice --fingerprint $ftp_fp put tls-up.bin"
(cd "$WORK" && ftp-client --port "$TFTP_PORT" --user alice --fingerprint "$ftp_fp" put tls-up.bin) |
    sed 's/^/  /'
echo "\$ ftp-client … get tls-up.bin   (into another directory)"
(cd "$WORK/tls-down" && ftp-client --port "$TFTP_PORT" --user alice --fingerprint "$ftp_fp" get tls-up.bin) |
    sed 's/^/  /'
cmp "$WORK/tls-up.bin" "$WORK/tls-down/tls-up.bin" || die "the file changed on the way"
echo "  md5 both ends: $(md5sum <"$WORK/tls-down/tls-up.bin" | cut -c1-32) (cmp: identical)"
stop_server "$TFTP_PID"
