#!/usr/bin/env bash
# `make capture LESSON=echo|chat|shell|ftp`: runs the lesson's demo traffic on loopback
# while tshark writes target/capture/LESSON.pcapng, then prints the conversation as
# scripts/wireshark/socklab.lua dissects it, one line per message:
#
#   frame  seconds  direction  message
#
# The server picks a free port (--port 0); tshark captures only that port and starts
# after the server has printed it; the traffic starts once tshark is capturing. Every
# process started here is stopped by its PID. Capturing needs root, or membership of
# the `wireshark` group (Debian's dumpcap is then allowed to capture).
#
#   bash scripts/capture.sh ftp            # capture and print
#   bash scripts/capture.sh --print ftp    # print an existing target/capture/ftp.pcapng
#   bash scripts/capture.sh --markdown ftp # the same lines in a ```text block, for the lesson pages
source "$(dirname "$0")/lib.sh"

MODE=capture
case ${1:-} in
--print) MODE=print && shift ;;
--markdown) MODE=markdown && shift ;;
esac
LESSON=${1:-}
case $LESSON in
echo | chat | shell | ftp) ;;
*) die "usage: scripts/capture.sh [--print|--markdown] echo|chat|shell|ftp (make capture LESSON=...)" ;;
esac

LUA="$ROOT/scripts/wireshark/socklab.lua"
OUT_DIR="$ROOT/target/capture"
OUT="$OUT_DIR/$LESSON.pcapng"
PORT_FILE="$OUT_DIR/$LESSON.port"

command -v tshark >/dev/null 2>&1 ||
    die "tshark is not installed: run make setup (scripts/setup.sh installs it), or apt-get install tshark"

# Can this user capture on lo? Root can; so can members of the wireshark group when
# dumpcap was installed with capture rights (Debian asks; scripts/setup.sh says no, so
# only root captures on a machine set up by it unless someone runs
# `dpkg-reconfigure wireshark-common` and `usermod -aG wireshark $USER`).
can_capture() {
    [[ $(id -u) -eq 0 ]] && return 0
    id -nG | tr ' ' '\n' | grep -qx wireshark || return 1
    local dumpcap
    dumpcap=$(command -v dumpcap || echo /usr/bin/dumpcap)
    [[ -x $dumpcap ]]
}

# print_conversation FILE PORT: every segment or datagram that carries bytes, with the
# socklab messages the dissector found in it, one line per message. Two passes (-2), so
# that a segment holding only the start of a message can name the frame that completes it.
print_conversation() {
    local file=$1 port=$2 sep=$'\x1f'
    # The preference puts the lesson's port under the dissector, whatever it is.
    local pref
    case $LESSON in
    echo) pref="socklab.echo_ports:$port" ;;
    chat) pref="socklab.chat_ports:$port" ;;
    *) pref="socklab.framed_ports:$port" ;;
    esac
    tshark -n -2 -X "lua_script:$LUA" -o "$pref" -r "$file" -Y 'socklab || tcp.len > 0' \
        -T fields -E occurrence=a -E "aggregator=$sep" -E separator=/t \
        -e frame.number -e frame.time_relative -e tcp.srcport -e udp.srcport \
        -e tcp.len -e udp.length -e tcp.reassembled_in -e socklab.msg 2>/dev/null |
        awk -F'\t' -v sep="$sep" -v port="$port" '{
            from = ($3 != "" ? $3 : $4)
            dir = (from == port ? "server -> client" : "client -> server")
            bytes = ($5 != "" ? $5 : $6 - 8)
            gsub(/\\\\/, "\\", $8)
            n = split($8, msgs, sep)
            if (n == 0) { n = 1; msgs[1] = "(part of a message that frame " $7 " completes)" }
            for (i = 1; i <= n; i++) {
                if (i == 1) printf "%5d  %8.6f  %s  %6d  %s\n", $1, $2, dir, bytes, msgs[i]
                else printf "%5s  %8s  %16s  %6s  %s\n", "", "", "", "", msgs[i]
            }
        }'
}

HEADING="frame   seconds   direction          bytes  message"

if [[ $MODE != capture ]]; then
    [[ -f $OUT && -f $PORT_FILE ]] || die "no $OUT yet: run make capture LESSON=$LESSON"
    if [[ $MODE == markdown ]]; then
        echo '```text'
        echo "$HEADING"
        print_conversation "$OUT" "$(cat "$PORT_FILE")"
        echo '```'
    else
        print_conversation "$OUT" "$(cat "$PORT_FILE")"
    fi
    exit 0
fi

can_capture || die "capturing on lo needs root or the wireshark group (with dumpcap allowed to capture:
  sudo dpkg-reconfigure wireshark-common   # answer yes
  sudo usermod -aG wireshark \$USER         # then log in again
or run: sudo make capture LESSON=$LESSON"

echo "capture: building the $LESSON lesson" >&2
(cd "$ROOT" && cargo build -q -p "socklab-$LESSON" -p socklab-auth --bins)
mkdir -p "$OUT_DIR"
rm -f "$OUT" "$PORT_FILE"

