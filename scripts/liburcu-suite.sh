#!/usr/bin/env bash
# liburcu's own regression tests and benchmarks, unmodified, on rcu-capi.
#
# Fetches liburcu's source from Debian's source package (the version of the
# installed liburcu-dev) and builds it with its own build system
# (scripts/liburcu-source.sh), then runs
# its test binaries with scripts/liburcu-dropin.sh's libraries first in
# LD_LIBRARY_PATH. Each binary is run directly (not through libtool's
# wrapper, which would put the build tree's own liburcu first), and `ldd`
# must show every liburcu flavour library it needs resolved to ours: a run
# that silently tested liburcu itself is a failure.
#
# Usage: scripts/liburcu-suite.sh [--long]
#   --long: the durations of the README's recorded run (minutes), not CI's.
# Nothing of liburcu is kept in the repository; the source lives under
# target/liburcu-suite.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
repo=$(pwd)
work=$repo/target/liburcu-suite
dropin=$work/dropin
long=0
[ "${1:-}" = "--long" ] && long=1

src=$(bash scripts/liburcu-source.sh)
version=$(dpkg-query -W -f='${Version}' liburcu-dev)

bash scripts/liburcu-dropin.sh "$dropin" >/dev/null
export LD_LIBRARY_PATH=$dropin/lib

pass=0 fail=0
# Each liburcu flavour library a binary needs must resolve into $dropin/lib
# (Debian's liburcu-common, -cds and -signal stay Debian's).
check_resolution() {
    local bin=$1 line libs rc=0
    libs=$(ldd "$bin")
    line=$(resolve_check "$dropin/lib" "$URCU_FLAVOURS" "$libs") || rc=$?
    [ $rc != 1 ] || { echo "not ours: $line"; return 1; }
    [[ $libs == *"$dropin/lib/"* ]] || { echo "resolves none of our libraries"; return 1; }
}
# The check must be able to fail: without our libraries first, it must
# refuse a binary (else every "ok" below could be liburcu's own).
if (LD_LIBRARY_PATH= check_resolution "$src/tests/benchmark/.libs/test_urcu" >/dev/null); then
    echo "$0: the resolution check accepts Debian's liburcu; refusing to run" >&2
    exit 1
fi
summary_line() {
    { grep -E '^SUMMARY|ns/read|^# rcu_stress_count' <<<"$1" || true; } | tail -1 |
        sed 's|^SUMMARY [^ ]*/|SUMMARY |' | tr -s ' ' | cut -c1-160
}
# Two runs at a time (each in the background, its result line in a file
# named by its place in the list): the 12 stress runs alone take 10 s
# each, and the machine has 2 cores. Results print in list order.
jobs_dir=$work/results
rm -rf "$jobs_dir" && mkdir -p "$jobs_dir"
n_runs=0
run() { # name, binary, args...
    n_runs=$((n_runs + 1))
    while [ "$(jobs -rp | wc -l)" -ge "${LIBURCU_SUITE_JOBS:-2}" ]; do wait -n || true; done
    run_one "$jobs_dir/$(printf %03d $n_runs)" "$@" &
}
run_one() { # result file, name, binary, args...
    local file=$1 name=$2 bin=$3; shift 3
    local start=$SECONDS out rc=0
    if ! out=$(check_resolution "$bin"); then
        echo "FAIL  ${name}  (${out})" >"$file"; return
    fi
    out=$(cd "$(dirname "$bin")/.." && timeout 600 "$bin" "$@" 2>&1) || rc=$?
    if [ $rc -eq 0 ] && ! grep -q '^not ok' <<<"$out"; then
        echo "ok    ${name}  ($((SECONDS - start)) s)  $(summary_line "$out")" >"$file"
    else
        { echo "FAIL  ${name}  (rc $rc)"; echo "$out" | tail -20 | sed 's/^/      /'; } >"$file"
    fi
}

t=$src/tests
dur=1; [ $long = 1 ] && dur=30
readers=$(nproc)
for fl in membarrier qsbr mb bp; do
    for cb in callrcu_global callrcu_percpu callrcu_perthread; do
        run "rcutorture_urcu_$fl stress $cb" "$t/regression/.libs/rcutorture_urcu_$fl" "$readers" stress 1 "$cb"
        for mode in perf rperf uperf; do
            run "rcutorture_urcu_$fl $mode $cb" "$t/regression/.libs/rcutorture_urcu_$fl" "$readers" "$mode" 1 "$cb"
        done
    done
