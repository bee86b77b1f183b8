#!/usr/bin/env bash
# Smoke: ftp-server on port 0 stores a put, serves it back byte-exact, then stops on
# SIGTERM with exit 0.
source "$(dirname "$0")/../lib.sh"
mkdir -p "$WORK/served" "$WORK/here"
make_users "$WORK/users" smoke >"$WORK/password"
start_server FTP "$BIN/ftp-server" --port 0 --root "$WORK/served" --users "$WORK/users"
ftp() { (cd "$WORK/here" && exec "$BIN/ftp-client" --port "$FTP_PORT" --user smoke --password-file "$WORK/password" "$@"); }
head -c 100000 /dev/urandom >"$WORK/here/in.bin"
ftp put in.bin >/dev/null || die "put failed: $(cat "$WORK/FTP.err")"
ftp get in.bin -o out.bin >/dev/null || die "get failed: $(cat "$WORK/FTP.err")"
cmp -s "$WORK/here/in.bin" "$WORK/here/out.bin" || die "downloaded file differs"
[[ $(ftp ls) == *in.bin* ]] || die "ls does not show in.bin"
kill -TERM "$FTP_PID"
rc=0
wait "$FTP_PID" || rc=$?
[[ $rc -eq 0 ]] || die "ftp-server exited $rc after SIGTERM: $(cat "$WORK/FTP.err")"
