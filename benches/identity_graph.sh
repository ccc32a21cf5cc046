# Sourced by the benchmarks of the stitching graph (stitch, limits, workers): builds
# knit and the generator in PROFILE (release by default; quick: without LTO), generates
# the seeded graph of `$edges` edges once, and defines the inputs that stitch it.
#
# Reads `edges`; sets `dir` (the graph's folder), `target`, `profile`, `bin` (the built
# binaries), `entity` (CREATE ENTITY user with its four id types) and `inputs` (the
# CREATE INPUT statements of identifies, devices and orders).

dir=${KNIT_BENCH_DIR:-/tmp/knit-bench}/idg_$edges
target=${CARGO_TARGET_DIR:-$HOME/.cache/knit-target}
export CARGO_TARGET_DIR=$target
profile=${PROFILE:-release}
cargo build -q --profile "$profile" -p knit-cli -p knit-benches
bin=$target/$profile
if [ ! -d "$dir/edges" ]; then
    "$bin/gen_identity_graph" "$dir" "$edges" 42
fi

entity="CREATE ENTITY user ID TYPES (anonymous_id, user_id, email, device_id);"
inputs="
CREATE INPUT identifies FOR user FROM '$dir/identifies/'
  IDS (anonymous_id AS anonymous_id, user_id AS user_id, email AS email) OCCURRED AT ts;
CREATE INPUT devices FOR user FROM '$dir/devices/'
  IDS (anonymous_id AS anonymous_id, device_id AS device_id) OCCURRED AT ts;
CREATE INPUT orders FOR user FROM '$dir/orders/'
  IDS (user_id AS user_id, email AS email) OCCURRED AT ts;"
