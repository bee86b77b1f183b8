"""wire.py: the few helpers every socklab Python program shares.

The tutorials' programs each re-invented (and got wrong) the same three things: how
many bytes a recv returns, how a length goes on the wire, and where the address and
password come from. They live here once; the other files import them.

    python3 wire.py     runs a self-test of the framing (no server needed)
"""
import json
import os
import socket
import struct
import sys

MAX_HEADER_LEN = 64 * 1024  # the servers' limit: never size a buffer from a peer's number
CHUNK = 64 * 1024           # how much to ask recv for at once

PORTS = {"echo": 7007, "chat": 7009, "ftp": 7021, "shell": 7022}


def address(lesson):
    """(host, port) from SOCKLAB_HOST / SOCKLAB_PORT, else loopback and the lesson's port."""
    host = os.environ.get("SOCKLAB_HOST", "127.0.0.1")
    port = os.environ.get("SOCKLAB_PORT", str(PORTS[lesson]))
    if not port.isdigit() or int(port) > 65535:
        sys.exit(f"error: SOCKLAB_PORT must be a port number, not {port!r}")
    return host, int(port)


def user():
    return os.environ.get("SOCKLAB_USER", "demo")


def password():
    """The password from SOCKLAB_PASSWORD: never a default, never in the source."""
    secret = os.environ.get("SOCKLAB_PASSWORD")
    if not secret:
        sys.exit("error: set SOCKLAB_PASSWORD (for `make shell-server`/`make ftp-server`"
                 " it is the first line of .socklab/password)")
    return secret


def recv_exact(sock, n):
    """recv() returns what has arrived, 1 byte or more: loop until exactly n bytes."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), CHUNK))
        if not chunk:
            raise EOFError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def send_header(sock, obj):
    """One frame: a u32 big-endian length ('!I', not the tutorials' native 'i'), then JSON."""
    data = json.dumps(obj).encode()
    sock.sendall(struct.pack("!I", len(data)) + data)  # sendall: send() may write only part


def recv_header(sock, allow_eof=False):
    """Read one frame and return its JSON object (None at a clean EOF if allow_eof)."""
    first = sock.recv(1)
    if not first:
        if allow_eof:
            return None
        raise EOFError("connection closed")
    (length,) = struct.unpack("!I", first + recv_exact(sock, 3))
    if length > MAX_HEADER_LEN:  # checked before anything is allocated
        raise ValueError(f"header of {length} bytes is over the limit")
    obj = json.loads(recv_exact(sock, length))
    if not isinstance(obj, dict):
        raise ValueError("header is not a JSON object")
    return obj


class Refused(Exception):
    """The server said {"ok": false, ...}."""


def reply(sock):
    """Read a reply; raise Refused with the server's sentence and code if it says no."""
    h = recv_header(sock)
    if not h.get("ok"):
        raise Refused(f"{h.get('error')} ({h.get('code')})")
    return h


def login(sock):
    send_header(sock, {"op": "login", "user": user(), "password": password()})
    reply(sock)


def valid_name(name):
    """One path component: no '/', '\\', '..', NUL or control character, <= 255 bytes."""
    return (isinstance(name, str) and name not in ("", ".", "..")
            and len(name.encode()) <= 255
            and not any(c in "/\\" or ord(c) < 32 or 127 <= ord(c) < 160 for c in name))


def shown(name):
    """A name from a peer, safe to print: as it is when every character is printable,
    else repr() (control characters, bidi overrides such as U+202E and other invisible
    format characters are not printable, so they show as escapes, not as effects)."""
    return name if isinstance(name, str) and name.isprintable() else repr(name)


def run(main):
    """Run main() and turn the usual failures into one line on stderr, not a traceback."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except ConnectionRefusedError:
        host, port = os.environ.get("SOCKLAB_HOST", "127.0.0.1"), os.environ.get("SOCKLAB_PORT")
        sys.exit(f"error: nothing listens at {host}:{port or 'the default port'}: is the server running?")
    except (Refused, OSError, EOFError, ValueError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    # Self-test: 1,000 frames written at once (粘包 on purpose), read back one by one.
    a, b = socket.socketpair()
    frames = [{"n": i, "pad": "x" * (i % 97)} for i in range(1000)]
    blob = b"".join(struct.pack("!I", len(json.dumps(f).encode())) + json.dumps(f).encode()
                    for f in frames)
    a.sendall(blob)
    a.close()
    got = []
    while (h := recv_header(b, allow_eof=True)) is not None:
        got.append(h)
    assert got == frames, "frames came back different"
    assert valid_name("a.bin") and not valid_name("../etc/passwd") and not valid_name("a\x1b")
    assert shown("数据 1.txt") == "数据 1.txt" and shown("x\u202egnp.exe") == "'x\\u202egnp.exe'"
    print(f"wire.py: {len(got)} frames from one write, read apart")
