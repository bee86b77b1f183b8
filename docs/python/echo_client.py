"""echo_client.py: the tutorials' echo client, fixed. Talks to echo-server (lesson 1).

The tutorial looped: input(), send(), one recv(1024), print. A reply longer than 1024
bytes came back cut, with the rest printed after the next prompt, and an empty line
sent nothing and then blocked in recv forever. Sending everything before reading
anything is no better: once both socket buffers are full, the server stops reading
(it cannot write) and the client blocks in sendall. So here one thread writes stdin to
the socket while the main thread copies the socket to stdout, as `echo-client` does.

    SOCKLAB_PORT=7007 python3 echo_client.py          type lines, see them back; Ctrl-D ends
    python3 echo_client.py < big.iso > copy.iso        any size, byte for byte
"""
import socket
import sys
import threading

from wire import CHUNK, address, run


def pump(src, sock):
    """stdin -> socket, then shutdown(SHUT_WR): 'I am done sending, keep reading'."""
    try:
        while chunk := src.read1(CHUNK):  # read1: whatever is there, a line on a terminal
            sock.sendall(chunk)
        sock.shutdown(socket.SHUT_WR)     # the FIN; the server closes after its last echo
    except OSError:
        pass                              # the reader below reports the failure


def main():
    sock = socket.create_connection(address("echo"), timeout=10)
    sock.settimeout(300)                  # no read waits forever on a dead server
    threading.Thread(target=pump, args=(sys.stdin.buffer, sock), daemon=True).start()
    total = 0
    while chunk := sock.recv(CHUNK):      # b"" means the server closed: all echoed
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        total += len(chunk)
    print(f"echo_client: {total} bytes back", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run(main)
