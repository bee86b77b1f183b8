#!/usr/bin/env bash
# Lesson 3, login and the remote shell: the server in one "terminal", the client in
# another. Shows a login, a command with output on both streams, and its non-zero
# exit code reaching the client, as ssh would report them.
source "$(dirname "$0")/../lib.sh"
PATH="$BIN:$PATH"

step "Lesson 3: login and the remote shell (crates/shell, docs/lessons/03-remote-shell.md)"
echo "A users file holds argon2id hashes, never passwords. This one gets the user 'alice'"
echo "with a generated password, piped to socklab-passwd (on a terminal it asks, without echo)."
PW=$(make_users "$WORK/users" alice)
echo "\$ cat users"
cut -c1-72 "$WORK/users" | sed 's/$/…/'
mkdir -p "$WORK/box"
printf 'hello from the server\n' >"$WORK/box/notes.txt"
start_server SHELL shell-server --users "$WORK/users" --port 0 --workdir "$WORK/box" --timeout 2 --allow-root
echo "shell-server started: listening on $SHELL_ADDR (pid $SHELL_PID), loopback only"
P=$SHELL_PORT

step "a wrong password: refused after 1 s, and the client exits 255 as ssh does"
code=0
echo "\$ SOCKLAB_PASSWORD=guess shell-client --port $P --user alice -- true"
SOCKLAB_PASSWORD=guess shell-client --port "$P" --user alice -- true 2>&1 || code=$?
echo "exit code: $code"
[[ $code -eq 255 ]] || die "a failed login should exit 255, got $code"

export SOCKLAB_PASSWORD=$PW
step "log in and run one command: stdout and stderr arrive separately, with the exit code"
code=0
CMD='cat notes.txt; echo "a warning" >&2; ls no-such-file'
echo "\$ shell-client --port $P --user alice -- '$CMD' >out.txt 2>err.txt"
shell-client --port "$P" --user alice -- "$CMD" >"$WORK/out.txt" 2>"$WORK/err.txt" || code=$?
echo "--- its stdout:"
cat "$WORK/out.txt"
echo "--- its stderr:"
cat "$WORK/err.txt"
echo "--- its exit code: $code (ls's \"no such file\" code, carried to the client)"
[[ $code -eq 2 ]] || die "expected exit code 2 from ls, got $code"
grep -q 'hello from the server' "$WORK/out.txt" || die "stdout lost"
grep -q 'a warning' "$WORK/err.txt" || die "stderr lost"
! grep -q 'a warning' "$WORK/out.txt" || die "stderr leaked into stdout"

step "the tutorial's >> prompt (fed from a pipe here; cd is the session's own)"
echo "what goes in, one command a line:"
printf 'pwd\ncd /\npwd\ncd\nls\n' | sed 's/^/  >> /'
echo "what comes out (cd prints nothing):"
printf 'pwd\ncd /\npwd\ncd\nls\n' | shell-client --port "$P" --user alice | sed 's/^/  /'

step "a command past --timeout (2 s here) is killed with its whole process group"
code=0
echo "\$ shell-client --port $P --user alice -- 'sleep 1000 & sleep 1000'"
shell-client --port "$P" --user alice -- 'sleep 1000 & sleep 1000' 2>&1 || code=$?
echo "exit code: $code (128 + SIGKILL)"
[[ $code -eq 137 ]] || die "expected 137 after the timeout, got $code"

step "SIGTERM: a graceful stop. The server's log (no password in it):"
stop_server "$SHELL_PID"
sed 's/^/  /' "$WORK/SHELL.err"
! grep -qF "$PW" "$WORK/SHELL.err" || die "the password reached the log"
