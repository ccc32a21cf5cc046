#!/usr/bin/env bash
# Feature-table benchmark: twelve entity vars over the shared generator's events, Knit
# against the DuckDB feature peer (../shared/bench/feature_peers.py), timed in one run,
# same job and same values.
#
#   benches/features_bench.sh /tmp/idg_10m
#
# The data directory comes from ../shared/bench (see its README):
#   $PY ../shared/bench/gen_identity_graph.py /tmp/idg_10m 1e7 42
#   $PY ../shared/bench/make_idgraph.py /tmp/idg_10m/edges.parquet /tmp/idg_10m/idgraph.parquet
# DuckDB is given the id graph (idgraph.parquet: components of every edge of identifies,
# orders and devices, precomputed by scipy); Knit stitches the same graph from those three
# inputs and then computes the features, so its time includes the stitch. The script
# also times Knit's stitch alone, to show the feature stage's share.
#
# The definitions below are the peer's job in Knit's terms: events, orders and emails are
# LOOKUP IDS inputs (rows find their entity, in the peer's order of ids, and add no
# edges), cut at the as-of date; the graph is not cut and is the peer's (see `pair`).
# The last query checks that both give the same rows, entity keys aside.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${1:-/tmp/idg_10m}
as_of=${AS_OF:-2024-09-01}
python=${KNIT_PEERS_VENV:-/tmp/knit-peers-venv}/bin/python
target=${CARGO_TARGET_DIR:-$HOME/.cache/knit-target}
export CARGO_TARGET_DIR=$target
profile=${PROFILE:-release}  # PROFILE=quick: the release profile without LTO
cargo build -q --profile "$profile" -p knit-cli

# The peer's graph is the components of edges.parquet, which has, of each row, the pairs
# (anonymous_id, user_id) and (user_id, email) of identifies, (user_id, email) and
# (email, phone) of orders, and (anonymous_id, device_id) of devices, when both ids are
# there. The stitching inputs below are exactly those pairs, so that both peers work on
# one graph. (Stitched as pb would, with every pair of ids of a row, the graph has more
# ids and fewer, larger clusters.)
pair() { # name, file, column a, column b: an input of the rows that have both
    echo "CREATE INPUT $1 FOR user FROM '$dir/$2.parquet' IDS ($3 AS $3, $4 AS $4)
      WHERE $3 IS NOT NULL AND $4 IS NOT NULL;"
}
definitions="
CREATE ENTITY user ID TYPES (anonymous_id, user_id, email, phone, device_id);
$(pair identified_visitors identifies anonymous_id user_id)
$(pair identified_emails identifies user_id email)
$(pair order_emails orders user_id email)
$(pair order_phones orders email phone)
$(pair devices devices anonymous_id device_id)
CREATE INPUT events FOR user FROM '$dir/tracks.parquet'
  LOOKUP IDS (anonymous_id AS anonymous_id, user_id AS user_id) OCCURRED AT ts
  WHERE ts <= TIMESTAMP '$as_of';
CREATE INPUT user_orders FOR user FROM '$dir/orders.parquet'
  LOOKUP IDS (user_id AS user_id) OCCURRED AT ts WHERE ts <= TIMESTAMP '$as_of';
CREATE INPUT visitor_emails FOR user FROM '$dir/identifies.parquet'
  LOOKUP IDS (anonymous_id AS anonymous_id) OCCURRED AT ts
  WHERE ts <= TIMESTAMP '$as_of' AND email IS NOT NULL;
"
features="
CREATE ENTITY VAR user.first_seen AS min(ts) FROM events;
CREATE ENTITY VAR user.last_seen AS max(ts) FROM events;
CREATE ENTITY VAR user.n_events AS count(*) FROM events;
CREATE ENTITY VAR user.n_purchases AS count(*) FILTER (WHERE event = 'purchase') FROM events;
CREATE ENTITY VAR user.purchase_revenue
  AS coalesce(sum(revenue) FILTER (WHERE event = 'purchase'), 0) FROM events;
CREATE ENTITY VAR user.revenue_30d AS coalesce(sum(revenue) FILTER (WHERE event = 'purchase'
  AND ts > TIMESTAMP '$as_of' - INTERVAL '30 days'), 0) FROM events;
CREATE ENTITY VAR user.days_active AS count(DISTINCT CAST(ts AS DATE)) FROM events;
CREATE ENTITY VAR user.n_anonymous_ids AS count(DISTINCT anonymous_id) FROM events;
CREATE ENTITY VAR user.last_event AS last_value(event ORDER BY ts) FROM events;
CREATE ENTITY VAR user.n_orders AS count(*) FROM user_orders DEFAULT 0;
CREATE ENTITY VAR user.order_amount AS sum(amount) FROM user_orders DEFAULT 0;
CREATE ENTITY VAR user.latest_email AS last_value(email ORDER BY ts) FROM visitor_emails;
"

compared="CAST(first_seen AS TIMESTAMP) AS first_seen, CAST(last_seen AS TIMESTAMP) AS last_seen,
  n_events, n_purchases, round(purchase_revenue, 4) AS purchase_revenue,
  round(revenue_30d, 4) AS revenue_30d, days_active, n_anonymous_ids, n_orders,
  round(order_amount, 4) AS order_amount"

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
measure knit_stitch "$target/$profile/knit" -q --format csv -c "$definitions
  SELECT count(*) AS ids, count(DISTINCT user_main_id) AS users FROM id_stitch('user');"
measure knit "$target/$profile/knit" -q --format csv -c "$definitions $features
  COPY (SELECT * FROM feature_table('user') WHERE n_events IS NOT NULL)
    TO '$dir/features_knit.parquet' STORED AS PARQUET;"
measure duckdb "$python" ../shared/bench/feature_peers.py duckdb "$dir" "$as_of"
awk -v k="$knit_wall" -v s="$knit_stitch_wall" -v d="$duckdb_wall" 'BEGIN {
    printf "knit (stitch + features) is %.2fx the speed of duckdb (features on a given graph)\n", d / k
    printf "knit feature stage alone: about %.2f s (%.2fx duckdb)\n", k - s, d / (k - s) }'
"$target/$profile/knit" -q -c "
  SELECT 'knit' AS peer, count(*) AS entities, sum(n_events) AS events, sum(n_purchases) AS purchases,
         round(sum(purchase_revenue), 2) AS revenue, sum(n_orders) AS orders
  FROM '$dir/features_knit.parquet'
  UNION ALL
  SELECT 'duckdb', count(*), sum(n_events), sum(n_purchases), round(sum(purchase_revenue), 2), sum(n_orders)
  FROM '$dir/features_duckdb.parquet';
  -- Same rows, entity keys aside: every var but the two last_value ones, whose ties on
  -- ts either side may break differently.
  CREATE VIEW knit_rows AS SELECT $compared FROM '$dir/features_knit.parquet';
  CREATE VIEW duckdb_rows AS SELECT $compared FROM '$dir/features_duckdb.parquet';
  SELECT (SELECT count(*) FROM (SELECT * FROM knit_rows EXCEPT ALL SELECT * FROM duckdb_rows))
           AS rows_only_in_knit,
         (SELECT count(*) FROM (SELECT * FROM duckdb_rows EXCEPT ALL SELECT * FROM knit_rows))
           AS rows_only_in_duckdb"
