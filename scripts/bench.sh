#!/usr/bin/env bash
# `make bench`: installs the peers (socat, ncat, nc, iperf3, OpenSSH), builds release
# binaries, and runs crates/bench, which writes docs/benchmarks.md (a full run takes
# about ten minutes on two cores; run it on a quiet machine). QUICK=1 runs tiny sizes
# once, to check that every case still runs (well under two minutes); it writes
# target/benchmarks-quick.md so the real figures in docs/ are not overwritten. Flags
# after ARGS= go to socklab-bench: `--only CASE`, `--runs N`, and the sizes
# `--bulk-mib`, `--file-mib`, `--tree-files`, `--stream-mib` for a small check of one
# case (e.g. ARGS="--only trees --tree-files 500 --runs 2"). `--only CASE` builds only the
# packages that case starts (echo cases: socklab-bench and socklab-echo).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=1 bash scripts/setup.sh
only=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
        --only) only=${args[i + 1]:-} ;;
        --only=*) only=${args[i]#--only=} ;;
    esac
done
if [[ -n $only && $only == echo* ]]; then
    cargo build --release -p socklab-bench -p socklab-echo --bins
else
    cargo build --release --workspace --bins
fi
start=$(date +%s)
status=0
if [[ ${QUICK:-0} == 1 ]]; then
    target/release/socklab-bench --quick --out target/benchmarks-quick.md "$@" || status=$?
else
    target/release/socklab-bench --out docs/benchmarks.md "$@" || status=$?
fi
echo "make bench: $(($(date +%s) - start)) s of measuring (the report states it too)" >&2
exit $status
