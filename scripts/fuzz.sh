#!/usr/bin/env bash
# `make fuzz`: runs every cargo-fuzz target, one after another, for FUZZ_SECS seconds
# (default 60) or FUZZ_RUNS executions, whichever comes first, and prints the
# executions, seconds and corpus size of each. Installs cargo-fuzz when missing.
#
#   FUZZ_SECS=300 make fuzz                          # longer
#   FUZZ_RUNS=10000000 FUZZ_SECS=1800 make fuzz      # the depth docs/fuzzing.md reports
#   FUZZ_TARGETS='login chat_join' make fuzz         # some targets only
#   FUZZ_NICE=19 FUZZ_LOG_DIR=/tmp/fuzzlogs make fuzz  # on a shared machine; keep the logs
#   FUZZ_SANITIZER=none make fuzz                   # without AddressSanitizer: more executions a second
#
# cargo-fuzz needs nightly-only compiler flags (-Zsanitizer=address). This machine
# has only the stable toolchain and cannot download another, so we set
# RUSTC_BOOTSTRAP=1, which lets the stable compiler accept them. See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
secs=${FUZZ_SECS:-60}
runs=${FUZZ_RUNS:--1}
nice=${FUZZ_NICE:-0}
# cargo-fuzz's default is AddressSanitizer. socklab's own code has no unsafe (the
# workspace forbids it), so ASan checks only the dependencies' unsafe code; without
# it the same time buys many more executions. Both are reported in docs/fuzzing.md.
sanitizer=${FUZZ_SANITIZER:-address}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
targets=${FUZZ_TARGETS:-$(cargo fuzz list)}
# Build every target first, so the timed runs time fuzzing only.
for t in $targets; do
    cargo fuzz build -s "$sanitizer" "$t"
done
log_dir=${FUZZ_LOG_DIR:-$(mktemp -d)}
mkdir -p "$log_dir"
status=0
for t in $targets; do
    mkdir -p "corpus/$t"
    log="$log_dir/$t.log"
    start=$(date +%s)
    if nice -n "$nice" cargo fuzz run -s "$sanitizer" "$t" "corpus/$t" -- -max_total_time="$secs" -runs="$runs" \
        -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
        took=$(($(date +%s) - start))
        done_runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
        printf 'fuzz: %-22s ok     %12s executions in %5ss, corpus %5s files\n' \
            "$t" "$done_runs" "$took" "$(ls "corpus/$t" | wc -l)"
    else
        printf 'fuzz: %-22s CRASH  see fuzz/artifacts/%s/ and the log:\n' "$t" "$t"
        tail -40 "$log"
        status=1
    fi
done
[[ -n ${FUZZ_LOG_DIR:-} ]] || rm -rf "$log_dir"
exit $status
