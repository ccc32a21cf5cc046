#!/usr/bin/env bash
# Incremental refresh benchmark: `knit project run --store` of benches/pb_features (one
# entity, twelve vars, 14 outputs) with 1% of every table arriving as new files, against
# a full run over all the files, timed in one run; the outputs of the two stores are
# checked equal, row for row.
#
#   benches/refresh_bench.sh /tmp/idg_1m [percent]
#
# The data directory comes from ../shared/bench (see its README):
#   $PY ../shared/bench/gen_identity_graph.py /tmp/idg_1m 1e6 42
# Each table (identifies, orders, devices, tracks) is split at random into
# old rows (part-0.parquet) and new rows (part-1.parquet, `percent` of them, default 1).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${1:-/tmp/idg_1m}
percent=${2:-1}
end_time=${END_TIME:-2100-01-01T00:00:00Z}
target=${CARGO_TARGET_DIR:-$HOME/.cache/knit-target}
profile=${PROFILE:-release}
export CARGO_TARGET_DIR=$target
cargo build -q --profile "$profile" -p knit-cli
knit=$target/$profile/knit
work=$(mktemp -d)
# KEEP_WORK=1 keeps the data and both stores, to look at a difference.
[ -n "${KEEP_WORK:-}" ] && echo "work folder: $work" || trap 'rm -rf "$work"' EXIT

measure() { # name, command...: runs it under GNU time and prints one line
    local name=$1; shift
    local log; log=$(mktemp)
    /usr/bin/time -f "%e %M" -o "$log" "$@" >"$log.out" 2>"$log.err" || { cat "$log.err"; exit 1; }
    read -r wall rss <"$log"
    printf '%-22s wall %7.2f s   peak RSS %6.0f MB\n' "$name" "$wall" "$((rss / 1024))"
    grep -E '^(run|  |scoped|wrote|published)' "$log.err" | sed 's/^/    /' || true
    eval "${name}_wall=$wall"
    rm -f "$log" "$log.out" "$log.err"
}

split=()
for table in identifies orders devices tracks; do
    mkdir -p "$work/old/$table" "$work/all/$table"
    # Each row draws a number once; the first `percent` of 100 are the new rows.
    split+=(-c "COPY (SELECT *, random() AS draw FROM '$dir/$table.parquet') TO '$work/$table.parquet'")
    split+=(-c "COPY (SELECT * EXCEPT (draw) FROM '$work/$table.parquet' WHERE draw >= $percent / 100.0) TO '$work/old/$table/part-0.parquet'")
    split+=(-c "COPY (SELECT * EXCEPT (draw) FROM '$work/$table.parquet' WHERE draw < $percent / 100.0) TO '$work/all/$table/part-1.parquet'")
done
"$knit" -q "${split[@]}" >/dev/null
for table in identifies orders devices tracks; do
    cp "$work/old/$table/part-0.parquet" "$work/all/$table/"
done

echo "data: $dir, $percent% new rows"
run=("$knit" project run benches/pb_features --end-time "$end_time")
# The store as it was before the new files: its first (full) run, not timed.
"${run[@]}" --tables "$work/old" --store "$work/store" >/dev/null 2>&1
# The new files land in the store's tables.
for table in identifies orders devices tracks; do
    mkdir -p "$work/old/$table" && cp "$work/all/$table/part-1.parquet" "$work/old/$table/"
done
measure full_run "${run[@]}" --tables "$work/all" --store "$work/full"
measure refresh "${run[@]}" --tables "$work/old" --store "$work/store"
awk -v f="$full_run_wall" -v r="$refresh_wall" \
    'BEGIN { printf "the refresh takes %.2fx the full run (%.1fx faster)\n", r / f, f / r }'

# Rows are compared whole, with DOUBLE columns as REAL: a sum of doubles depends on the
# order its rows are added in (which differs between any two runs, a refresh and a full
# run alike) in its last bits, about 1e-15 of it, far below REAL's 6e-8.
checks=()
for table in "$work"/full/*/; do
    name=$(basename "$table")
    case $name in _knit | *_redirects) continue ;; esac
    columns=$("$knit" -q --format csv -c "DESCRIBE '$work/full/$name'" |
        awk -F, 'NR > 1 { if ($2 == "Float64") printf "%sarrow_cast(\"%s\", '"'"'Float32'"'"') AS \"%s\"", sep, $1, $1; else printf "%s\"%s\"", sep, $1; sep = ", " }')
    full="SELECT $columns FROM '$work/full/$name'"
    refreshed="SELECT $columns FROM '$work/store/$name'"
    checks+=(-c "SELECT '$name' AS output, (SELECT count(*) FROM ($full EXCEPT ALL $refreshed)) + (SELECT count(*) FROM ($refreshed EXCEPT ALL $full)) AS differing_rows")
done
differing=$("$knit" -q --format csv "${checks[@]}" | grep -v '^output' | awk -F, '$2 != 0')
if [ -n "$differing" ]; then
    echo "outputs differ:"; echo "$differing"; exit 1
fi
echo "all $((${#checks[@]} / 2)) outputs equal, row for row"
