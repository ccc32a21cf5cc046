#!/usr/bin/env bash
# Feature-table benchmark: twelve entity vars over the shared generator's events, Knit
# against the DuckDB feature peer (../shared/bench/feature_peers.py), timed in one run.
#
#   benches/features_bench.sh /tmp/idg_10m
#
# The data directory comes from ../shared/bench (see its README):
#   $PY ../shared/bench/gen_identity_graph.py /tmp/idg_10m 1e7 42
#   $PY ../shared/bench/make_idgraph.py /tmp/idg_10m/edges.parquet /tmp/idg_10m/idgraph.parquet
# DuckDB is given the id graph (idgraph.parquet, precomputed by scipy); Knit stitches its
# own from the same inputs and then computes the features, so its time includes the
# stitch. The script also times Knit's stitch alone, to show the feature stage's share.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${1:-/tmp/idg_10m}
as_of=${AS_OF:-2024-09-01}
python=${KNIT_PEERS_VENV:-/tmp/knit-peers-venv}/bin/python
target=${CARGO_TARGET_DIR:-$HOME/.cache/knit-target}
export CARGO_TARGET_DIR=$target
cargo build -q --release -p knit-cli

definitions="
CREATE ENTITY user ID TYPES (anonymous_id, user_id, email, phone, device_id);
CREATE INPUT identifies FOR user FROM '$dir/identifies.parquet'
  IDS (anonymous_id AS anonymous_id, user_id AS user_id, email AS email) OCCURRED AT ts
  WHERE ts <= TIMESTAMP '$as_of';
CREATE INPUT orders FOR user FROM '$dir/orders.parquet'
  IDS (user_id AS user_id, email AS email, phone AS phone) OCCURRED AT ts
  WHERE ts <= TIMESTAMP '$as_of';
CREATE INPUT devices FOR user FROM '$dir/devices.parquet'
  IDS (anonymous_id AS anonymous_id, device_id AS device_id);
CREATE INPUT tracks FOR user FROM '$dir/tracks.parquet'
  IDS (anonymous_id AS anonymous_id, user_id AS user_id) OCCURRED AT ts
  WHERE ts <= TIMESTAMP '$as_of';
"
features="
CREATE ENTITY VAR user.first_seen AS min(ts) FROM tracks;
CREATE ENTITY VAR user.last_seen AS max(ts) FROM tracks;
CREATE ENTITY VAR user.n_events AS count(*) FROM tracks;
CREATE ENTITY VAR user.n_purchases AS count(*) FILTER (WHERE event = 'purchase') FROM tracks;
CREATE ENTITY VAR user.purchase_revenue
  AS coalesce(sum(revenue) FILTER (WHERE event = 'purchase'), 0) FROM tracks;
CREATE ENTITY VAR user.revenue_30d AS coalesce(sum(revenue) FILTER (WHERE event = 'purchase'
  AND ts > TIMESTAMP '$as_of' - INTERVAL '30 days'), 0) FROM tracks;
CREATE ENTITY VAR user.days_active AS count(DISTINCT CAST(ts AS DATE)) FROM tracks;
CREATE ENTITY VAR user.n_anonymous_ids AS count(DISTINCT anonymous_id) FROM tracks;
CREATE ENTITY VAR user.last_event AS last_value(event ORDER BY ts) FROM tracks;
CREATE ENTITY VAR user.n_orders AS count(*) FROM orders DEFAULT 0;
CREATE ENTITY VAR user.order_amount AS sum(amount) FROM orders DEFAULT 0;
CREATE ENTITY VAR user.latest_email AS last_value(email ORDER BY ts) FROM identifies
  WHERE email IS NOT NULL;
"

measure() { # name, command...: runs it under GNU time and prints one line
    local name=$1; shift
    local log; log=$(mktemp)
    /usr/bin/time -f "%e %M" -o "$log" "$@" >"$log.out" 2>"$log.err" || { cat "$log.err"; exit 1; }
    read -r wall rss <"$log"
    printf '%-16s wall %7.2f s   peak RSS %6.0f MB   %s\n' "$name" "$wall" "$((rss / 1024))" \
        "$(tr '\n' ' ' <"$log.out" | cut -c1-150)"
    eval "${name//-/_}_wall=$wall"
    rm -f "$log" "$log.out" "$log.err"
}

echo "data: $dir (as of $as_of)"
measure knit_stitch "$target/release/knit" -q --format csv -c "$definitions
  SELECT count(*) AS ids, count(DISTINCT user_main_id) AS users FROM id_stitch('user');"
measure knit "$target/release/knit" -q --format csv -c "$definitions $features
  COPY (SELECT * FROM feature_table('user') WHERE n_events IS NOT NULL)
    TO '$dir/features_knit.parquet' STORED AS PARQUET;"
measure duckdb "$python" ../shared/bench/feature_peers.py duckdb "$dir" "$as_of"
awk -v k="$knit_wall" -v s="$knit_stitch_wall" -v d="$duckdb_wall" 'BEGIN {
    printf "knit (stitch + features) is %.2fx the speed of duckdb (features on a given graph)\n", d / k
    printf "knit feature stage alone: about %.2f s (%.2fx duckdb)\n", k - s, d / (k - s) }'
"$target/release/knit" -q -c "
  SELECT 'knit' AS peer, count(*) AS entities, sum(n_events) AS events, sum(n_purchases) AS purchases,
         round(sum(purchase_revenue), 2) AS revenue, sum(n_orders) AS orders
  FROM '$dir/features_knit.parquet'
  UNION ALL
  SELECT 'duckdb', count(*), sum(n_events), sum(n_purchases), round(sum(purchase_revenue), 2), sum(n_orders)
  FROM '$dir/features_duckdb.parquet'"
