#!/usr/bin/env bash
# `make bench`: installs the peers (socat, ncat, nc, iperf3), builds release binaries,
# and runs crates/bench, which writes docs/benchmarks.md. QUICK=1 runs tiny sizes
# once, to check that every case still runs; it writes target/benchmarks-quick.md so
# the real figures in docs/ are not overwritten.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=1 bash scripts/setup.sh
cargo build --release --workspace --bins
if [[ ${QUICK:-0} == 1 ]]; then
    exec target/release/socklab-bench --quick --out target/benchmarks-quick.md "$@"
fi
exec target/release/socklab-bench --out docs/benchmarks.md "$@"
