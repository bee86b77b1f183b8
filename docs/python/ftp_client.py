"""ftp_client.py: the tutorials' file-transfer client, fixed. Talks to ftp-server
(lesson 4) or to file_server.py.

Two tutorials are behind it. One sent "get NAME", read the size as text with one
recv(1024), sent an ack so the size and the file would not stick together, and wrote
recv()s to NAME + a suffix until the size was reached. The other packed a JSON header's
length with struct.pack('i', n) (signed, in the machine's own byte order), put an md5
in the header that nobody checked, and opened whatever file name the peer sent. Here
every header is a frame (struct.pack('!I', n): unsigned, big-endian), the body is
exactly `size` bytes, an md5 trailer follows and is checked, names are one path
component, and a download is written aside and renamed only once its md5 matches.

    SOCKLAB_PASSWORD=... python3 ftp_client.py ls | get NAME | put PATH [--overwrite]
    SOCKLAB_PASSWORD=... python3 ftp_client.py           an ftp> prompt
"""
import hashlib
import os
import shlex
import socket
import sys

from wire import (CHUNK, Refused, address, login, recv_header, reply, run, send_header,
                  shown, valid_name)


def ls(sock):
    send_header(sock, {"op": "list"})
    for f in reply(sock)["files"]:
        print(f"{f['size']:>14}  {shown(f['name'])}")  # a name is printed, never obeyed


def get(sock, name):
    if not valid_name(name):                       # "../x" or "/etc/passwd" never leaves here
        raise Refused(f"invalid file name {name!r}")
    if os.path.exists(name):
        raise Refused(f"{name!r} exists here; not replacing it")
    send_header(sock, {"op": "get", "name": name, "offset": 0})
    left = size = reply(sock)["size"]
    md5, tmp = hashlib.md5(), f"{name}.py-part"
    with open(tmp, "wb") as f:
        while left:                                # exactly `size` bytes: no more, no less
            chunk = sock.recv(min(left, CHUNK))
            if not chunk:
                raise EOFError(f"connection closed {left} bytes before the end; {tmp} kept")
            md5.update(chunk)                      # hashed while it streams: one pass
            f.write(chunk)
            left -= len(chunk)
        f.flush()
        os.fsync(f.fileno())                       # on disk before it gets its name
    if recv_header(sock).get("md5") != md5.hexdigest():
        os.unlink(tmp)
        raise Refused("checksum mismatch: nothing saved")
    os.link(tmp, name)                             # fails rather than replace a new file
    os.unlink(tmp)
    print(f"got {shown(name)}: {size} bytes, md5 {md5.hexdigest()}")


def put(sock, path, overwrite=False):
    name = os.path.basename(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        send_header(sock, {"op": "put", "name": name, "size": size, "overwrite": overwrite})
        if reply(sock)["offset"] != 0:             # refusals (exists, too_large) come here,
            raise Refused("this client does not resume")  # before any byte of the body
        md5, left = hashlib.md5(), size
        while left:
            chunk = f.read(min(left, CHUNK))
            if not chunk:
                raise EOFError(f"{path} shrank while it was sent")
            md5.update(chunk)
            sock.sendall(chunk)
            left -= len(chunk)
    send_header(sock, {"md5": md5.hexdigest()})    # the trailer: the server checks it
    done = reply(sock)
    print(f"put {shown(done['name'])}: {done['size']} bytes, md5 {done['md5']}")


def command(sock, words):
    if words == ["ls"]:
        return ls(sock)
    if len(words) == 2 and words[0] == "get":
        return get(sock, words[1])
    if words[:1] == ["put"] and len(words) in (2, 3) and words[2:] in ([], ["--overwrite"]):
        return put(sock, words[1], overwrite=len(words) == 3)
    raise ValueError(f"unknown command {' '.join(words)!r}: ls, get NAME, put PATH [--overwrite]")


def main():
    with socket.create_connection(address("ftp"), timeout=60) as sock:
        login(sock)
        if len(sys.argv) > 1:
            return command(sock, sys.argv[1:])
        while True:
            try:
                line = input("ftp> " if sys.stdin.isatty() else "")
            except EOFError:
                return 0
            if words := shlex.split(line):
                try:
                    command(sock, words)
                except (Refused, ValueError) as e:  # the session goes on after a refusal
                    print(f"error: {e}", file=sys.stderr)


if __name__ == "__main__":
    run(main)
