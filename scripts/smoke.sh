#!/usr/bin/env bash
# CI smoke test: every server starts on port 0, answers a real client, and stops on
# SIGTERM with exit 0. Each lesson's part is scripts/smoke/NN-name.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for part in scripts/smoke/[0-9]*.sh; do
    if bash "$part"; then
        echo "smoke: ok   $part"
    else
        echo "smoke: FAIL $part" >&2
        status=1
    fi
done
exit $status