done
run "test_urcu_fork" "$t/regression/.libs/test_urcu_fork.tap"
for b in test_urcu test_urcu_dynamic_link test_urcu_qsbr test_urcu_qsbr_dynamic_link \
    test_urcu_gc test_urcu_qsbr_gc test_urcu_defer test_urcu_mb test_urcu_mb_gc test_urcu_mb_lgc \
    test_urcu_bp test_urcu_bp_dynamic_link; do
    run "$b" "$t/benchmark/.libs/$b" "$readers" 1 "$dur"
done
run "test_urcu_gc (batch 32)" "$t/benchmark/.libs/test_urcu_gc" "$readers" 1 "$dur" -b 32
run "test_urcu_qsbr_gc (batch 32)" "$t/benchmark/.libs/test_urcu_qsbr_gc" "$readers" 1 "$dur" -b 32
# test_urcu_hash on memb, mb and bp: liburcu builds it for QSBR only (its
# header includes <urcu-qsbr.h>). The same unmodified sources, compiled
# with the build tree's flags, with <urcu-qsbr.h> found first in a
# directory whose copy includes the flavour's header, whose definitions
# make the test's QSBR calls (quiescent state, offline, online) the no-ops
# they are on these flavours.
hash_bins=("$t/benchmark/.libs/test_urcu_hash")
for fl in memb mb bp; do
    case $fl in
        memb) inc='#define RCU_MEMB
#include <urcu.h>' lib=urcu-memb ;;
        mb) inc='#define RCU_MB
#include <urcu.h>' lib=urcu-mb ;;
        bp) inc='#include <urcu-bp.h>' lib=urcu-bp ;;
    esac
    dir=$work/hash-$fl
    mkdir -p "$dir/include" "$dir/bin"
    printf '%s\n' "/* rcu-capi: test_urcu_hash on the $fl flavour. */" "$inc" >"$dir/include/urcu-qsbr.h"
    cc -g -O2 -pthread -DHAVE_CONFIG_H -I"$dir/include" -I"$src/include" -include config.h \
        -I"$src/src" -I"$src/tests/common" "$t/benchmark/test_urcu_hash.c" \
        "$t/benchmark/test_urcu_hash_rw.c" "$t/benchmark/test_urcu_hash_unique.c" \
        -o "$dir/bin/test_urcu_hash" -L"$dropin/lib" -l$lib -lurcu-cds -lurcu-common
    hash_bins+=("$dir/bin/test_urcu_hash")
done
# rculfhash (Debian's liburcu-cds) on each of our flavours: runhash.sh's cases.
for hash in "${hash_bins[@]}"; do
    fl=qsbr; [[ $hash == $work/hash-* ]] && { fl=${hash#"$work"/hash-}; fl=${fl%%/*}; }
    run "test_urcu_hash $fl readers only" "$hash" 0 4 "$dur" -A -s -M 1 -N 1 -O 1
    run "test_urcu_hash $fl add/remove" "$hash" 2 2 "$dur" -A -M 1 -N 1 -O 1
    run "test_urcu_hash $fl add_unique" "$hash" 2 2 "$dur" -A -u
    for mm in order chunk mmap; do
        run "test_urcu_hash $fl auto-resize ($mm)" "$hash" 2 2 "$dur" -A -m 1 -n 1048576 -i \
            -M 100000000 -N 100000000 -O 100000000 -B "$mm"
    done
done
for u in test_urcu_multiflavor test_urcu_multiflavor_dynlink test_urcu_multiflavor_single_unit \
    test_urcu_multiflavor_single_unit_dynlink; do
    run "$u" "$t/unit/.libs/$u"
done

wait || true
for f in "$jobs_dir"/*; do
    cat "$f"
    case $(head -c 2 "$f") in ok) pass=$((pass + 1)) ;; *) fail=$((fail + 1)) ;; esac
done
[ "$pass" -eq "$n_runs" ] || [ "$fail" -gt 0 ] || { echo "$0: $n_runs runs, $pass results" >&2; fail=1; }
echo "liburcu $version suite on rcu-capi: $pass passed, $fail failed, ${SECONDS} s"
[ $fail -eq 0 ]
