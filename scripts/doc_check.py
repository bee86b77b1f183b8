#!/usr/bin/env python3
"""doc_check.py: runs the docs' Python against real socklab servers (the engine of
`make doc-check`).

What it runs:

1. Every ```python block in README.md, README.zh-CN.md and docs/**/*.md, each as a
   file of its own in a fresh temporary directory, with `python3 FILE ARGS`.
2. Every program in docs/python/, through the scenarios at the end of this file (each
   program has at least one; a program without one is a failure). The Python servers
   there are started like the Rust ones and talked to by the Python and Rust clients.

Every run gets SOCKLAB_HOST, SOCKLAB_PORT, SOCKLAB_USER (demo) and SOCKLAB_PASSWORD
(made up for this run) pointing at the right server, a timeout, and fails on a
non-zero exit (unless the block says otherwise) or on a Python traceback in its output.
The servers are the binaries in target/debug/ (built first with
`cargo build --workspace --bins`; --no-build skips that), started on port 0 (the port
is read from their first stdout line, `listening on ADDR`), with temporary users
files, roots and work directories, and stopped by PID at the end.

Markers. The leading comment lines of a block may hold directives, one per line:

    # doc-check: skip (why)         do not run this block; the reason is required
    # doc-check: server=NAME        echo, chat, shell, ftp or none
    # doc-check: also=NAME          run it again against NAME (shell-tls: shell-server --tls)
    # doc-check: args=WORDS         command-line arguments (shell-quoted)
    # doc-check: stdin=TEXT         fed to stdin (\\n for a newline); default: empty
    # doc-check: exit=N             the exit status expected instead of 0
    # doc-check: expect=TEXT        stdout must contain TEXT
    # doc-check: timeout=SECS       instead of 30

Without server=, the server comes from the doc: docs/lessons/0N-*.md from its lesson
(01 echo, 02 chat, 03 shell, 04 ftp), docs/protocol.md from the `<!-- BEGIN NAME`
section the block is in (echo, chat, login and shell -> shell, ftp, framing -> none),
anything else none. The ftp server's root holds `hi.txt` (`hello`, md5
5d41402abc4b2a76b9719d911017c592); the shell server's sessions start in an empty
directory.

Files in PENDING still have blocks written before these rules (a hard-coded port, a
password in the block); they are skipped unless --include-pending is given.

    python3 scripts/doc_check.py [--no-build] [--include-pending] [--verbose]

Ends with `N snippets ran` and exit 0, or the failures and exit 1.
"""
import codecs
import glob
import hashlib
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "debug")
PYDIR = os.path.join(ROOT, "docs", "python")
PYTHON = sys.executable or "python3"
PENDING: set[str] = set()          # a file whose blocks do not follow the rules above yet
DEFAULT_TIMEOUT = 30.0
START_TIMEOUT = 20.0                # a server must print `listening on` within this
STOP_TIMEOUT = 10.0                 # after SIGTERM, then SIGKILL
LESSON_OF_DOC = {"01": "echo", "02": "chat", "03": "shell", "04": "ftp"}
SERVER_OF_SECTION = {"echo": "echo", "chat": "chat", "login": "shell", "shell": "shell",
                     "ftp": "ftp", "framing": "none"}
VERBOSE = "--verbose" in sys.argv


class CheckFailed(Exception):
    pass


# ---- processes --------------------------------------------------------------------

