#!/usr/bin/env bash
# A short run of every fuzz target (SECONDS_EACH, default 5), from the committed seeds into
# a throw-away corpus; any crash fails it. Part of scripts/test.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${SECONDS_EACH:-5}
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cargo fuzz build -s none -O
for t in $(cargo fuzz list); do
    mkdir -p "$corpus/$t" "seeds/$t"
    cargo fuzz run "$t" -s none -O "$corpus/$t" "seeds/$t" -- \
        -max_total_time="$SECONDS_EACH" -max_len=16384 -print_final_stats=1 2>&1 \
        | grep -E '^(Done|stat::number_of_executed_units|==|SUMMARY)' | sed "s/^/fuzz $t: /"
    test "${PIPESTATUS[0]}" -eq 0
done
