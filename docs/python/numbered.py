"""numbered.py: the tutorial's socket wrapper classes and its numbered server, fixed.
Needs no socklab server: it runs its own server and client on loopback, port 0.

The tutorial's base class chose the socket type with `type.upper() == "TCP"` and then
`type.upper == "UDP"`: the second compares the *method* with a string, which is always
False, so asking for UDP printed an error and left no socket at all. Its server sent
`i = 1` ... `i = 9` with no separator, closed the listening socket but not the
connection; its client took an empty recv() for "no data yet" and slept a second
each time, four times, before giving up. An empty recv() is EOF: the peer closed.

    python3 numbered.py            (the Rust twin: make example-numbered)
"""
import socket
import threading
import time

TYPES = {"TCP": socket.SOCK_STREAM, "UDP": socket.SOCK_DGRAM}


class Endpoint:
    def __init__(self, host, port, kind):
        kind = kind.upper()                  # called: kind.upper() is a str, kind.upper a method
        if kind not in TYPES:
            raise ValueError(f"kind must be TCP or UDP, not {kind!r}")  # fail now, not later
        self.address = (host, port)
        self.sock = socket.socket(socket.AF_INET, TYPES[kind])


class NumberServer(Endpoint):
    def __init__(self, host="127.0.0.1", port=0, kind="tcp", backlog=5):
        super().__init__(host, port, kind)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(self.address)
        self.sock.listen(backlog)
        self.address = self.sock.getsockname()  # port 0: the kernel picked one; say which

    def serve_one(self):
        conn, peer = self.sock.accept()
        with conn:                            # closes the *connection*: the client sees EOF
            for i in range(1, 10):
                conn.sendall(f"i = {i}\n".encode())  # a newline ends each message
        self.sock.close()


class NumberClient(Endpoint):
    def run(self):
        self.sock.connect(self.address)
        lines, buf = [], b""
        with self.sock:
            while chunk := self.sock.recv(2048):  # b"" = EOF: stop at once, no sleeping
                buf += chunk
                *done, buf = buf.split(b"\n")    # TCP may glue or split lines: cut on \n
                lines += [d.decode() for d in done]
        return lines


if __name__ == "__main__":
    server = NumberServer()
    threading.Thread(target=server.serve_one, daemon=True).start()
    start = time.monotonic()
    lines = NumberClient(*server.address, "tcp").run()
    for line in lines:
        print("client:", line)
    print(f"client: EOF after {len(lines)} lines, in {(time.monotonic() - start) * 1000:.0f} ms")
    assert lines == [f"i = {i}" for i in range(1, 10)]
    try:
        Endpoint("127.0.0.1", 0, "sctp")
    except ValueError as e:
        print("Endpoint('sctp') ->", e)
    with Endpoint("127.0.0.1", 0, "udp").sock as udp:
        print("Endpoint('udp') ->", udp.type.name)  # the tutorial's class never got here
