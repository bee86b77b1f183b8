# socklab: paired socket servers and clients. `make help` lists the targets.
#
# Lesson binaries take HOST, PORT and ARGS, e.g.
#   make echo-server PORT=7007 ARGS=--upper
#   make echo-client PORT=7007
# Leave PORT empty for the lesson's default port.

CARGO ?= cargo
HOST  ?= 127.0.0.1
PORT  ?=
ARGS  ?=
QUICK ?= 0
FUZZ_SECS ?= 60
USERS ?= .socklab/users
# Who shell-client and ftp-client log in as: make shell-client LOGIN=alice PASSWORD_FILE=~/alice.pw
LOGIN ?= demo
PASSWORD_FILE ?= .socklab/password
# Which lesson make capture records: echo, chat, shell or ftp.
LESSON ?= ftp
# make install: where (PREFIX/bin, PREFIX/share/man/man1, PREFIX/share/*completion*),
# and which build (release; debug installs target/debug, as the install test does).
PREFIX  ?= /usr/local
PROFILE ?= release
# Not --quiet: the first run of a target builds it, and a silent build looks hung.
# The @ keeps make from echoing the command onto stdout, where a client's output goes.
RUN    = @$(CARGO) run
ADDR   = --host $(HOST) $(if $(PORT),--port $(PORT))

.DEFAULT_GOAL := help
.PHONY: help setup build demo test unit smoke lint fmt bench fuzz stress doc-check capture \
        install uninstall \
        echo-server echo-client example-sticky example-reuseaddr \
        example-numbered example-blocking example-backlog example-reuseport \
        example-v6only example-unix example-create-connection example-select example-select-echo example-seqpacket \
        example-ack-handshake example-raw-ping \
        example-datagrams chat-server chat-client \
        shell-server shell-client ftp-server ftp-client passwd users

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  %-26s %s\n", $$1, $$2 }'

setup: ## install the peers the tests talk to (nc, socat, python3, tshark) when missing
	@bash scripts/setup.sh

build: ## build every binary and example
	$(CARGO) build --workspace --bins --examples

demo: setup build ## run every lesson end to end on loopback and print the transcript
	@bash scripts/demo.sh

test: setup lint unit smoke doc-check ## everything CI checks: fmt, clippy, doc references, cargo tests, smoke, Python snippets
	@echo "make test: all checks passed"

unit: ## the workspace's cargo tests (real sockets on loopback, real binaries)
	$(CARGO) test --workspace

doc-check: build ## run every Python block of the docs and docs/python/ against real servers on free ports
	@python3 scripts/doc_check.py --no-build

smoke: build ## start each server on port 0, talk to it, stop it with SIGTERM
	@bash scripts/smoke.sh

lint: ## cargo fmt --check, clippy with warnings as errors, and the docs' references to the code
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@python3 scripts/check-doc-refs.py

bench: ## benchmarks beside socat, nc, ncat, iperf3, md5sum; writes docs/benchmarks.md (QUICK=1: a fast check)
	@QUICK=$(QUICK) bash scripts/bench.sh $(ARGS)

stress: ## many clients at once against every server (release build, a few minutes; not in CI)
	$(CARGO) build --release --workspace --bins
	target/release/socklab-stress $(ARGS)

install: ## install the binaries, man pages and bash/zsh/fish completions under PREFIX (default /usr/local; PREFIX=~/.local for you alone)
	@PREFIX="$(PREFIX)" PROFILE="$(PROFILE)" CARGO="$(CARGO)" bash scripts/install.sh install

uninstall: ## remove exactly the files make install put under PREFIX (from its manifest)
	@PREFIX="$(PREFIX)" bash scripts/install.sh uninstall

capture: ## capture a lesson's demo traffic on loopback, print it dissected (LESSON=echo|chat|shell|ftp; needs root or the wireshark group)
	@bash scripts/capture.sh $(LESSON)

fuzz: ## run every cargo-fuzz target for FUZZ_SECS seconds each (default 60)
	@FUZZ_SECS=$(FUZZ_SECS) bash scripts/fuzz.sh

fmt: ## format the code
	$(CARGO) fmt --all

# ---- Lesson 0 and 1: the socket API, TCP echo -------------------------------------
echo-server: ## TCP echo server (ARGS: --tls --upper --iterative --unix PATH --backlog N ...)
	$(RUN) -p socklab-echo --bin echo-server -- $(ADDR) $(ARGS)

