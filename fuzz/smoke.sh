#!/usr/bin/env bash
# A short run of every fuzz target (SECONDS_EACH, default 5), from the committed seeds into
# a throw-away corpus; any crash fails it. Part of scripts/test.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${SECONDS_EACH:-5}
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
# --dev (no optimization; debug assertions and overflow checks on, as in the tests): the
# targets link wasmtime, Cranelift, sqlx and tokio through runproof-host and -runner, all
# rebuilt here with coverage instrumentation (no sharing with the host's target/ is
# possible), and optimizing them took minutes of a fresh CI for a few seconds of fuzzing.
# The long runs (run-all.sh) keep -O.
cargo fuzz build -s none --dev
for t in $(cargo fuzz list); do
    mkdir -p "$corpus/$t" "seeds/$t"
    cargo fuzz run "$t" -s none --dev "$corpus/$t" "seeds/$t" -- \
        -max_total_time="$SECONDS_EACH" -max_len=16384 -print_final_stats=1 2>&1 \
        | grep -E '^(Done|stat::number_of_executed_units|==|SUMMARY)' | sed "s/^/fuzz $t: /"
    test "${PIPESTATUS[0]}" -eq 0
done
