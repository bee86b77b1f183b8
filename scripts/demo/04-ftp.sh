#!/usr/bin/env bash
# Lesson 4, file transfer: ftp-server in one "terminal", ftp-client in another.
source "$(dirname "$0")/../lib.sh"

step "Lesson 4: file transfer (crates/ftp, docs/lessons/04-file-transfer.md)"
mkdir -p "$WORK/served" "$WORK/here"
PASSWORD=$(make_users "$WORK/users" alice)
printf '%s\n' "$PASSWORD" >"$WORK/password"
echo "a users file with alice (argon2id hash, generated password), and an empty directory to serve"
start_server FTP "$BIN/ftp-server" --port 0 --root "$WORK/served" --users "$WORK/users"
echo "ftp-server started: listening on $FTP_ADDR (pid $FTP_PID)"

# The client runs in $WORK/here, as a user would in their own directory.
ftp() { (cd "$WORK/here" && exec "$BIN/ftp-client" --port "$FTP_PORT" --user alice --password-file "$WORK/password" "$@"); }
# SIGKILLs the background client, with stderr closed so that bash's "Killed" job
# notice stays out of the transcript.
kill_client() {
    {
        kill -KILL "$CLIENT_PID" || true
        wait "$CLIENT_PID" || true
    } 2>/dev/null
}

step "put: the file streams with its md5 in a trailer; the server checks it before the name appears"
head -c $((3 << 20)) /dev/urandom >"$WORK/here/photo.jpg"
echo "local md5: $(md5sum <"$WORK/here/photo.jpg" | cut -d' ' -f1)"
echo "\$ ftp-client put photo.jpg"
ftp put photo.jpg

step "ls and stat"
echo "\$ ftp-client ls"
ftp ls
echo "\$ ftp-client stat photo.jpg"
ftp stat photo.jpg

step "get: written to photo.jpg.socklab-part, md5 checked, then renamed"
echo "\$ ftp-client get photo.jpg -o copy.jpg"
ftp get photo.jpg -o copy.jpg
cmp "$WORK/here/photo.jpg" "$WORK/here/copy.jpg" && echo "cmp: identical"

step "refusals: an existing name, a name that is a path, a local file that would be clobbered"
echo "\$ ftp-client put photo.jpg"
ftp put photo.jpg 2>&1 || true
echo "\$ ftp-client get ../../etc/passwd"
ftp get ../../etc/passwd 2>&1 || true
echo "\$ ftp-client get photo.jpg"
ftp get photo.jpg 2>&1 || true

step "an interrupted upload, resumed"
head -c $((128 << 20)) /dev/urandom >"$WORK/here/big.iso"
echo "\$ ftp-client put big.iso      # 128 MiB; we kill the client once the server holds some of it"
(cd "$WORK/here" && exec "$BIN/ftp-client" --port "$FTP_PORT" --user alice \
    --password-file "$WORK/password" put big.iso) &
CLIENT_PID=$! # the subshell execs the client, so this is the client's own PID
STARTED_PIDS+=("$CLIENT_PID")
held=0
for _ in $(seq 1 400); do
    held=$(find "$WORK/served/.socklab-partial" -name '*.part' -printf '%s\n' 2>/dev/null | sort -n | tail -n 1)
    [[ ${held:-0} -ge $((8 << 20)) ]] && break
    sleep 0.05
done
kill_client
echo "(client killed once the server held $((${held:-0} >> 20)) MiB; what was already in flight still arrives, so the resume starts a little later)"
# The server drains what was already in flight, then logs that it kept the partial.
for _ in $(seq 1 400); do
    grep -q 'kept partial upload of "big.iso"' "$WORK/FTP.err" && break
    sleep 0.05
done
echo "\$ ftp-client ls               # nothing under the final name: the partial waits aside"
ftp ls
[[ ! -e "$WORK/served/big.iso" ]] || die "a partial upload appeared under its final name"
echo "\$ ftp-client put big.iso --resume"
ftp put big.iso --resume
cmp "$WORK/here/big.iso" "$WORK/served/big.iso" && echo "cmp: the resumed upload is identical"

step "an interrupted download, resumed from the local .socklab-part"
echo "\$ ftp-client get big.iso -o again.iso     # killed once some of it has arrived"
(cd "$WORK/here" && exec "$BIN/ftp-client" --port "$FTP_PORT" --user alice \
    --password-file "$WORK/password" get big.iso -o again.iso) &
CLIENT_PID=$!
STARTED_PIDS+=("$CLIENT_PID")
for _ in $(seq 1 400); do
    held=$(stat -c %s "$WORK/here/again.iso.socklab-part" 2>/dev/null || echo 0)
    [[ $held -ge $((8 << 20)) ]] && break
    sleep 0.05
done
kill_client
[[ ! -e "$WORK/here/again.iso" ]] || die "a partial download appeared under its final name"
echo "(client killed; again.iso does not exist, again.iso.socklab-part holds $(($(stat -c %s "$WORK/here/again.iso.socklab-part") >> 20)) MiB)"
echo "\$ ftp-client get big.iso -o again.iso --resume"
ftp get big.iso -o again.iso --resume
cmp "$WORK/here/big.iso" "$WORK/here/again.iso" && echo "cmp: the resumed download is identical"

step "the server's log of the transfers (ftp-server logs to stderr)"
stop_server "$FTP_PID"
sed -e 's/^\[[^]]*\] *//' "$WORK/FTP.err" | grep -E 'refused|kept|resuming|stored|sent|stopped'
true
