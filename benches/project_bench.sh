#!/usr/bin/env bash
# Project-run benchmark: `knit project run` of benches/pb_features (one entity, twelve
# vars, 14 outputs) against one feature_table query with the same definitions, on the
# shared generator's tables, timed in one run.
#
#   benches/project_bench.sh /tmp/idg_1m
#
# The data directory comes from ../shared/bench (see its README):
#   $PY ../shared/bench/gen_identity_graph.py /tmp/idg_1m 1e6 42
# A run keeps the stitch and the var table for all its outputs, so the whole run should
# cost one feature_table query plus writing the outputs.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${1:-/tmp/idg_1m}
end_time=${END_TIME:-2024-09-01T00:00:00Z}
target=${CARGO_TARGET_DIR:-$HOME/.cache/knit-target}
export CARGO_TARGET_DIR=$target
profile=${PROFILE:-release}  # PROFILE=quick: the release profile without LTO
cargo build -q --profile "$profile" -p knit-cli
knit=$target/$profile/knit
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

measure() { # name, command...: runs it under GNU time and prints one line
    local name=$1; shift
    local log; log=$(mktemp)
    /usr/bin/time -f "%e %M" -o "$log" "$@" >"$log.out" 2>"$log.err" || { cat "$log.err"; exit 1; }
    read -r wall rss <"$log"
    printf '%-22s wall %7.2f s   peak RSS %6.0f MB\n' "$name" "$wall" "$((rss / 1024))"
    eval "${name}_wall=$wall"
    rm -f "$log" "$log.out" "$log.err"
}

"$knit" project sql benches/pb_features --tables "$dir" --out "$out/run" --end-time "$end_time" |
    grep -v '^COPY' >"$out/single.sql"
echo "COPY (SELECT * FROM feature_table('user')) TO '$out/single.parquet' STORED AS PARQUET;" \
    >>"$out/single.sql"

echo "data: $dir"
measure feature_table "$knit" -q -f "$out/single.sql"
measure project_run "$knit" project run benches/pb_features --tables "$dir" --out "$out/run" \
    --end-time "$end_time"
awk -v r="$project_run_wall" -v s="$feature_table_wall" \
    'BEGIN { printf "the run of 14 outputs takes %.2fx one feature_table query\n", r / s }'
