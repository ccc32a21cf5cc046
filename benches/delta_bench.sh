#!/usr/bin/env bash
# Delta Lake benchmark: the same rows read and written as Delta and as Parquet by Knit,
# in one run, with DuckDB reading the Parquet as a reference; answers checked.
#
#   benches/delta_bench.sh /tmp/idg_10m
#
# The data directory comes from ../shared/bench (see its README):
#   $PY ../shared/bench/gen_identity_graph.py /tmp/idg_10m 1e7 42
# Read: the 20M events of tracks.parquet, and the same rows as a Delta table (written
# once, into DIR/tracks_delta/), by a query that decodes every column. Write: the id
# graph of the 10M-edge graph (stitched once from the generator's pairs, kept as
# DIR/id_graph.parquet) copied to a Parquet file and to a Delta table. Each timing is the
# best of RUNS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${1:-/tmp/idg_10m}
runs=${RUNS:-3}
python=${KNIT_PEERS_VENV:-/tmp/knit-peers-venv}/bin/python
target=${CARGO_TARGET_DIR:-$HOME/.cache/knit-target}
profile=${PROFILE:-release}
export CARGO_TARGET_DIR=$target
cargo build -q --profile "$profile" -p knit-cli
knit="$target/$profile/knit"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

best() { # name, command...: the best wall time of $runs runs; keeps the last output
    local name=$1; shift
    local best_wall=
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%e %M" -o "$scratch/time" "$@" >"$scratch/out" 2>"$scratch/err" \
            || { cat "$scratch/err"; exit 1; }
        read -r wall rss <"$scratch/time"
        if [ -z "$best_wall" ] || awk -v a="$wall" -v b="$best_wall" 'BEGIN { exit !(a < b) }'; then
            best_wall=$wall
            best_rss=$rss
        fi
    done
    printf '%-22s best %6.2f s   peak RSS %6.0f MB   %s\n' "$name" "$best_wall" \
        "$((best_rss / 1024))" "$(tr '\n' ' ' <"$scratch/out")"
    eval "${name}_wall=$best_wall"
    eval "${name}_out=\$(cat \"\$scratch/out\")"
}

ratio() { # label, numerator wall, denominator wall
    awk -v a="$2" -v b="$3" -v l="$1" 'BEGIN { printf "%s: %.2fx\n", l, a / b }'
}

if [ ! -d "$dir/tracks_delta/_delta_log" ]; then
    echo "writing $dir/tracks_delta (once)"
    "$knit" -q -c "COPY (SELECT * FROM '$dir/tracks.parquet') TO '$dir/tracks_delta' STORED AS DELTA"
fi
if [ ! -f "$dir/id_graph.parquet" ]; then
    echo "stitching $dir/id_graph.parquet (once)"
    pair() { echo "CREATE INPUT $1 FOR user FROM '$dir/$2.parquet' IDS ($3 AS $3, $4 AS $4)
      WHERE $3 IS NOT NULL AND $4 IS NOT NULL;"; }
    "$knit" -q -c "
CREATE ENTITY user ID TYPES (anonymous_id, user_id, email, phone, device_id);
$(pair identified_visitors identifies anonymous_id user_id)
$(pair identified_emails identifies user_id email)
$(pair order_emails orders user_id email)
$(pair order_phones orders email phone)
$(pair devices devices anonymous_id device_id)
COPY (SELECT * FROM id_stitch('user')) TO '$dir/id_graph.parquet' STORED AS PARQUET;"
fi

scan="SELECT count(*) AS n, count(anonymous_id) AS anonymous_ids, count(user_id) AS user_ids,
  count(event) AS events, round(sum(revenue), 2) AS revenue, max(ts) AS last FROM"

echo "read: 20M events, every column decoded"
best read_parquet "$knit" -q --format csv -c "$scan '$dir/tracks.parquet'"
best read_delta "$knit" -q --format csv -c "$scan '$dir/tracks_delta'"
best duckdb_parquet "$python" -c "
import duckdb
print(duckdb.sql(\"\"\"$scan '$dir/tracks.parquet'\"\"\").fetchall())"
if [ "$read_parquet_out" != "$read_delta_out" ]; then
    echo "answers differ: parquet $read_parquet_out, delta $read_delta_out"
    exit 1
fi
ratio "Delta read / Parquet read (goal: at most 1.10)" "$read_delta_wall" "$read_parquet_wall"
ratio "Knit Delta read / DuckDB Parquet read" "$read_delta_wall" "$duckdb_parquet_wall"

echo "write: the id graph of 10M edges"
best write_parquet "$knit" -q --format csv -c \
    "COPY (SELECT * FROM '$dir/id_graph.parquet') TO '$scratch/id_graph.parquet' STORED AS PARQUET"
best write_delta "$knit" -q --format csv -c \
    "COPY (SELECT * FROM '$dir/id_graph.parquet') TO '$scratch/id_graph_delta' STORED AS DELTA"
rows=$("$knit" -q --format csv -c "SELECT count(*) AS n FROM '$scratch/id_graph_delta'")
expected=$("$knit" -q --format csv -c "SELECT count(*) AS n FROM '$dir/id_graph.parquet'")
if [ "$rows" != "$expected" ]; then
    echo "the Delta table has $rows rows, the id graph $expected"
    exit 1
fi
ratio "Delta write / Parquet write (goal: at most 1.20)" "$write_delta_wall" "$write_parquet_wall"
