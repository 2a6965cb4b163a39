#!/usr/bin/env bash
# Same run, same program, two libraries: liburcu's own benchmarks (built
# from Debian's source package by scripts/liburcu-source.sh, unmodified)
# and rcu-capi/examples/barrier_bench.c, each run once on Debian's
# installed liburcu and once on rcu-capi (scripts/liburcu-dropin.sh's
# libraries), interleaved over rounds (the order alternates each round, so
# drift on a shared machine hits both alike). Prints every SUMMARY line,
# then per row the median of each figure on both and the ratio
# rcu-capi / liburcu (above 1: rcu-capi did more in the same time).
# ldd must show each run resolved the library it is labelled with.
#
# Usage: scripts/liburcu-compare.sh [--rounds N] [--duration SECONDS]
#   (defaults: 3 rounds of 5 s per run; about 12 runs per round and library)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
rounds=3 dur=5
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --duration) dur=$2; shift 2 ;;
        *) echo "usage: $0 [--rounds N] [--duration SECONDS]" >&2; exit 2 ;;
    esac
done

src=$(bash scripts/liburcu-source.sh)
work=$(pwd)/target/liburcu-compare
mkdir -p "$work"
bash scripts/liburcu-dropin.sh "$work/dropin" >/dev/null
ours=$work/dropin/lib
for fl in memb mb qsbr bp; do
    flag=(); [ $fl = memb ] || flag=("-DUSE_${fl^^}")
    # Linked against Debian's libraries: the binary is the same for both runs.
    cc -O2 -Wall -Wextra -Werror "${flag[@]}" rcu-capi/examples/barrier_bench.c \
        -o "$work/barrier_bench_$fl" -lurcu-$fl -lpthread
done

# lib_path LABEL: the LD_LIBRARY_PATH that selects the library.
lib_path() { if [ "$1" = rcu-capi ]; then echo "$ours"; else echo ""; fi; }
# resolves BIN LABEL: every liburcu flavour library BIN needs is rcu-capi's
# (LABEL rcu-capi) or none of them is (LABEL liburcu).
resolves() {
    local libs rc=0
    libs=$(LD_LIBRARY_PATH=$(lib_path "$2") ldd "$1")
    if [ "$2" = rcu-capi ]; then
        resolve_check "$ours" "$URCU_FLAVOURS" "$libs" >/dev/null || rc=$?
        [ $rc != 1 ]
    else
        resolve_elsewhere "$ours" "$URCU_FLAVOURS" "$libs" >/dev/null
    fi
}

