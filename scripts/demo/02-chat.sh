#!/usr/bin/env bash
# Lesson 2, UDP group chat: one server, three chat-client members and an nc -u member,
# each fed by a scripted stdin (with small sleeps standing in for typing), then the
# transcript each of them saw.
source "$(dirname "$0")/../lib.sh"

step "Lesson 2: UDP group chat (crates/chat, docs/lessons/02-udp-chat.md)"
printf '# words the server masks\ndarn\n' >"$WORK/filter.txt"
echo "\$ chat-server --port 0 --filter filter.txt      # filter.txt lists: darn"
start_server CHAT "$BIN/chat-server" --port 0 --filter "$WORK/filter.txt"
echo "chat-server started: listening on $CHAT_ADDR (pid $CHAT_PID)"
PORT=$CHAT_PORT

step "UDP itself: boundaries kept, truncation reported, datagrams lost"
"$BIN/examples/datagrams"

step "three chat-clients (alice, bob, carol) and nc -u chat for a few seconds"
client() { # client NICK SCRIPT...: runs chat-client with stdin from the script lines
    local nick=$1
    shift
    {
        for part in "$@"; do
            case $part in
            sleep:*) sleep "${part#sleep:}" ;;
            *) printf '%s\n' "$part" ;;
            esac
        done
    } | "$BIN/chat-client" --port "$PORT" --nick "$nick" --linger 0.5 \
        >"$WORK/$nick.out" 2>"$WORK/$nick.err"
}
client alice sleep:0.8 "hi all, alice here" sleep:1.2 "/me waves at everyone" sleep:1.2 "/who" sleep:0.3 &
A=$!
client bob sleep:1.1 "hello alice, bob here" sleep:0.6 "/nick bobby" sleep:0.8 "darn, UDP has no connections" sleep:1 &
B=$!
client carol sleep:1.4 "carol here, hello both" sleep:1.9 "bye!" sleep:0.2 &
C=$!
{ sleep 0.3; printf '/nick netcat\n'; sleep 1.6; printf 'nc -u works as a member too\n'; sleep 2.5; } |
    nc -u -w1 127.0.0.1 "$PORT" >"$WORK/nc.out" &
N=$!
STARTED_PIDS+=("$A" "$B" "$C" "$N")
wait "$A" "$B" "$C"
wait "$N" 2>/dev/null || true
for who in alice bob carol; do
    echo "--- what $who's chat-client printed:"
    sed 's/^/  /' "$WORK/$who.out"
done
echo "--- what nc -u printed (the datagrams, one line each):"
sed 's/^/  /' "$WORK/nc.out"

step "what the server refuses: an oversized message, bytes that are not UTF-8, a flood"
python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
addr = ("127.0.0.1", int(sys.argv[1]))
def send(data, label):
    s.sendto(data, addr)
    print(f"  sent {label}")
def replies(wait=0.3):
    end = time.time() + wait
    while time.time() < end:
        try:
            print("    <-", s.recv(65536).decode("utf-8", "replace").rstrip("\n")[:70])
        except socket.timeout:
            break
send(b"/nick py".ljust(128), "/nick py (padded to 128 bytes, as chat-client pads its join)"); replies()
send(b"/who", "/who: netcat left without a word (UDP has no close), so it stays until --expire"); replies()
send(b"x" * 3000, "3000 bytes"); replies()
send(b"caf\xff \x1b[2J", "invalid UTF-8 and an escape sequence: the others see caf\\ufffd \\ufffd[2J")
for i in range(15):
    s.sendto(f"flood {i}".encode(), addr)
print("  sent 15 messages at once")
replies(0.5)
PY

step "SIGTERM: the members are told, the server exits 0"
stop_server "$CHAT_PID" && echo "chat-server stopped. Its log:"
sed 's/^/  /' "$WORK/CHAT.err"
