#!/usr/bin/env bash
# liburcu 0.15's own regression tests, unit tests and benchmarks,
# unmodified, on rcu-capi's drop-in flavour libraries. An outside-CI one-off.
#
#   scripts/liburcu-015-upstream.sh --reference     the libraries upstream's
#                                                  build made itself (proves
#                                                  the harness)
#   scripts/liburcu-015-upstream.sh DROPIN_OUTDIR   ours: DROPIN_OUTDIR/lib
#                                                  (scripts/liburcu-dropin.sh)
#
# The source: liburcu's git tag $LIBURCU_TAG (default v0.15.2, the version of
# Debian trixie's liburcu8t64) exported with `git archive` from a local
# clone of liburcu's repository, $LIBURCU_GIT (a bare git directory);
# without one, Debian trixie's source package (downloaded with
# scripts/liburcu-015.sh's private apt configuration, deb-src added there).
# Built with its own build system (./bootstrap, ./configure, make, make
# check TESTS=) under target/liburcu-015/upstream; nothing is committed.
#
# Each test binary is run directly from its .libs/ (libtool's wrapper would
# put the build tree's own libraries first) with LD_LIBRARY_PATH = the
# flavour libraries under test, then a directory holding links to the
# build's liburcu-cds and liburcu-common only (0.15's, as the tests'
# headers are 0.15's; our drop-in provides the flavour libraries only).
# `ldd` must show every flavour library (liburcu, -memb, -mb, -qsbr, -bp)
# resolved into the directory under test, else the test is a FAIL; the
# check must refuse a binary run on Debian's system liburcu, or the script
# stops. Programs that need no flavour library (test_uatomic, the queues and
# stacks of liburcu-common) are skipped in ours-mode.
#
# Runs: rcutorture for every flavour (membarrier, mb, qsbr, bp; C and C++)
# in stress/perf/rperf/uperf mode with each call_rcu data placement (0.15's
# stress writer also waits with start_poll/poll_state_synchronize_rcu),
# test_urcu_fork, the unit tests (multiflavor, build, arch), and the
# benchmarks' test_urcu* (1 s each, $(nproc) readers) including
# test_urcu_hash's runhash.sh cases on QSBR. Not run: the wait-free
# queue/stack benchmarks (test_urcu_wfq/wfs/wfcq: liburcu-common only, not
# in upstream's own regtest either; 0.15.2's test_urcu_wfs exits 1 on
# upstream's own build: its enqueuer loop indexes tid_enqueuer[i], not [i_thr]).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 --reference | DROPIN_OUTDIR" >&2; exit 2; }
arg=$1
cd "$(dirname "$0")/.."
. scripts/lib.sh
repo=$(pwd)
work=$repo/target/liburcu-015/upstream
tag=${LIBURCU_TAG:-v0.15.2}
git_dir=${LIBURCU_GIT:-/work/.mirror/urcu+userspace-rcu/repo}
src=$work/userspace-rcu-${tag#v}
mkdir -p "$work"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need_pkgs=()
for p in autoconf automake libtool make gcc g++ dpkg-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
    as_root apt-get update -qq >&2
    as_root apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

export_source() {
    rm -rf "$src" && mkdir -p "$src"
    if git --git-dir="$git_dir" rev-parse -q --verify "$tag^{commit}" >/dev/null 2>&1; then
        echo "liburcu-015-upstream: $tag from $git_dir" >&2
        git --git-dir="$git_dir" archive --format=tar "$tag" | tar -x -C "$src"
        return
    fi
    # No clone: Debian trixie's source package of the same version.
    echo "liburcu-015-upstream: no $tag in $git_dir; Debian trixie's source package" >&2
    bash scripts/liburcu-015.sh >/dev/null
    local apt=$repo/target/liburcu-015/apt srcapt=$repo/target/liburcu-015/apt-src
    mkdir -p "$srcapt/lists/partial" "$srcapt/cache/archives/partial" "$srcapt/dl"
    sed 's/^deb /deb-src /; s/arch=[^ ]* //' "$apt/etc/sources.list" >"$srcapt/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$srcapt/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$srcapt/lists" -o "Dir::State::status=$apt/state/status"
        -o "Dir::Cache=$srcapt/cache" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
        -o Debug::NoLocking=true -o APT::Sandbox::User=root -o Acquire::Languages=none)
    apt-get "${opts[@]}" update -qq >&2
    local v=${tag#v}
    (cd "$srcapt/dl" && apt-get "${opts[@]}" source --download-only -qq "liburcu=$v-*" >&2 ||
        apt-get "${opts[@]}" source --download-only -qq liburcu >&2)
    local dsc
    dsc=$(ls "$srcapt/dl"/liburcu_*.dsc | head -1)
    rm -rf "$src" && dpkg-source -x --skip-patches "$dsc" "$src" >/dev/null
}

if [ ! -x "$src/tests/regression/.libs/rcutorture_urcu_bp" ] ||
    [ ! -x "$src/tests/unit/.libs/test_urcu_multiflavor" ]; then
    export_source
    echo "liburcu-015-upstream: building $tag and its tests with its own build system (a few minutes)" >&2
    (cd "$src" && ./bootstrap >"$work/bootstrap.log" 2>&1 && ./configure -q >"$work/configure.log" 2>&1 &&
        make -j"$(nproc)" -s >"$work/make.log" 2>&1 &&
        make -j"$(nproc)" -s check TESTS= >>"$work/make.log" 2>&1) ||
        { echo "$0: the build failed; see $work/*.log" >&2; tail -20 "$work/make.log" >&2 || true; exit 1; }
fi
built_libs=$src/src/.libs
[ -e "$built_libs/liburcu-bp.so.8" ] || { echo "$0: no $built_libs/liburcu-bp.so.8" >&2; exit 1; }

if [ "$arg" = --reference ]; then
    mode=reference under_test=$built_libs cds_dir=$built_libs
    label="liburcu ${tag#v} (upstream's own build)"
else
    mode=ours
    d=$(cd "$arg" 2>/dev/null && pwd) || { echo "$0: no directory $arg" >&2; exit 1; }
    if [ -e "$d/lib/liburcu.so.8" ]; then under_test=$d/lib
    elif [ -e "$d/liburcu.so.8" ]; then under_test=$d
    else echo "$0: no liburcu.so.8 in $d/lib: run scripts/liburcu-dropin.sh $arg first" >&2; exit 1
    fi
    cds_dir=$work/cds-common
    mkdir -p "$cds_dir"
    for l in liburcu-cds liburcu-common; do ln -sfn "$built_libs/$l.so.8" "$cds_dir/$l.so.8"; done
    label=rcu-capi
fi
export LD_LIBRARY_PATH=$under_test:$cds_dir

# 0: every flavour library from $under_test and cds/common from $cds_dir;
# 2: the binary needs no flavour library; 1 (message): anything else.
check_resolution() {
    local bin=$1 line libs rc=0
    libs=$(ldd "$bin" 2>&1) || { echo "ldd failed"; return 1; }
    line=$(resolve_check "$under_test" "$URCU_FLAVOURS_SIGNAL" "$libs") || rc=$?
    [ $rc != 1 ] || { echo "not under test: $line"; return 1; }
    local found=$rc
    rc=0
    line=$(resolve_check "$cds_dir" 'liburcu-(cds|common)' "$libs") || rc=$?
    [ $rc != 1 ] || { echo "not 0.15's: $line"; return 1; }
    [ "$found" = 0 ] || { echo "needs no flavour library"; return 2; }
}
t=$src/tests
probe=$t/regression/.libs/rcutorture_urcu_bp
if (LD_LIBRARY_PATH='' check_resolution "$probe" >/dev/null); then
    echo "$0: the resolution check accepts $probe on the system's liburcu; refusing to run" >&2
    exit 1
fi

pass=0 fail=0 skip=0 start_all=$SECONDS
mkdir -p "$work/logs-$mode"
summary_line() {
    { grep -E '^SUMMARY|ns/read|rcu_stress_count|^# (Totals|n_reads)' <<<"$1" || true; } | tail -1 |
        sed 's|^SUMMARY [^ ]*/|SUMMARY |' | tr -s ' ' | cut -c1-110
}
run() { # name binary args...
    local name=$1 bin=$2; shift 2
    local t0=$SECONDS out rc=0 why
    # libtool makes no .libs/ copy of a program that links no libtool library.
    [ -e "$bin" ] || { [ "$(head -c4 "${bin/\/.libs\///}" 2>/dev/null)" = $'\x7fELF' ] && bin=${bin/\/.libs\///}; }
    why=$(check_resolution "$bin") || rc=$?
    if [ $rc = 2 ] && [ $mode = ours ]; then
        skip=$((skip + 1)); printf 'skip  %s  (uses none of our libraries)\n' "$name"; return
    elif [ $rc = 1 ]; then
        fail=$((fail + 1)); printf 'FAIL  %s  (%s)\n' "$name" "$why"; return
    fi
    rc=0
    out=$(cd "$(dirname "$bin")/.." && timeout 300 "$bin" "$@" 2>&1) || rc=$?
    printf '%s\n' "$out" >"$work/logs-$mode/$(tr ' /' '__' <<<"$name").log"
    if [ $rc -eq 0 ] && ! grep -q '^not ok' <<<"$out"; then
        pass=$((pass + 1)); printf 'ok    %s  (%s s)  %s\n' "$name" $((SECONDS - t0)) "$(summary_line "$out")"
    else
        fail=$((fail + 1))
        printf 'FAIL  %s  (rc %s%s)  %s\n' "$name" $rc "$([ $rc = 124 ] && echo ', timeout')" \
            "$({ grep -E '^not ok|rror|ssert|bort' <<<"$out" || tail -1 <<<"$out"; } | head -1 | cut -c1-100)"
    fi
}

echo "liburcu ${tag#v} tests: flavour libraries under test $under_test; cds/common $cds_dir"
readers=$(nproc)
for fl in membarrier mb qsbr bp; do
    for lang in "" _cxx; do
        for mode_ in stress perf rperf uperf; do
            for cb in callrcu_global callrcu_percpu callrcu_perthread; do
                run "rcutorture_urcu_$fl$lang $mode_ $cb" "$t/regression/.libs/rcutorture_urcu_$fl$lang" \
                    "$readers" "$mode_" 1 "$cb"
            done
        done
    done
done
run test_urcu_fork "$t/regression/.libs/test_urcu_fork.tap"
run test_urcu_fork_cxx "$t/regression/.libs/test_urcu_fork_cxx.tap"
for u in test_urcu_multiflavor test_urcu_multiflavor_dynlink test_urcu_multiflavor_single_unit \
    test_urcu_multiflavor_single_unit_dynlink test_build test_build_dynlink test_arch test_uatomic; do
    for lang in "" _cxx; do
        run "$u$lang" "$t/unit/.libs/$u$lang"
    done
done
for b in test_urcu test_urcu_dynamic_link test_urcu_qsbr test_urcu_qsbr_dynamic_link test_urcu_gc \
    test_urcu_lgc test_urcu_qsbr_gc test_urcu_qsbr_lgc test_urcu_defer test_urcu_mb test_urcu_mb_gc \
    test_urcu_mb_lgc test_urcu_bp test_urcu_bp_dynamic_link test_urcu_assign \
    test_urcu_assign_dynamic_link test_urcu_lfq test_urcu_lfq_dynlink test_urcu_lfs \
    test_urcu_lfs_dynlink test_urcu_lfs_rcu test_urcu_lfs_rcu_dynlink; do
    run "$b" "$t/benchmark/.libs/$b" "$readers" 1 1
done
run "test_urcu_gc -b 32" "$t/benchmark/.libs/test_urcu_gc" "$readers" 1 1 -b 32
run "test_urcu_qsbr_gc -b 32" "$t/benchmark/.libs/test_urcu_qsbr_gc" "$readers" 1 1 -b 32
h=$t/benchmark/.libs/test_urcu_hash
run "test_urcu_hash readers only" "$h" 0 4 1 -A -s -M 1 -N 1 -O 1
run "test_urcu_hash add/remove" "$h" 2 2 1 -A -M 1 -N 1 -O 1
run "test_urcu_hash add_unique" "$h" 2 2 1 -A -u
run "test_urcu_hash add_replace" "$h" 2 2 1 -A -s
for mm in order chunk mmap; do
    run "test_urcu_hash auto-resize ($mm)" "$h" 2 2 1 -A -m 1 -n 1048576 -i \
        -M 100000000 -N 100000000 -O 100000000 -B "$mm"
done
run "test_urcu_hash small, -R 0 -T 0 -S 10 -k 10" "$h" 2 2 1 -A -M 10 -N 10 -O 10 -R 0 -T 0 -S 10 -k 10 -s

[ $mode = ours ] && [ $skip -gt 0 ] && echo "($skip skipped: they need no flavour library)"
echo "liburcu ${tag#v} upstream tests on $label: $pass passed, $fail failed, $((SECONDS - start_all)) s"
[ $fail -eq 0 ]