b=$src/tests/benchmark/.libs
cpus=$(nproc)
readers=$((cpus > 1 ? cpus - 1 : 1))
# name | binary | arguments | figures compared [| LD_PRELOAD]
rows=(
    "test_urcu|$b/test_urcu|$readers 1 $dur|nr_reads nr_writes"
    "test_urcu_dynamic_link|$b/test_urcu_dynamic_link|$readers 1 $dur|nr_reads nr_writes"
    "test_urcu_qsbr|$b/test_urcu_qsbr|$readers 1 $dur|nr_reads nr_writes"
    "test_urcu_qsbr_dynamic_link|$b/test_urcu_qsbr_dynamic_link|$readers 1 $dur|nr_reads nr_writes"
    "test_urcu_gc|$b/test_urcu_gc|$readers 1 $dur|nr_reads nr_writes"
    "test_urcu_gc -b 32|$b/test_urcu_gc|$readers 1 $dur -b 32|nr_reads nr_writes"
    "test_urcu_qsbr_gc|$b/test_urcu_qsbr_gc|$readers 1 $dur|nr_reads nr_writes"
    "test_urcu_defer|$b/test_urcu_defer|$readers 1 $dur|nr_reads nr_writes"
    # The writer paced (2,000 loops between writes): equal write rates, so
    # the readers' figures compare the read side alone (each write
    # invalidates the line the readers load).
    "test_urcu_defer -d 2000|$b/test_urcu_defer|$readers 1 $dur -d 2000|nr_reads nr_writes"
    "test_urcu_mb|$b/test_urcu_mb|$readers 1 $dur|nr_reads nr_writes"
    "test_urcu_mb_gc|$b/test_urcu_mb_gc|$readers 1 $dur|nr_reads nr_writes"
    "test_urcu_mb_lgc|$b/test_urcu_mb_lgc|$readers 1 $dur|nr_reads nr_writes"
    "test_urcu_bp|$b/test_urcu_bp|$readers 1 $dur|nr_reads nr_writes"
    "test_urcu_bp_dynamic_link|$b/test_urcu_bp_dynamic_link|$readers 1 $dur|nr_reads nr_writes"
    # mb and bp paced as test_urcu_defer is: the read side alone, at equal
    # write rates (at full speed each write costs the readers cache lines,
    # and the library whose writer writes more shows fewer reads).
    "test_urcu_mb -d 2000|$b/test_urcu_mb|$readers 1 $dur -d 2000|nr_reads nr_writes"
    "test_urcu_bp -d 2000|$b/test_urcu_bp|$readers 1 $dur -d 2000|nr_reads nr_writes"
    "test_urcu_lfq (call_rcu)|$b/test_urcu_lfq|1 1 $dur|nr_enqueues nr_dequeues"
    "test_urcu_lfs (call_rcu)|$b/test_urcu_lfs|1 1 $dur|nr_enqueues nr_dequeues"
    "barrier_bench memb|$work/barrier_bench_memb|$cpus $dur 16|nr_barriers"
    "barrier_bench qsbr|$work/barrier_bench_qsbr|$cpus $dur 16|nr_barriers"
    "barrier_bench mb|$work/barrier_bench_mb|$cpus $dur 16|nr_barriers"
    "barrier_bench bp|$work/barrier_bench_bp|$cpus $dur 16|nr_barriers"
)
# The call_rcu rows again on jemalloc, if installed (apt-get install -y
# libjemalloc2): with glibc's malloc they measure how the producer's
# malloc() contends with the reclaiming thread's free() (BENCHMARKS.md).
jemalloc=$(ls /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -1 || true)
if [ -n "$jemalloc" ]; then
    rows+=("test_urcu_lfq (call_rcu, jemalloc)|$b/test_urcu_lfq|1 1 $dur|nr_enqueues nr_dequeues|$jemalloc"
        "test_urcu_lfs (call_rcu, jemalloc)|$b/test_urcu_lfs|1 1 $dur|nr_enqueues nr_dequeues|$jemalloc")
fi

results=$work/results.tsv
: >"$results"
for round in $(seq 1 "$rounds"); do
    order=(liburcu rcu-capi); [ $((round % 2)) = 0 ] && order=(rcu-capi liburcu)
    for row in "${rows[@]}"; do
        IFS='|' read -r name bin args figures preload <<<"$row"
        for label in "${order[@]}"; do
            resolves "$bin" "$label" ||
                { echo "$bin does not resolve $label's libraries:"; LD_LIBRARY_PATH=$(lib_path "$label") ldd "$bin"; exit 1; } >&2
            # shellcheck disable=SC2086 # the arguments are words
            line=$(LD_PRELOAD=${preload:-} LD_LIBRARY_PATH=$(lib_path "$label") timeout $((dur * 20 + 60)) "$bin" $args | grep '^SUMMARY')
            printf 'round %s  %-8s  %s\n' "$round" "$label" "$(tr -s ' ' <<<"$line")"
            for f in $figures; do
                v=$(awk -v f="$f" '{ for (i = 1; i < NF; i++) if ($i == f) print $(i + 1) }' <<<"$line")
                printf '%s\t%s\t%s\t%s\n' "$name" "$label" "$f" "$v" >>"$results"
            done
        done
    done
done

median_of() { # row label figure
    awk -F'\t' -v r="$1" -v l="$2" -v f="$3" '$1 == r && $2 == l && $3 == f { print $4 }' "$results" | median
}
echo
echo "medians of $rounds rounds, $dur s each, $cpus CPUs ($readers readers where the row has readers)"
printf '| %-36s | %-12s | %14s | %14s | %8s |\n' row figure liburcu rcu-capi ratio
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..38})" "$(printf -- '-%.0s' {1..14})" \
    "$(printf -- '-%.0s' {1..16})" "$(printf -- '-%.0s' {1..16})" "$(printf -- '-%.0s' {1..10})"
for row in "${rows[@]}"; do
    IFS='|' read -r name _ _ figures _ <<<"$row"
    for f in $figures; do
        theirs=$(median_of "$name" liburcu "$f") mine=$(median_of "$name" rcu-capi "$f")
        printf '| %-36s | %-12s | %14.0f | %14.0f | %8s |\n' "$name" "$f" "$theirs" "$mine" "$(ratio "$mine" "$theirs")"
    done
done