echo-client: ## TCP echo client: a >> prompt, or pipe mode when stdin is not a terminal (ARGS: --tls --fingerprint SHA256:... --accept-new)
	$(RUN) -p socklab-echo --bin echo-client -- $(ADDR) $(ARGS)

example-sticky: ## 粘包: its three causes (Nagle, the receive buffer, a short recv), then the framed fix
	$(RUN) -p socklab-echo --example sticky

example-ack-handshake: ## the tutorials' "ready" ack after the size: its cost against framing, and how it fails
	$(RUN) -p socklab-echo --example ack_handshake

example-reuseaddr: ## SO_REUSEADDR: restarting on a port in TIME_WAIT, without and with it
	$(RUN) -p socklab-echo --example reuseaddr

example-numbered: ## the numbered stream: read until EOF instead of sleeping and polling
	$(RUN) -p socklab-echo --example numbered

example-blocking: ## blocking vs timeout vs non-blocking (WouldBlock) vs waiting in poll
	$(RUN) -p socklab-echo --example blocking

example-backlog: ## listen(backlog): a busy --iterative server, queued clients, the overflow
	$(RUN) -p socklab-echo --example backlog

example-reuseport: ## SO_REUSEPORT: two listeners on one port share the clients
	$(RUN) -p socklab-echo --example reuseport

example-v6only: ## IPV6_V6ONLY on and off: does an IPv4 client reach a :: listener?
	$(RUN) -p socklab-echo --example v6only

example-unix: ## AF_UNIX stream and datagram sockets, and socketpair between threads
	$(RUN) -p socklab-echo --example unix

example-create-connection: ## create_connection: resolve a name, try each address in turn
	$(RUN) -p socklab-echo --example create_connection

example-select: ## select(): one thread serves several clients; fileno() and FD_SETSIZE beside poll/epoll
	$(RUN) -p socklab-echo --example select_echo

example-select-echo: example-select ## the same as example-select (its earlier name)

example-seqpacket: ## AF_UNIX SOCK_SEQPACKET: a connection that keeps message boundaries
	$(RUN) -p socklab-echo --example seqpacket

example-raw-ping: ## SOCK_RAW: ping 127.0.0.1 with a hand-built ICMP echo (root; explains itself otherwise)
	$(RUN) -p socklab-echo --example raw_ping

# ---- Lesson 2: UDP chat ---------------------------------------------------------
chat-server: ## UDP group chat server (ARGS: --filter FILE --expire SECS ...)
	$(RUN) -p socklab-chat --bin chat-server -- $(ADDR) $(ARGS)

chat-client: ## UDP chat client (ARGS: --nick NAME)
	$(RUN) -p socklab-chat --bin chat-client -- $(ADDR) $(ARGS)

example-datagrams: ## UDP keeps message boundaries, truncates, and loses datagrams silently
	$(RUN) -p socklab-chat --example datagrams

# ---- Lesson 3: remote shell -----------------------------------------------------
users: ## create .socklab/users with user 'demo' and a generated password (once)
	@$(CARGO) build -p socklab-auth --bin socklab-passwd
	@bash scripts/ensure-users.sh

shell-server: users ## remote shell server, users from .socklab/users
	$(RUN) -p socklab-shell --bin shell-server -- $(ADDR) --users .socklab/users $(ARGS)

shell-client: users ## remote shell client logged in as LOGIN=demo (ARGS: -- CMD for one command)
	$(RUN) -p socklab-shell --bin shell-client -- $(ADDR) --user $(LOGIN) --password-file $(PASSWORD_FILE) $(ARGS)

# ---- Lesson 4: file transfer ----------------------------------------------------
ftp-server: users ## file server for ./.socklab/files (ARGS: --root DIR --read-only ...)
	@mkdir -p .socklab/files
	$(RUN) -p socklab-ftp --bin ftp-server -- $(ADDR) --users .socklab/users $(if $(findstring --root,$(ARGS)),,--root .socklab/files) $(ARGS)

ftp-client: users ## file client logged in as LOGIN=demo (ARGS: ls | get NAME | put PATH ...)
	$(RUN) -p socklab-ftp --bin ftp-client -- $(ADDR) --user $(LOGIN) --password-file $(PASSWORD_FILE) $(ARGS)

passwd: ## add a user: make passwd NAME=alice (USERS=FILE, default .socklab/users)
	$(RUN) -p socklab-auth --bin socklab-passwd -- --users $(USERS) $(NAME)