# start_capture PORT: tshark on lo for PORT only; returns once it is capturing.
start_capture() {
    local port=$1 i
    # dumpcap (run by tshark) writes the file; it must be allowed to write there.
    tshark -n -q -i lo -f "port $port" -w "$OUT" >"$WORK/tshark.out" 2>"$WORK/tshark.err" &
    TSHARK_PID=$!
    STARTED_PIDS+=("$TSHARK_PID")
    for i in $(seq 1 200); do
        grep -q '^Capturing on' "$WORK/tshark.err" && break
        kill -0 "$TSHARK_PID" 2>/dev/null || die "tshark could not capture: $(cat "$WORK/tshark.err")"
        sleep 0.05
    done
    grep -q '^Capturing on' "$WORK/tshark.err" || die "tshark did not start capturing within 10 s"
    # "Capturing on" comes once the filter is set; a little margin for the first packet.
    sleep 0.3
}

stop_capture() {
    sleep 0.3 # the last segments (FIN, ACK) reach the capture
    kill -TERM "$TSHARK_PID" 2>/dev/null || true
    wait "$TSHARK_PID" 2>/dev/null || true
}

traffic_echo() {
    start_server SRV "$BIN/echo-server" --port 0
    PORT=$SRV_PORT
    start_capture "$PORT"
    printf 'hello, socklab\n' | "$BIN/echo-client" --port "$PORT" >/dev/null
    # Sticky packets, seen by TCP: two sends in one segment (MSG_MORE makes the kernel
    # hold the first, as a busy sender's would be), then one send of 150,000 bytes,
    # which loopback (MTU 65536) cuts into three segments. Each message is a frame (u32
    # big-endian length, then the bytes), so the dissector finds every message
    # wherever the segments cut.
    python3 - "$PORT" <<'PY'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
frame = lambda b: struct.pack("!I", len(b)) + b
s.send(frame(b"hello"), socket.MSG_MORE)      # send 1: held back ...
s.send(frame(b"world"))                       # send 2: ... and sent with it, one segment
s.sendall(frame(b"x" * 149996))               # one send, 150,000 bytes: several segments
s.shutdown(socket.SHUT_WR)
got = b""
while chunk := s.recv(65536):
    got += chunk
assert len(got) == 9 + 9 + 150000, len(got)
PY
    stop_capture
}

traffic_chat() {
    start_server SRV "$BIN/chat-server" --port 0
    PORT=$SRV_PORT
    start_capture "$PORT"
    { sleep 0.3; echo "hi bob, alice here"; sleep 0.6; echo "/who"; sleep 0.3; } |
        "$BIN/chat-client" --port "$PORT" --nick alice --linger 0.5 >/dev/null 2>&1 &
    local a=$!
    STARTED_PIDS+=("$a")
    { sleep 0.6; echo "hello alice"; sleep 0.5; } |
        "$BIN/chat-client" --port "$PORT" --nick bob --linger 0.3 >/dev/null 2>&1 &
    local b=$!
    STARTED_PIDS+=("$b")
    wait "$a" "$b"
    stop_capture
}

traffic_shell() {
    local pw
    pw=$(make_users "$WORK/users" alice)
    mkdir -p "$WORK/box"
    start_server SRV "$BIN/shell-server" --port 0 --users "$WORK/users" --workdir "$WORK/box" --allow-root
    PORT=$SRV_PORT
    start_capture "$PORT"
    SOCKLAB_PASSWORD=$pw "$BIN/shell-client" --port "$PORT" --user alice -- \
        'echo hello from the shell; echo a warning >&2; exit 3' >/dev/null 2>&1 || true
    stop_capture
}

traffic_ftp() {
    local pw
    pw=$(make_users "$WORK/users" alice)
    printf '%s\n' "$pw" >"$WORK/password"
    mkdir -p "$WORK/served" "$WORK/here"
    start_server SRV "$BIN/ftp-server" --port 0 --root "$WORK/served" --users "$WORK/users"
    PORT=$SRV_PORT
    # 100,000 bytes: more than one loopback segment holds, so the body spans several.
    head -c 100000 /dev/urandom >"$WORK/here/notes.bin"
    echo "capture: put notes.bin, 100000 bytes, md5 $(md5sum <"$WORK/here/notes.bin" | cut -d' ' -f1)" >&2
    start_capture "$PORT"
    local ftp=("$BIN/ftp-client" --port "$PORT" --user alice --password-file "$WORK/password" --no-progress)
    (cd "$WORK/here" && "${ftp[@]}" put notes.bin >/dev/null)
    (cd "$WORK/here" && "${ftp[@]}" ls >/dev/null)
    (cd "$WORK/here" && "${ftp[@]}" get notes.bin -o copy.bin >/dev/null)
    cmp -s "$WORK/here/notes.bin" "$WORK/here/copy.bin" || die "the downloaded copy differs"
    stop_capture
}

"traffic_$LESSON"
stop_server "$SRV_PID"
echo "$PORT" >"$PORT_FILE"
echo "capture: wrote $OUT ($(stat -c %s "$OUT") bytes, $LESSON on port $PORT)" >&2
echo "$HEADING"
print_conversation "$OUT" "$PORT"
