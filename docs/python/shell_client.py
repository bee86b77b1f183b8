"""shell_client.py: the tutorials' "ssh" client, fixed. Talks to shell-server (lesson 3)
or to shell_server.py.

The tutorial sent a command, read the output's length with one recv(1024), sent a
"ready" message so the length and the output would not stick together (粘包), then
looped on recv until it had that many bytes. The length was text of unknown width, the
ack cost a round trip, stdout and stderr came back glued together, there was no exit
code and no login. Here: log in, send {"op":"exec","cmd":...}, then read frames
(u32 big-endian length + JSON): each {"stream":..,"size":N} is followed by exactly N
bytes of stdout or stderr, until {"ok":true,"exit":N} ends the command.

    SOCKLAB_PASSWORD=... python3 shell_client.py 'ls -l; exit 3'; echo $?   one command
    SOCKLAB_PASSWORD=... python3 shell_client.py                            a >> prompt
"""
import socket
import sys

from wire import CHUNK, Refused, address, login, recv_exact, recv_header, run, send_header

OUT = {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}


def execute(sock, cmd):
    """Run one command; copy its output byte for byte; return its exit code as ssh does."""
    send_header(sock, {"op": "exec", "cmd": cmd})
    while True:
        h = recv_header(sock)
        if "stream" in h:
            if h["stream"] not in OUT or not 0 <= h["size"] <= CHUNK:
                raise ValueError(f"bad chunk header {h}")  # never trust a peer's length
            OUT[h["stream"]].write(recv_exact(sock, h["size"]))
            OUT[h["stream"]].flush()
        elif not h.get("ok"):
            raise Refused(f"{h.get('error')} ({h.get('code')})")
        elif h.get("signal") is not None:
            return 128 + h["signal"]                     # killed by signal N: 128 + N
        else:
            return h["exit"]


def main():
    try:
        sock = socket.create_connection(address("shell"), timeout=10)
        sock.settimeout(None)                            # a command may run for minutes
        login(sock)
    except (OSError, EOFError, Refused) as e:
        print(f"error: {e}", file=sys.stderr)
        return 255                                       # as ssh: could not connect or log in
    with sock:
        if len(sys.argv) > 1:
            return execute(sock, " ".join(sys.argv[1:]))
        while True:
            print(">> ", end="", flush=True)
            line = sys.stdin.readline()
            if not line:
                return 0
            if line.strip():                             # an empty command is not sent
                code = execute(sock, line.strip())
                if code:
                    print(f"[exit {code}]")


if __name__ == "__main__":
    run(main)
