#!/usr/bin/env bash
# connected_components benchmark: Knit's table function against the peers of
# ../shared/bench/cc_peers.py on the same edge file, timed in one run, answers checked.
#
#   benches/cc_bench.sh /tmp/idg_10m/edges.parquet
#
# The file comes from the shared generator (see ../shared/bench/README.md):
#   $PY ../shared/bench/gen_identity_graph.py /tmp/idg_10m 1e7 42
# Its ids are unique across id types, so the components of `src`/`dst` are those of the
# peers' `(type, id)` nodes. PEERS (default "duckdb_largestar python_unionfind") picks
# the peers; PEERS=none times Knit alone. PHASES=1 adds Knit's operator metrics.
set -euo pipefail
cd "$(dirname "$0")/.."

edges=${1:-/tmp/idg_10m/edges.parquet}
peers=${PEERS:-duckdb_largestar python_unionfind}
python=${KNIT_PEERS_VENV:-/tmp/knit-peers-venv}/bin/python
target=${CARGO_TARGET_DIR:-$HOME/.cache/knit-target}
export CARGO_TARGET_DIR=$target
profile=${PROFILE:-release}  # PROFILE=quick: the release profile without LTO
cargo build -q --profile "$profile" -p knit-cli

sql="
SELECT count(*) AS components, max(size) AS largest, sum(size) AS nodes
FROM (SELECT component, count(*) AS size
      FROM connected_components((SELECT src AS a, dst AS b FROM '$edges'))
      GROUP BY component);
"

answer() { # the components, largest and nodes of a peer's output line
    grep -oE '"(components|largest|nodes)": [0-9]+' | tr -d '" ' | sort | tr '\n' ' '
}

measure() { # name, command...: runs it under GNU time; prints one line and keeps the answer
    local name=$1; shift
    local log; log=$(mktemp)
    /usr/bin/time -f "%e %M" -o "$log" "$@" >"$log.out" 2>"$log.err" || { cat "$log.err"; exit 1; }
    read -r wall rss <"$log"
    printf '%-18s wall %7.2f s   peak RSS %6.0f MB   %s\n' "$name" "$wall" "$((rss / 1024))" "$(tr '\n' ' ' <"$log.out")"
    eval "${name}_wall=$wall"
    eval "${name}_out=\$(cat \"\$log.out\")"
    rm -f "$log" "$log.out" "$log.err"
}

echo "edges: $edges"
measure knit "$target/$profile/knit" -q --format json -c "$sql"
knit_answer=$(echo "$knit_out" | sed 's/":/": /g' | answer)
for peer in $peers; do
    [ "$peer" = none ] && continue
    measure "$peer" "$python" ../shared/bench/cc_peers.py "$peer" "$edges"
    peer_out_var="${peer}_out"
    peer_answer=$(echo "${!peer_out_var}" | answer)
    if [ "$peer_answer" != "$knit_answer" ]; then
        echo "answers differ: knit $knit_answer, $peer $peer_answer"
        exit 1
    fi
    peer_wall_var="${peer}_wall"
    awk -v k="$knit_wall" -v p="${!peer_wall_var}" -v name="$peer" \
        'BEGIN { printf "knit is %.1fx faster than %s (same answer: %s)\n", p / k, name, "'"$knit_answer"'" }'
done

if [ "${PHASES:-0}" = 1 ]; then
    echo "knit phases (EXPLAIN ANALYZE):"
    "$target/$profile/knit" -q --format csv -c "EXPLAIN ANALYZE $sql" |
        grep -oE "ConnectedComponentsExec[^]]*]" | head -1
fi
