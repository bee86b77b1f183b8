"""shell_server.py: the tutorials' os.popen "ssh" server, fixed. Serves shell_client.py
and the Rust shell-client (lesson 3 speaks the same protocol).

The tutorial ran os.popen(whatever arrived) for anyone who connected, read stdout only
(stderr went to the server's terminal), sent the length as text, waited for an ack,
then send()s the output. Here: a login comes first; each command runs in
/bin/sh -c through subprocess with stdout and stderr kept apart, in a new session
(its own process group, killed whole on timeout), stdin /dev/null; the output goes
back in framed chunks of at most 64 KiB, then the exit code.

One user, named by SOCKLAB_USER (default demo), whose password is SOCKLAB_PASSWORD:
a teaching simplification. shell-server keeps argon2id hashes in a users file.

    SOCKLAB_PORT=0 SOCKLAB_PASSWORD=... python3 shell_server.py   prints `listening on ADDR`
"""
import hmac
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from wire import CHUNK, address, password, recv_header, run, send_header, user

TIMEOUT = 60          # seconds a command may run
MAX_FAILURES = 3      # failed logins per connection, each answered after a second


def run_command(cmd):
    """Run cmd; return (stdout, stderr, final reply). Output is collected whole here
    (shell-server streams it as it comes, with poll); that is the price of brevity."""
    p = subprocess.Popen(["/bin/sh", "-c", cmd], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)         # setsid: a group we can kill whole
    try:
        out, err = p.communicate(timeout=TIMEOUT)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)                 # the shell and all it started
        out, err = p.communicate()
        timed_out = True
    if p.returncode < 0:                                 # killed by signal -returncode
        final = {"ok": True, "exit": None, "signal": -p.returncode}
        if timed_out:
            final["timed_out"] = True
    else:
        final = {"ok": True, "exit": p.returncode}
    return out, err, final


def session(conn, peer, secret):
    with conn:
        conn.settimeout(30)                              # each read of the login: 30 s at most
        failures = 0
        while True:
            req = recv_header(conn, allow_eof=True)
            if req is None:
                return
            if req.get("op") != "login":
                send_header(conn, {"ok": False, "code": "auth_required", "error": "log in first"})
                continue
            ok = (req.get("user") == user()
                  and hmac.compare_digest(str(req.get("password", "")).encode(), secret.encode()))
            if ok:
                send_header(conn, {"ok": True})
                break
            failures += 1
            time.sleep(1)                                # guessing costs a second a try
            send_header(conn, {"ok": False, "code": "auth_failed",
                               "error": "invalid username or password"})
            if failures == MAX_FAILURES:
                return
        conn.settimeout(300)                             # an idle session is closed
        while (req := recv_header(conn, allow_eof=True)) is not None:
            if req.get("op") != "exec" or not isinstance(req.get("cmd"), str):
                send_header(conn, {"ok": False, "code": "bad_request", "error": "expected exec"})
                return
            out, err, final = run_command(req["cmd"])
            for name, data in (("stdout", out), ("stderr", err)):
                for i in range(0, len(data), CHUNK):
                    piece = data[i:i + CHUNK]
                    send_header(conn, {"stream": name, "size": len(piece)})
                    conn.sendall(piece)
            send_header(conn, final)
            print(f"{peer}: {req['cmd']!r} -> {final}", file=sys.stderr)


def guarded(conn, peer, secret):
    try:
        session(conn, peer, secret)
    except (OSError, EOFError, ValueError) as e:         # one client's trouble, not the server's
        print(f"{peer}: {e}", file=sys.stderr)


def main():
    secret = password()
    host, port = address("shell")
    srv = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))                               # 127.0.0.1 unless told: it runs commands
    srv.listen(16)
    print(f"listening on {host}:{srv.getsockname()[1]}", flush=True)
    while True:
        conn, peer = srv.accept()
        threading.Thread(target=guarded, args=(conn, peer, secret), daemon=True).start()


if __name__ == "__main__":
    run(main)