class Server:
    """A server process started on port 0; its port comes from its first stdout line."""

    def __init__(self, name, argv, env=None, cwd=None):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"doc-check-{name}-")
        self.out_path = os.path.join(self.dir, "stdout")
        self.err_path = os.path.join(self.dir, "stderr")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=env, cwd=cwd, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            first = open(self.out_path, encoding="utf-8", errors="replace").readline()
            if first.endswith("\n"):
                m = re.match(r"listening on (.+):(\d+)$", first.strip())
                if not m:
                    self.stop()
                    raise CheckFailed(f"{name}: first line is {first!r}, not `listening on ADDR`")
                self.host, self.port = m.group(1).strip("[]"), int(m.group(2))
                self.fingerprint = None
                if "--tls" in argv:  # line 2: `fingerprint SHA256:...`
                    while time.monotonic() < deadline:
                        lines = open(self.out_path, encoding="utf-8", errors="replace").readlines()
                        if len(lines) > 1 and lines[1].endswith("\n"):
                            self.fingerprint = lines[1].split()[-1]
                            break
                        time.sleep(0.02)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise CheckFailed(f"{name} did not start: {self.stderr()[-2000:]}")

    def stderr(self):
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        """SIGTERM by PID, a bounded wait, then SIGKILL; every server stops here."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)


class Result:
    def __init__(self, code, out, err, secs):
        self.code, self.out, self.err, self.secs = code, out, err, secs

    def text(self):
        return self.out.decode("utf-8", "replace")

    def errtext(self):
        return self.err.decode("utf-8", "replace")


def run(argv, env, stdin=b"", timeout=DEFAULT_TIMEOUT, cwd=None):
    """Run one program to the end (killed with its process group past the timeout)."""
    start = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, cwd=cwd, start_new_session=True)
    try:
        out, err = p.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise CheckFailed(f"still running after {timeout:.0f} s\nstdout: {out[-1500:]!r}\n"
                          f"stderr: {err[-1500:]!r}")
    return Result(p.returncode, out, err, time.monotonic() - start)


def judge(res, what, exit_code=0, expect=()):
    """The rules every run obeys: the exit status asked for, and never a traceback."""
    problems = []
    if res.code != exit_code:
        problems.append(f"exit {res.code}, expected {exit_code}")
    for stream in (res.out, res.err):
        if b"Traceback (most recent call last)" in stream:
            problems.append("a Python traceback")
    for text in expect:
        if text not in res.text():
            problems.append(f"stdout lacks {text!r}")
    if problems:
        raise CheckFailed(f"{what}: {', '.join(problems)}\nstdout: {res.out[-1500:]!r}\n"
                          f"stderr: {res.err[-1500:]!r}")
    if VERBOSE:
        print(f"    ok: {what} ({res.secs:.2f} s)")
    return res


# ---- the servers ------------------------------------------------------------------

class Servers:
    """Starts each Rust server the first time a run needs it; one password for all."""

    def __init__(self):
        self.password = "doc-check-" + secrets.token_hex(6)  # >= 8 characters, as socklab-passwd asks
        self.dir = tempfile.mkdtemp(prefix="doc-check-")
        self.users = os.path.join(self.dir, "users")
        self.running = {}
        self.extra = []

    def env(self, server=None, **more):
        env = dict(os.environ)
        env.update(SOCKLAB_HOST="127.0.0.1", SOCKLAB_USER="demo",
                   SOCKLAB_PASSWORD=self.password, PYTHONDONTWRITEBYTECODE="1")
        env.pop("SOCKLAB_PORT", None)
        env.pop("SOCKLAB_FINGERPRINT", None)
        if server is not None:
            env["SOCKLAB_HOST"], env["SOCKLAB_PORT"] = server.host, str(server.port)
            if getattr(server, "fingerprint", None):
                env["SOCKLAB_FINGERPRINT"] = server.fingerprint
        env.update(more)
        return env

    def users_file(self):
        if not os.path.exists(self.users):
            subprocess.run([os.path.join(BIN, "socklab-passwd"), "--users", self.users, "demo"],
                           input=(self.password + "\n").encode(), check=True,
                           capture_output=True, timeout=60)
        return self.users

    def get(self, name):
        if name == "none":
            return None
        if name not in self.running:
            base = name.removesuffix("-tls")
            argv = [os.path.join(BIN, f"{base}-server"), "--port", "0"]
            if name.endswith("-tls"):
                argv += ["--tls", "--state-dir", tempfile.mkdtemp(dir=self.dir, prefix="tls-")]
            name, key = base, name
            if name == "chat":
                argv += ["--expire", "3", "--no-console"]  # short, so heartbeats are put to the test
            if name == "shell":
                work = tempfile.mkdtemp(dir=self.dir, prefix="shell-work-")
                argv += ["--users", self.users_file(), "--workdir", work, "--allow-root"]
            if name == "ftp":
                root = tempfile.mkdtemp(dir=self.dir, prefix="ftp-root-")
                with open(os.path.join(root, "hi.txt"), "wb") as f:
                    f.write(b"hello")
                argv += ["--users", self.users_file(), "--root", root]
            self.running[key] = Server(key, argv)
            name = key
        return self.running[name]

    def start(self, name, argv, env):
        """A server of the docs' own (docs/python/*_server.py), stopped with the rest."""
        server = Server(name, argv, env=env)
        self.extra.append(server)
        return server

    def stop_all(self):
        for server in list(self.running.values()) + self.extra:
            server.stop()
        for server in list(self.running.values()) + self.extra:
            shutil.rmtree(server.dir, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- markdown blocks --------------------------------------------------------------

class Block:
    def __init__(self, doc, line, code, section):
        self.doc, self.line, self.code, self.section = doc, line, code, section
        self.marks = {}
        for text in code.split("\n"):
            if not text.startswith("#"):
                break
            m = re.match(r"#\s*doc-check:\s*(.*)$", text)
            if m:
                directive = m.group(1).strip()
                if directive.startswith("skip"):
                    self.marks["skip"] = directive[4:].strip(" ()") or "?"
                elif "=" in directive:
                    key, value = directive.split("=", 1)
                    self.marks[key.strip()] = value.strip()
                else:
                    self.marks["bad"] = directive

    def where(self):
        return f"{self.doc}:{self.line}"

    def server(self):
        if "server" in self.marks:
            return self.marks["server"]
        lesson = re.match(r"docs/lessons/(\d\d)-", self.doc)
        if lesson:
            return LESSON_OF_DOC.get(lesson.group(1), "none")
        if self.doc == "docs/protocol.md" and self.section:
            return SERVER_OF_SECTION.get(self.section, "none")
        return "none"

    def filename(self):
        m = re.match(r"#\s*([A-Za-z0-9_]+\.py)\b", self.code)
        return m.group(1) if m else "snippet.py"


def doc_files():
    names = ["README.md", "README.zh-CN.md"]
    names += sorted(os.path.relpath(p, ROOT)
                    for p in glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
    return [n for n in names if os.path.exists(os.path.join(ROOT, n))]


def blocks_of(doc):
    with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
        lines = f.read().split("\n")
    section, i = None, 0
    while i < len(lines):
        m = re.match(r"<!-- BEGIN (\S+)", lines[i])
        if m:
            section = m.group(1)
        if lines[i].strip() == "```python":
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            yield Block(doc, start, "\n".join(body) + "\n", section)
        i += 1


def run_block(block, servers):
    if "bad" in block.marks:
        raise CheckFailed(f"unknown directive `# doc-check: {block.marks['bad']}`")
    run_block_on(block, servers, block.server())
    if "also" in block.marks:  # the same block again, against another server (a TLS one)
        run_block_on(block, servers, block.marks["also"])


def run_block_on(block, servers, name):
    if name not in ("echo", "chat", "shell", "ftp", "shell-tls", "none"):
        raise CheckFailed(f"unknown server {name!r}")
    server = servers.get(name)
    work = tempfile.mkdtemp(dir=servers.dir, prefix="block-")
    path = os.path.join(work, block.filename())
    with open(path, "w", encoding="utf-8") as f:
        f.write(block.code)
    stdin = codecs.decode(block.marks.get("stdin", ""), "unicode_escape").encode()
    res = run([PYTHON, path] + shlex.split(block.marks.get("args", "")), servers.env(server),
              stdin=stdin, timeout=float(block.marks.get("timeout", DEFAULT_TIMEOUT)), cwd=work)
    expect = [block.marks["expect"]] if "expect" in block.marks else []
    judge(res, f"{block.where()} (server {name})", int(block.marks.get("exit", 0)), expect)


# ---- the programs in docs/python/ -------------------------------------------------

def py(prog, *args):
    return [PYTHON, os.path.join(PYDIR, prog), *args]


def closed_port():
    """A port where nothing listens: bound (so nobody else takes it) but not listening."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def scenario_wire(s):
    judge(run(py("wire.py"), s.env()), "wire.py self-test", expect=["1000 frames"])
    return 1


def scenario_numbered(s):
    judge(run(py("numbered.py"), s.env()), "numbered.py",
          expect=["client: i = 9", "EOF after 9 lines", "-> SOCK_DGRAM"])
    return 1


def scenario_echo_client(s):
    srv = s.get("echo")
    data = os.urandom(64 << 20)
    res = judge(run(py("echo_client.py"), s.env(srv), stdin=data, timeout=120),
                "echo_client.py, 64 MiB through echo-server")
    if res.out != data:
        raise CheckFailed(f"echo_client.py: {len(res.out)} bytes back of {len(data)}, or different")
    print(f"    echo_client.py: 64 MiB round trip through echo-server in {res.secs:.2f} s")
    sock, port = closed_port()
    with sock:
        res = judge(run(py("echo_client.py"), s.env(srv, SOCKLAB_PORT=str(port))),
                    "echo_client.py, no server", exit_code=1)
    if "is the server running?" not in res.errtext():
        raise CheckFailed(f"echo_client.py, no server: said {res.errtext()!r}")
    return 2


def scenario_echo_server(s):
    srv = s.start("echo_server.py", py("echo_server.py", "--upper"), s.env(SOCKLAB_PORT="0"))
    data = os.urandom(16 << 20)
    res = judge(run(py("echo_client.py"), s.env(srv), stdin=data, timeout=120),
                "echo_client.py, 16 MiB through echo_server.py --upper")
    if res.out != data.upper():
        raise CheckFailed("echo_server.py --upper: the bytes came back different")
    res = judge(run([os.path.join(BIN, "echo-client"), "--port", str(srv.port)], s.env(),
                    stdin="héllo\n".encode()), "echo-client against echo_server.py")
    if res.out != "HéLLO\n".encode():
        raise CheckFailed(f"echo-client against echo_server.py got {res.out!r}")
    return 2


def scenario_chat_member(s):
    srv = s.get("chat")
    env = s.env(srv)
    # bob joins and stays quiet for longer than the server's --expire 3: only his
    # heartbeats keep him a member; then ann says hello, and bob must hear it.
    bob = subprocess.Popen(py("chat_member.py", "--nick", "bob", "--heartbeat", "0.5"),
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        time.sleep(4)
        judge(run(py("chat_member.py", "--nick", "ann"), env, stdin=b"hello from ann\n"),
                    "chat_member.py ann", expect=["*** welcome, ann", "*** bye, ann"])
        time.sleep(0.5)
        bob.stdin.write(b"/who\n")
        out, err = bob.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(bob.pid, signal.SIGKILL)
        out, err = bob.communicate()
        raise CheckFailed(f"chat_member.py bob did not finish: {out!r} {err!r}")
    res = judge(Result(bob.returncode, out, err, 0), "chat_member.py bob",
                expect=["*** welcome, bob", "<ann> hello from ann", "members: bob", "*** bye, bob"])
    if "expired" in res.text():
        raise CheckFailed(f"bob was expired despite his heartbeats: {res.text()!r}")
    sock, port = closed_port()
    with sock:
        judge(run(py("chat_member.py"), s.env(srv, SOCKLAB_PORT=str(port)), stdin=b"hi\n"),
              "chat_member.py, no server", exit_code=1)
    return 3


def scenario_login(s):
    for name in ("shell", "ftp"):
        srv = s.get(name)
        judge(run(py("login.py"), s.env(srv)), f"login.py against {name}-server",
              expect=["logged in as demo", "bad_request"])
    srv = s.get("shell")
    judge(run(py("login.py"), s.env(srv, SOCKLAB_PASSWORD="not-the-password")),
          "login.py, wrong password", exit_code=1)
    env = s.env(srv)
    del env["SOCKLAB_PASSWORD"]
    res = judge(run(py("login.py"), env), "login.py, no SOCKLAB_PASSWORD", exit_code=1)
    if "SOCKLAB_PASSWORD" not in res.errtext() or len(res.errtext().splitlines()) != 1:
        raise CheckFailed(f"login.py without a password said {res.errtext()!r}")
    return 4


def check_shell_client(s, srv, label):
    res = judge(run(py("shell_client.py", "echo out; printf 'e\\377rr' >&2; exit 3"), s.env(srv)),
                f"shell_client.py against {label}", exit_code=3)
    if res.out != b"out\n" or res.err != b"e\xffrr":
        raise CheckFailed(f"shell_client.py against {label}: {res.out!r} {res.err!r}")
    judge(run(py("shell_client.py", "kill -TERM $$"), s.env(srv)),
          f"shell_client.py, a signal, against {label}", exit_code=143)
    judge(run(py("shell_client.py"), s.env(srv), stdin=b"echo a\n\nfalse\n"),
          f"shell_client.py prompt against {label}", expect=["a\n", "[exit 1]"])
    return 3


def scenario_shell_client(s):
    srv = s.get("shell")
    n = check_shell_client(s, srv, "shell-server")
    judge(run(py("shell_client.py", "true"), s.env(srv, SOCKLAB_PASSWORD="not-the-password")),
          "shell_client.py, wrong password", exit_code=255)
    env = s.env(srv)
    del env["SOCKLAB_PASSWORD"]
    res = judge(run(py("shell_client.py", "true"), env), "shell_client.py, no password",
                exit_code=1)
    if len(res.errtext().splitlines()) != 1:
        raise CheckFailed(f"shell_client.py without a password said {res.errtext()!r}")
    return n + 2


def scenario_shell_server(s):
    srv = s.start("shell_server.py", py("shell_server.py"), s.env(SOCKLAB_PORT="0"))
    n = check_shell_client(s, srv, "shell_server.py")
    res = judge(run([os.path.join(BIN, "shell-client"), "--port", str(srv.port), "--user", "demo",
                     "--", "echo hi >&2; exit 5"], s.env()),
                "shell-client against shell_server.py", exit_code=5)
    if res.err != b"hi\n":
        raise CheckFailed(f"shell-client against shell_server.py: stderr {res.err!r}")
    return n + 1


def check_ftp_client(s, srv, label):
    up = tempfile.mkdtemp(dir=s.dir, prefix="ftp-up-")
    down = tempfile.mkdtemp(dir=s.dir, prefix="ftp-down-")
    data = os.urandom(3 << 20)
    name = f"up-{label.replace('.', '-')}.bin"
    with open(os.path.join(up, name), "wb") as f:
        f.write(data)
    md5 = hashlib.md5(data).hexdigest()
    env = s.env(srv)
    judge(run(py("ftp_client.py", "put", name), env, cwd=up), f"ftp_client.py put to {label}",
          expect=[md5])
    judge(run(py("ftp_client.py", "ls"), env, cwd=up), f"ftp_client.py ls on {label}",
          expect=[name, "hi.txt"])
    judge(run(py("ftp_client.py", "get", name), env, cwd=down), f"ftp_client.py get from {label}")
    with open(os.path.join(down, name), "rb") as f:
        if f.read() != data:
            raise CheckFailed(f"ftp_client.py get from {label}: different bytes")
    judge(run(py("ftp_client.py", "get", "hi.txt"), env, cwd=down), f"ftp_client.py get hi.txt",
          expect=["5d41402abc4b2a76b9719d911017c592"])
    judge(run(py("ftp_client.py", "get", "../etc/passwd"), env, cwd=down),
          f"ftp_client.py get ../etc/passwd", exit_code=1)
    judge(run(py("ftp_client.py", "put", name), env, cwd=up), f"ftp_client.py put again",
          exit_code=1)
    judge(run(py("ftp_client.py"), env, stdin=b"ls\nget missing.bin\nls\n", cwd=down),
          f"ftp_client.py prompt on {label}", expect=[name])
    return 7


def scenario_ftp_client(s):
    return check_ftp_client(s, s.get("ftp"), "ftp-server")


def scenario_file_server(s):
    root = tempfile.mkdtemp(dir=s.dir, prefix="py-root-")
    with open(os.path.join(root, "hi.txt"), "wb") as f:
        f.write(b"hello")
    srv = s.start("file_server.py", py("file_server.py", root), s.env(SOCKLAB_PORT="0"))
    n = check_ftp_client(s, srv, "file_server.py")
    work = tempfile.mkdtemp(dir=s.dir, prefix="rust-ftp-")
    data = os.urandom(1 << 20)
    with open(os.path.join(work, "r.bin"), "wb") as f:
        f.write(data)
    client = [os.path.join(BIN, "ftp-client"), "--port", str(srv.port), "--user", "demo",
              "--no-progress"]
    judge(run(client + ["put", "r.bin", "--as", "rust.bin"], s.env(), cwd=work),
          "ftp-client put to file_server.py")
    judge(run(client + ["get", "rust.bin", "-o", "back.bin"], s.env(), cwd=work),
          "ftp-client get from file_server.py")
    with open(os.path.join(work, "back.bin"), "rb") as f:
        if f.read() != data:
            raise CheckFailed("ftp-client get from file_server.py: different bytes")
    judge(run(client + ["ls"], s.env(), cwd=work), "ftp-client ls on file_server.py",
          expect=["rust.bin"])
    return n + 3


SCENARIOS = {
    "wire.py": scenario_wire,
    "numbered.py": scenario_numbered,
    "echo_client.py": scenario_echo_client,
    "echo_server.py": scenario_echo_server,
    "chat_member.py": scenario_chat_member,
    "login.py": scenario_login,
    "shell_client.py": scenario_shell_client,
    "shell_server.py": scenario_shell_server,
    "ftp_client.py": scenario_ftp_client,
    "file_server.py": scenario_file_server,
}


# ---- main -------------------------------------------------------------------------

def main():
    args = set(sys.argv[1:])
    unknown = args - {"--no-build", "--include-pending", "--verbose"}
    if unknown:
        print(f"doc_check: unknown option(s) {' '.join(sorted(unknown))}\n{__doc__}")
        return 2
    if "--no-build" not in args:
        subprocess.run(["cargo", "build", "--workspace", "--bins", "--quiet"], cwd=ROOT, check=True)
    ran, skipped, failures = 0, [], []
    servers = Servers()
    try:
        for doc in doc_files():
            for block in blocks_of(doc):
                if doc in PENDING and "--include-pending" not in args:
                    skipped.append(f"{block.where()}: pending (the file is in PENDING)")
                    continue
                if "skip" in block.marks:
                    skipped.append(f"{block.where()}: {block.marks['skip']}")
                    continue
                print(f"  {block.where()} (server {block.server()})")
                try:
                    run_block(block, servers)
                    ran += 1
                except CheckFailed as e:
                    failures.append(f"{block.where()}: {e}")
        programs = sorted(os.path.basename(p) for p in glob.glob(os.path.join(PYDIR, "*.py")))
        for prog in programs:
            if prog not in SCENARIOS:
                failures.append(f"docs/python/{prog}: no scenario in scripts/doc_check.py runs it")
                continue
            print(f"  docs/python/{prog}")
            try:
                ran += SCENARIOS[prog](servers)
            except CheckFailed as e:
                failures.append(f"docs/python/{prog}: {e}")
    finally:
        servers.stop_all()
    for s in skipped:
        print(f"skipped {s}")
    for f in failures:
        print(f"FAILED {f}\n")
    if failures:
        print(f"doc-check: {len(failures)} failed; {ran} snippets ran")
        return 1
    print(f"{ran} snippets ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
