#!/usr/bin/env bash
# Limits benchmark: the stitch of the benchmark graph with and without per-type limits,
# timed in one run, with the largest cluster of each and an independent check that every
# cluster is within its limits (a SQL count over the id graph, not the report's).
#
#   benches/limits_bench.sh 1e7                  # ~10M edges
#   PROFILE=quick benches/limits_bench.sh 1e7    # a build without LTO (faster to make)
#
# Data goes to ${KNIT_BENCH_DIR:-/tmp/knit-bench}/idg_<edges> (generated once, seeded;
# the graph holds shared QA emails and kiosk devices by design).
set -euo pipefail
cd "$(dirname "$0")/.."

edges=${1:-1e6}
limits=${LIMITS:-"anonymous_id LIMIT 50, user_id LIMIT 1, email LIMIT 5, device_id LIMIT 5"}
. benches/identity_graph.sh
knit=$bin/knit

count="SELECT sum(size) AS nodes, count(*) AS clusters, max(size) AS largest
FROM (SELECT user_main_id, count(*) AS size FROM id_stitch('user') GROUP BY user_main_id);"

measure() { # name, sql: runs it under GNU time and prints one line
    local name=$1 sql=$2
    local log; log=$(mktemp)
    /usr/bin/time -f "%e %M" -o "$log" "$knit" -q --format csv -c "$sql" >"$log.out" 2>"$log.err" ||
        { cat "$log.err"; exit 1; }
    read -r wall rss <"$log"
    printf '%-10s wall %6.2f s   peak RSS %6.0f MB   %s\n' "$name" "$wall" "$((rss / 1024))" \
        "$(tail -n +2 "$log.out" | tr '\n' ' ')"
    eval "${name}_wall=$wall"
    rm -f "$log" "$log.out" "$log.err"
}

echo "edges: $edges ($dir), limits: $limits"
measure unlimited "$entity $inputs $count"
measure limited "CREATE ENTITY user ID TYPES ($limits); $inputs $count"
awk -v l="$limited_wall" -v u="$unlimited_wall" 'BEGIN { printf "limits cost %.2fx the unlimited stitch\n", l / u }'

echo "most ids of a type in one cluster (SQL over the limited id graph), and the report's refused edges:"
"$knit" -q --format csv -c "CREATE ENTITY user ID TYPES ($limits); $inputs
SELECT other_id_type, max(held) AS most FROM (
  SELECT user_main_id, other_id_type, count(*) AS held FROM id_stitch('user') GROUP BY 1, 2)
GROUP BY 1 ORDER BY 1;
SELECT id_type, \"limit\", refused_edges, largest FROM stitch_report('user') ORDER BY id_type;"

if [ "${PHASES:-0}" = 1 ]; then
    echo "limited stitch phases (EXPLAIN ANALYZE):"
    "$knit" -q --format csv -c "CREATE ENTITY user ID TYPES ($limits); $inputs EXPLAIN ANALYZE $count" |
        grep -oE '(input_rows|nodes|edges|clusters|refused_edges|largest_cluster|read_intern_time|group_edges_time|rid_time|union_find_time|limit_time|graph_time|output_time)=[^,]*' |
        tr '\n' ' '
    echo
fi
