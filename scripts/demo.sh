#!/usr/bin/env bash
# `make demo`: runs every lesson end to end on loopback and prints its transcript.
# Each lesson's part is scripts/demo/NN-name.sh; they run in order.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for part in scripts/demo/[0-9]*.sh; do
    bash "$part" || { echo "demo: $part failed" >&2; status=1; }
done
[[ $status -eq 0 ]] && printf '\nAll lessons ran. Try them in two terminals: see README.md.\n'
exit $status
