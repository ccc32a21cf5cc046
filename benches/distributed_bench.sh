#!/usr/bin/env bash
# Workers benchmark: the same queries in one process and on WORKERS `knit worker`
# processes of this machine, timed in one run, answers checked equal. Prints the wall
# time of each run and the peak RSS of every process (the coordinator and each worker).
#
#   benches/distributed_bench.sh 1e7            # the stitching bench's ~10M-edge graph
#   WORKERS=4 benches/distributed_bench.sh 1e8
#   TLS=1 benches/distributed_bench.sh 1e7      # also on workers serving TLS
#
# With TLS=1, a second set of workers serves TLS (the test certificate of
# testdata/tls, KNIT_WORKER_CA naming its authority) and runs the same queries, so the
# cost of TLS shows beside the plain workers' times of the same run.
# Data is the stitching bench's (benches/stitch_bench.sh), generated once, seeded, in
# ${KNIT_BENCH_DIR:-/tmp/knit-bench}/idg_<edges>. PROFILE=quick uses the release profile
# without LTO (a much shorter build).
set -euo pipefail
cd "$(dirname "$0")/.."

edges=${1:-1e6}
workers=${WORKERS:-4}
. benches/identity_graph.sh
setup="$entity $inputs"
scan="SELECT count(*) AS rows, count(DISTINCT anonymous_id) AS anonymous_ids,
  count(DISTINCT user_id) AS user_ids, min(ts) AS first, max(ts) AS last
FROM '$dir/identifies/';"
stitch="SELECT sum(size) AS nodes, count(*) AS components, max(size) AS largest
FROM (SELECT user_main_id, count(*) AS size FROM id_stitch('user') GROUP BY user_main_id);"

work=$(mktemp -d)
trap 'for pid in $(jobs -p); do pkill -P "$pid" 2>/dev/null || true; done; rm -rf "$work"' EXIT
export KNIT_WORKER_TOKEN=bench-$RANDOM$RANDOM

run() { # name, workers (or ''), query: runs knit under GNU time, prints one line
    local name=$1 list=$2 query=$3
    KNIT_WORKERS=$list /usr/bin/time -f "%e %M" -o "$work/$name.time" \
        "$bin/knit" -q --format csv -c "$setup" -c "$query" >"$work/$name.out" 2>"$work/$name.err" ||
        { cat "$work/$name.err"; exit 1; }
    read -r wall rss <"$work/$name.time"
    printf '%-18s wall %7.2f s   coordinator peak RSS %6d MB\n' "$name" "$wall" "$((rss / 1024))"
}

echo "edges: $edges ($dir), $workers workers"
for query in scan stitch; do
    run "$query-local" "" "${!query}"
done

start_workers() { # name, knit worker flags...: starts $workers workers, sets `list`
    local name=$1; shift
    list=""
    for i in $(seq 1 "$workers"); do
        /usr/bin/time -f "%M" -o "$work/$name$i.time" "$bin/knit" worker --listen 127.0.0.1:0 "$@" \
            >"$work/$name$i.addr" 2>"$work/$name$i.err" &
        for _ in $(seq 50); do [ -s "$work/$name$i.addr" ] && break; sleep 0.1; done
        list="$list${list:+,}$(sed -n 's/^knit worker listening on //p' "$work/$name$i.addr")"
    done
}

start_workers worker
for query in scan stitch; do
    run "$query-workers" "$list" "${!query}"
    cmp -s "$work/$query-local.out" "$work/$query-workers.out" ||
        { echo "$query: answers differ"; diff "$work/$query-local.out" "$work/$query-workers.out"; exit 1; }
done
if [ "${TLS:-0}" = 1 ]; then
    export KNIT_WORKER_CA=testdata/tls/ca.pem
    start_workers tls-worker --tls-cert testdata/tls/worker.pem --tls-key testdata/tls/worker.key
    for query in scan stitch; do
        run "$query-workers-tls" "$list" "${!query}"
        cmp -s "$work/$query-local.out" "$work/$query-workers-tls.out" ||
            { echo "$query (TLS): answers differ"; exit 1; }
    done
fi
# Stop the workers themselves (children of `time`), which then prints their peaks.
for pid in $(jobs -p); do pkill -TERM -P "$pid" || true; done
wait 2>/dev/null || true
for name in worker tls-worker; do
    for i in $(seq 1 "$workers"); do
        [ -s "$work/$name$i.time" ] || continue
        printf '%s %d peak RSS %6d MB\n' "$name" "$i" "$(($(cat "$work/$name$i.time") / 1024))"
    done
done
echo "answers: equal"
