"""echo_server.py: the tutorials' uppercase echo server, fixed. Serves echo_client.py,
echo-client, nc and socat alike.

What changed from the tutorial: SO_REUSEADDR so a restart binds at once; 127.0.0.1
unless told otherwise; a thread per client (at most MAX_CLIENTS) instead of one
client at a time; sendall() instead of send(); bytes.upper() on the bytes, which only
touches a-z (decoding first crashed on the first byte that was not UTF-8); and the
connection is closed, not the listening socket.

    SOCKLAB_PORT=0 python3 echo_server.py [--upper]    prints `listening on ADDR` first
"""
import socket
import sys
import threading

from wire import CHUNK, address, run

MAX_CLIENTS = 64


def serve(conn, peer, upper, slots):
    with conn:
        conn.settimeout(300)                     # an idle client does not hold a thread forever
        try:
            while data := conn.recv(CHUNK):      # b"": the client half-closed, nothing more comes
                conn.sendall(data.upper() if upper else data)
        except OSError as e:
            print(f"{peer}: {e}", file=sys.stderr)
    slots.release()


def main():
    upper = "--upper" in sys.argv[1:]
    host, port = address("echo")
    srv = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # before bind, or it does nothing
    srv.bind((host, port))
    srv.listen(128)                              # the queue of finished handshakes, not a client cap
    print(f"listening on {host}:{srv.getsockname()[1]}", flush=True)
    slots = threading.BoundedSemaphore(MAX_CLIENTS)
    while True:
        conn, peer = srv.accept()
        if not slots.acquire(blocking=False):    # over the cap: close at once, keep serving
            conn.close()
            continue
        threading.Thread(target=serve, args=(conn, peer, upper, slots), daemon=True).start()


if __name__ == "__main__":
    run(main)
