#!/usr/bin/env bash
# reclaim-before-after.sh BASE_REV [HEAD_REV]: issue 30's figures for two
# revisions, back to back on the same machine, as one table of medians.
#
# BASE_REV must have `rcu-bench kvfree-flood` (the commit where this script
# landed, before the producer-side frees of issue 30), so that both
# revisions take the same flags. HEAD_REV defaults to HEAD. Each revision is
# built (release) in a git worktree of its own under target/before-after/,
# with a target dir of its own (the first run builds everything twice); the
# worktrees are removed on exit, the target dirs kept for the next run.
#
# Interleaved over ROUNDS rounds (env, default 3; the order of the two
# revisions alternates per round), each round runs on each revision:
#  * `rcu-bench kvfree-flood`: 2 threads x OBJECTS (env, default
#    2,000,000) counted 32-byte boxes through kvfree_rcu of memb, qsbr and
#    srcu, then rcu_barrier, beside the plain drop loop: Mobj/s, time over
#    the plain loop's of the same run, peak RSS; then with `--latency`:
#    p50, p99, p99.9, max of each call;
#  * the criterion groups `kvfree_flood` (single-thread flood beside the
#    allocator floors `plain-alloc-free` and `batched-free-same-thread`)
#    and `call_rcu_then_barrier`, short settings: the median estimate;
#  * `resize_stress --resizes 4096`, kvfree and call-rcu: resizes/s and
#    lookups/s per flavour;
#  * `rcu-bench config --duration 0.5 --rounds 1`: the RcuCell rows (reads
#    per second per reader, reload cost, its p99, its grace period).
# Printed: metric, median before, median after, after/before. Raw values
# are in target/before-after/results.txt (rev round metric value).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

base=${1:?usage: $0 BASE_REV [HEAD_REV]}
head=${2:-HEAD}
rounds=${ROUNDS:-3}
objects=${OBJECTS:-2000000}
root=$PWD/target/before-after
results=$root/results.txt
mkdir -p "$root"
: >"$results"

cleanup() {
    for rev in before after; do
        git worktree remove --force "$root/$rev" 2>/dev/null || true
    done
}
trap cleanup EXIT

# build NAME REV: a worktree of REV at $root/NAME, everything built.
build() {
    git worktree remove --force "$root/$1" 2>/dev/null || true
    git worktree add --force --detach "$root/$1" "$2" >/dev/null
    echo "building $1 ($2: $(git rev-parse --short "$2"))" >&2
    (
        cd "$root/$1"
        export CARGO_TARGET_DIR=$root/target-$1
        cargo build -q --release -p rcu-bench
        cargo build -q --release --example resize_stress
        cargo bench -q -p rcu-bench --bench reclaim --no-run 2>/dev/null
    )
}

# record REV ROUND: reads "metric value" lines on stdin into $results.
record() { sed "s/^/$1 $2 /" >>"$results"; }

# KVFREE_FLOOD lines -> metric lines; $1 = "" or "latency".
flood_rows() {
    awk -v mode="$1" '/^KVFREE_FLOOD / {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
        k = "kvfree-flood/" f["kind"]
        if (mode == "latency") {
            if (f["kind"] == "plain") next
            print k "/call p50 ns", f["p50_ns"]; print k "/call p99 ns", f["p99_ns"]
            print k "/call p99.9 ns", f["p999_ns"]; print k "/call max ns", f["max_ns"]
            next
        }
        if (f["kind"] == "plain") plain = f["total_ns"]
        print k "/Mobj/s", f["objects"] / f["total_ns"] * 1e3
        print k "/peak RSS MiB", f["peak_rss_kib"] / 1024
        if (f["kind"] != "plain" && plain) print k "/time x plain", f["total_ns"] / plain
    }' | sed 's/ \([^ ]*\)$/\t\1/' | tr ' ' '_'
}

one_round() { # one_round REV ROUND
    local rev=$1 round=$2 wt=$root/$1 tgt=$root/target-$1
    local bin=$tgt/release/rcu-bench
    "$bin" kvfree-flood --threads 2 --objects "$objects" 2>/dev/null | flood_rows "" | record "$rev" "$round"
    "$bin" kvfree-flood --threads 2 --objects "$objects" --latency 2>/dev/null | flood_rows latency |
        record "$rev" "$round"
    (cd "$wt" && CARGO_TARGET_DIR=$tgt cargo bench -q -p rcu-bench --bench reclaim -- \
        --warm-up-time 1 --measurement-time 2 --noplot '^(kvfree_flood|call_rcu_then_barrier)/' >/dev/null 2>&1)
    for est in "$tgt"/criterion/{kvfree_flood,call_rcu_then_barrier}/*/new/estimates.json; do
        [ -f "$est" ] || continue
        id=${est#"$tgt/criterion/"}
        printf 'criterion/%s_ns\t%s\n' "${id%/new/estimates.json}" "$(jq .median.point_estimate "$est")"
    done | record "$rev" "$round"
    "$tgt/release/examples/resize_stress" --resizes 4096 --strategies kvfree --strategies call-rcu --json 2>/dev/null |
        jq -r '.runs[] | "resize_stress/\(.flavour)-\(.strategy)/resizes/s\t\(.resizes_per_second)",
                         "resize_stress/\(.flavour)-\(.strategy)/lookups/s\t\(.lookups_per_second)"' |
        record "$rev" "$round"
    "$bin" config --duration 0.5 --rounds 1 --csv 2>/dev/null | awk -F, '$1 ~ /^rcu-.*-cell$/ {
        printf "config/%s/%s\t%s\n", $1, $2, $3 }' | record "$rev" "$round"
}

build before "$base"
build after "$head"
for round in $(seq 1 "$rounds"); do
    if ((round % 2)); then order=(before after); else order=(after before); fi
    for rev in "${order[@]}"; do
        echo "round $round/$rounds: $rev" >&2
        one_round "$rev" "$round"
    done
done

# median_of REV METRIC
median_of() { awk -F'\t' -v r="$1" -v m="$2" '{ split($1, a, " ") } a[1] == r && a[3] == m { print $2 }' "$results" | median; }

echo
echo "before: $base ($(git rev-parse --short "$base")), after: $head ($(git rev-parse --short "$head")); medians of $rounds rounds"
echo "uptime: $(uptime)"
printf '%-56s %14s %14s %12s\n' metric before after after/before
awk -F'\t' '{ split($1, a, " "); print a[3] }' "$results" | awk '!seen[$0]++' | while read -r m; do
    b=$(median_of before "$m")
    a=$(median_of after "$m")
    printf '%-56s %14.4g %14.4g %12s\n' "$m" "${b:-0}" "${a:-0}" \
        "$(awk -v a="$a" -v b="$b" 'BEGIN { if (b + 0 == 0 || a == "") print "-"; else printf "%.3f", a / b }')"
done
