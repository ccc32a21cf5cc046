#!/usr/bin/env bash
# Stitching benchmark: Knit against the DuckDB SQL peer, on the same generated identity
# graph, timed in one run. Prints wall time and peak RSS of each, and their ratio.
#
#   benches/stitch_bench.sh 1e6       # ~1M edges
#   benches/stitch_bench.sh 1e7       # ~10M edges
#
# Data goes to ${KNIT_BENCH_DIR:-/tmp/knit-bench}/idg_<edges> (generated once, seeded).
# The peer needs ../shared/bench/setup.sh (a Python venv with DuckDB); set PEER=none to
# time Knit alone, or PEER=<name> for another peer of ../shared/bench/cc_peers.py.
# PHASES=1 also prints Knit's phase times (a second run, under EXPLAIN ANALYZE) and the
# phases of the numba union-find peer, the floors: Arrow's Parquet read, Arrow's string
# interning, and textbook union-find on one core over integer ids.
set -euo pipefail
cd "$(dirname "$0")/.."

edges=${1:-1e6}
peer=${PEER:-duckdb_largestar}
python=${KNIT_PEERS_VENV:-/tmp/knit-peers-venv}/bin/python
. benches/identity_graph.sh

sql="$entity $inputs
SELECT sum(size) AS nodes, count(*) AS components, max(size) AS largest
FROM (SELECT user_main_id, count(*) AS size FROM id_stitch('user') GROUP BY user_main_id);
"

measure() { # name, command...: runs it under GNU time and prints one line
    local name=$1; shift
    local log; log=$(mktemp)
    /usr/bin/time -f "%e %M" -o "$log" "$@" >"$log.out" 2>"$log.err" || { cat "$log.err"; exit 1; }
    read -r wall rss <"$log"
    printf '%-22s wall %7.2f s   peak RSS %6.0f MB   %s\n' "$name" "$wall" "$((rss / 1024))" "$(tr '\n' ' ' <"$log.out")"
    echo "$wall" >"$log.wall"
    eval "${name//-/_}_wall=$wall"
    rm -f "$log" "$log.out" "$log.err" "$log.wall"
}

echo "edges: $edges ($dir)"
measure knit "$bin/knit" -q --format csv -c "$sql"
if [ "$peer" != none ]; then
    measure "$peer" "$python" ../shared/bench/cc_peers.py "$peer" "$dir/edges/*.parquet"
    peer_wall_var="${peer//-/_}_wall"
    awk -v k="$knit_wall" -v p="${!peer_wall_var}" 'BEGIN { printf "knit is %.1fx faster than %s\n", p / k, "'"$peer"'" }'
fi

if [ "${PHASES:-0}" = 1 ]; then
    echo "knit phases (EXPLAIN ANALYZE):"
    "$bin/knit" -q --format csv -c "${sql/SELECT sum/EXPLAIN ANALYZE SELECT sum}" |
        grep -oE '(input_rows|nodes|edges|clusters|read_intern_time|group_edges_time|rid_time|union_find_time|graph_time|output_time)=[^,]*' |
        tr '\n' ' '
    echo
    echo "floors (numba union-find peer, phases in seconds):"
    "$python" ../shared/bench/cc_peers.py python_unionfind "$dir/edges"
fi
