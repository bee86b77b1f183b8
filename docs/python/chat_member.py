"""chat_member.py: the tutorials' UDP chat client, fixed. Talks to chat-server (lesson 2).

The tutorial's client called input() and then recvfrom(1024): nothing the others said
showed up while you typed, a longer message was cut without a word, one byte that was
not UTF-8 crashed it, and a server that was not running made it wait forever. Here a
thread prints what arrives while the main thread reads your lines; the socket is
connect()ed, so a missing server comes back as ConnectionRefusedError; a heartbeat
(/ping) keeps a quiet member from being expired (UDP has no connection to say "still
here"), and /quit says goodbye (nor one to say "gone").

    SOCKLAB_PORT=7009 python3 chat_member.py --nick ann [--heartbeat SECS]
"""
import argparse
import os
import socket
import sys
import threading

from wire import address, run

MAX_MESSAGE = 2048   # the server's --max-message: longer is refused, so do not send it
PACE = 0.2           # seconds between our datagrams: the server allows 5 a second


def receive(sock, done, nick):
    while True:
        try:
            data = sock.recv(65536)          # one datagram = one whole line, never glued
        except ConnectionRefusedError:       # ICMP "port unreachable" for something we sent
            print("error: no chat server at that address", file=sys.stderr)
            os._exit(1)
        except OSError:
            return
        line = data.decode("utf-8", "replace").rstrip("\n")  # a bad byte is U+FFFD, not a crash
        if line == "/pong":
            continue                          # the answer to our heartbeat: nothing to show
        if line.startswith("*** to join, type: "):   # a server beyond loopback: echo its cookie
            sock.send(f"/join {line.split()[5]} {nick}".ljust(128).encode())
            continue
        if line.startswith(f'error: nick "{nick}" is taken'):
            print(line, file=sys.stderr)
            os._exit(1)
        print(line, flush=True)
        if line.startswith("*** bye"):
            done.set()


def heartbeat(sock, every, done):
    while not done.wait(every):               # wakes every `every` s until we leave
        sock.send(b"/ping")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nick", default=os.environ.get("SOCKLAB_USER", "py"))
    ap.add_argument("--heartbeat", type=float, default=15.0)
    args = ap.parse_args()
    sock = socket.socket(socket.AF_INET6 if ":" in address("chat")[0] else socket.AF_INET,
                         socket.SOCK_DGRAM)
    sock.connect(address("chat"))             # fixes the destination; sends nothing
    # Join. Padded to 128 bytes: the server never answers a stranger with more bytes than
    # it received (no amplification), and the welcome line needs the room.
    sock.send(f"/nick {args.nick}".ljust(128).encode())
    done = threading.Event()
    threading.Thread(target=receive, args=(sock, done, args.nick), daemon=True).start()
    threading.Thread(target=heartbeat, args=(sock, args.heartbeat, done), daemon=True).start()
    for line in sys.stdin:
        data = line.rstrip("\n").encode()
        if not data:
            continue
        if len(data) > MAX_MESSAGE:
            print(f"error: {len(data)} bytes is over the {MAX_MESSAGE}-byte limit; not sent",
                  file=sys.stderr)
            continue
        sock.send(data)
        done.wait(PACE)
    sock.send(b"/quit")                       # UDP has no close the server could see
    if not done.wait(3):                      # the server answers "*** bye, nick"
        print("error: the chat server did not answer /quit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run(main)
