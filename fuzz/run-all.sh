#!/usr/bin/env bash
# Runs every fuzz target for RUNS executions (default 10^7) and keeps the last lines of
# each run's log in fuzz/logs/<target>.log. Usage: fuzz/run-all.sh [RUNS] [target...]
set -uo pipefail
cd "$(dirname "$0")"
RUNS=${1:-10000000}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(strict_json host_pattern url_policy plan resolve redact inclusion bundle)
mkdir -p logs
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t"
    start=$(date +%s)
    cargo fuzz run "$t" -s none -O "corpus/$t" "seeds/$t" -- \
        -runs="$RUNS" -max_len=16384 -print_final_stats=1 > "logs/$t.log" 2>&1
    rc=$?
    echo "$t rc=$rc seconds=$(( $(date +%s) - start ))" >> logs/summary.txt
done
