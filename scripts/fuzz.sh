#!/usr/bin/env bash
# `make fuzz`: runs every cargo-fuzz target for FUZZ_SECS seconds (default 60) and
# prints the executions each made. Installs cargo-fuzz when missing.
#
# cargo-fuzz needs nightly-only compiler flags (-Zsanitizer=address). This machine
# has only the stable toolchain and cannot download another, so we set
# RUSTC_BOOTSTRAP=1, which lets the stable compiler accept them. See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
secs=${FUZZ_SECS:-60}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
targets=${FUZZ_TARGETS:-$(cargo fuzz list)}
status=0
for t in $targets; do
    mkdir -p "corpus/$t"
    log=$(mktemp)
    if cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=65536 >"$log" 2>&1; then
        runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | tail -1 | grep -Eo '[0-9]+' || echo '?')
        printf 'fuzz: %-22s ok     %12s executions in %ss\n' "$t" "$runs" "$secs"
    else
        printf 'fuzz: %-22s CRASH  see fuzz/artifacts/%s/ and the log:\n' "$t" "$t"
        tail -40 "$log"
        status=1
    fi
    rm -f "$log"
done
exit $status
