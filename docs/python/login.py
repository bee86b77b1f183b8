"""login.py: the tutorials' login exercise, fixed. Logs in to shell-server or ftp-server.

The tutorial's client sent str({user: password}) and its server ran eval() on the
bytes: any client could make the server run any Python it liked. The passwords sat in
a dict in the source, were compared with ==, and the loop sent one answer per known
user (two "wrong password" lines and one "welcome"). Here the request is JSON in one
frame, read back as data; the server keeps argon2id hashes, answers a failure after a
second, and closes after three.

    SOCKLAB_PORT=7022 SOCKLAB_USER=demo SOCKLAB_PASSWORD=... python3 login.py
"""
import socket
import sys

from wire import Refused, address, login, recv_header, run, send_header, user


def main():
    with socket.create_connection(address("shell"), timeout=10) as sock:
        try:
            login(sock)  # {"op":"login","user":...,"password":...} -> {"ok":true}
        except Refused as e:
            print(f"login as {user()} refused: {e}", file=sys.stderr)
            return 1
        print(f"logged in as {user()}")
        send_header(sock, {"op": "bogus"})      # a request the server does not know:
        print("the server answers an unknown op with:", recv_header(sock))  # data, never eval
    return 0


if __name__ == "__main__":
    run(main)
