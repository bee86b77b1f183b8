"""file_server.py: the tutorials' struct-header file server, fixed. Serves
ftp_client.py and the Rust ftp-client (lesson 4 speaks the same protocol).

The tutorial's server read "get NAME", opened NAME as given (so "../../etc/passwd"
worked), sent the size as text, waited for an ack, and send()s each line of the file;
the header version packed its length with struct.pack('i') and carried an md5 nobody
checked. Here: a login first; names are one path component inside ROOT; every header
is a frame with a '!I' length; get sends header, exactly `size` bytes, then an md5
trailer; put checks the trailer before the file gets its name (temp file, fsync,
link/rename), so a cut upload never leaves half a file under the real name.

One user (SOCKLAB_USER, default demo) with the password SOCKLAB_PASSWORD: a teaching
simplification; ftp-server keeps argon2id hashes in a users file.

    SOCKLAB_PORT=0 SOCKLAB_PASSWORD=... python3 file_server.py ROOT   prints `listening on ADDR`
"""
import hashlib
import hmac
import os
import socket
import sys
import tempfile
import threading
import time

from wire import (CHUNK, address, password, recv_exact, recv_header, run, send_header, user,
                  valid_name)

MAX_FILE = 1 << 40   # the largest upload accepted: checked before a byte is written


def fail(conn, code, error):
    send_header(conn, {"ok": False, "code": code, "error": error})


def files(root):
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.is_file(follow_symlinks=False) and valid_name(entry.name) \
                and not entry.name.startswith("."):
            st = entry.stat(follow_symlinks=False)
            yield {"name": entry.name, "size": st.st_size, "mtime": int(st.st_mtime)}


def get(conn, root, req):
    path = os.path.join(root, req["name"])          # safe: the name is one component
    try:
        f = open(path, "rb", opener=lambda p, fl: os.open(p, fl | os.O_NOFOLLOW))
    except OSError:
        return fail(conn, "not_found", f"no such file: {req['name']!r}")
    with f:
        size = os.fstat(f.fileno()).st_size
        offset = req.get("offset", 0)
        if not isinstance(offset, int) or not 0 <= offset <= size:
            return fail(conn, "bad_request", "offset past the end")
        send_header(conn, {"ok": True, "name": req["name"], "size": size})
        md5, sent = hashlib.md5(), 0
        while sent < size:                           # the trailer covers the whole file
            chunk = f.read(min(CHUNK, size - sent))
            if not chunk:
                raise EOFError("the file shrank while it was sent")
            md5.update(chunk)
            if sent + len(chunk) > offset:
                conn.sendall(chunk[max(0, offset - sent):])
            sent += len(chunk)
    send_header(conn, {"md5": md5.hexdigest()})


def put(conn, root, req):
    name, size = req["name"], req.get("size")
    final = os.path.join(root, name)
    if not isinstance(size, int) or not 0 <= size <= MAX_FILE:
        return fail(conn, "too_large", f"the largest file accepted is {MAX_FILE} bytes")
    if os.path.lexists(final) and not req.get("overwrite"):
        return fail(conn, "exists", f"{name!r} exists (put it with overwrite)")
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".py-part-")  # same disk: rename is atomic
    try:
        send_header(conn, {"ok": True, "offset": 0})  # this server does not resume
        md5, left = hashlib.md5(), size
        with os.fdopen(fd, "wb") as f:
            while left:
                chunk = recv_exact(conn, min(left, CHUNK))
                md5.update(chunk)
                f.write(chunk)
                left -= len(chunk)
            f.flush()
            os.fsync(f.fileno())
        if recv_header(conn).get("md5") != md5.hexdigest():
            return fail(conn, "checksum_mismatch", "the md5 does not match: nothing stored")
        if req.get("overwrite"):
            os.replace(tmp, final)                    # replaces atomically
        else:
            os.link(tmp, final)                       # fails if the name appeared meanwhile
        send_header(conn, {"ok": True, "name": name, "size": size, "md5": md5.hexdigest()})
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def session(conn, root, secret):
    conn.settimeout(30)
    req = recv_header(conn, allow_eof=True)
    # A request before the login (ftp-client's credential-free probe, which learns
    # whether TLS is needed before any password is sent) is told to log in first.
    for _ in range(3):
        if req is None or req.get("op") == "login":
            break
        send_header(conn, {"ok": False, "code": "auth_required", "error": "log in first"})
        req = recv_header(conn, allow_eof=True)
    if req is None:
        return
    if req.get("op") != "login" or req.get("user") != user() or not hmac.compare_digest(
            str(req.get("password", "")).encode(), secret.encode()):
        time.sleep(1)
        return fail(conn, "auth_failed", "invalid username or password")  # and hang up
    send_header(conn, {"ok": True})
    conn.settimeout(300)
    while (req := recv_header(conn, allow_eof=True)) is not None:
        op = req.get("op")
        if op == "list":
            send_header(conn, {"ok": True, "files": list(files(root))})
        elif op in ("get", "put", "stat") and not valid_name(req.get("name")):
            fail(conn, "invalid_name", f"not a single file name: {req.get('name')!r}")
        elif op == "stat":
            info = [f for f in files(root) if f["name"] == req["name"]]
            send_header(conn, {"ok": True, **info[0]}) if info else \
                fail(conn, "not_found", f"no such file: {req['name']!r}")
        elif op == "get":
            get(conn, root, req)
        elif op == "put":
            put(conn, root, req)
        else:
            return fail(conn, "bad_request", f"unknown op {op!r}")  # then close: out of sync


def guarded(conn, peer, root, secret):
    with conn:
        try:
            session(conn, root, secret)
        except (OSError, EOFError, ValueError) as e:
            print(f"{peer}: {e}", file=sys.stderr)


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: file_server.py ROOT   (ROOT: the directory to serve)")
    root, secret = os.path.realpath(sys.argv[1]), password()
    host, port = address("ftp")
    srv = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(16)
    print(f"listening on {host}:{srv.getsockname()[1]}", flush=True)
    while True:
        conn, peer = srv.accept()
        threading.Thread(target=guarded, args=(conn, peer, root, secret), daemon=True).start()


if __name__ == "__main__":
    run(main)
