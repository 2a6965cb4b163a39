#!/usr/bin/env bash
# liburcu 0.15's own example programs (Debian trixie's liburcu-dev:
# usr/share/doc/liburcu-dev/examples) and rcu-capi/examples/poll_flavours.c
# (4 flavours x function/inline ABI), built against liburcu 0.15's HEADERS
# and run on rcu-capi's drop-in flavour libraries.
#
#   scripts/liburcu-015-examples.sh DROPIN_OUTDIR   ours: DROPIN_OUTDIR/lib, as
#                                                  made by scripts/liburcu-dropin.sh
#   scripts/liburcu-015-examples.sh --reference    the genuine 0.15 libraries
#                                                  (proves the harness)
#
# Each example is built with its own Makefile (CPPFLAGS/LDFLAGS pointed at
# the 0.15 headers and the libraries under test), run with a timeout, and
# checked with the loader's --list (what ldd prints): every liburcu flavour
# library it needs (liburcu, -memb, -mb, -qsbr, -bp, -signal) must resolve
# into the directory under test; one that resolves elsewhere (Debian's 0.13
# in /usr/lib, or nowhere) is a FAIL. Examples that need no flavour library
# (wfcqueue, wfstack, lfstack) test nothing of ours: in ours-mode they are
# listed as skip and not counted.
#
# Which libc, liburcu-cds and liburcu-common:
#   Debian trixie's liburcu 0.15 binaries need glibc >= 2.38
#   (__isoc23_strtol); bookworm has 2.36. So both modes run every program
#   under trixie's glibc and its loader (unpacked privately by
#   scripts/liburcu-015.sh, never installed), and both use 0.15's
#   liburcu-cds and liburcu-common: the 0.15 headers' inline code and
#   declarations (e.g. _cds_lfht_new_with_alloc, cds_lfht_node_init_deleted)
#   are 0.15's, those two libraries need no flavour library (NEEDED: libc
#   only) and reach a flavour only through the rcu_flavor_struct pointer
#   the caller passes, reading fields 0.13's table has too. Ours-mode thus
#   differs from the reference run in the flavour libraries alone. Ours-mode
#   sees 0.15's cds/common through a directory of links to just those two
#   (target/liburcu-015/cds-common), never the genuine flavour libraries.
#
# Prints one ok/FAIL/skip line per program, then
#   liburcu 0.15 examples on rcu-capi: N passed, M failed, S s
# Exits 1 if any failed. Nothing of liburcu enters the repository; the
# builds live under target/liburcu-015/examples-{ours,reference}.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DROPIN_OUTDIR | --reference" >&2; exit 2; }
arg=$1
cd "$(dirname "$0")/.."
. scripts/lib.sh
repo=$(pwd)
work=$repo/target/liburcu-015
root=$(bash scripts/liburcu-015.sh)
stamp=$root/.unpacked
get() { sed -n "s/^$1=//p" "$stamp"; }
version=$(get version) incdir=$(get incdir) ref_lib=$(get libdir)
loader=$(get loader) glibc_lib=$(get glibc_libdir)
examples_src=$root/usr/share/doc/liburcu-dev/examples
[ -d "$examples_src" ] || { echo "$0: no examples in $examples_src" >&2; exit 1; }
for t in make cc; do command -v $t >/dev/null || { echo "$0: $t is missing" >&2; exit 1; }; done

if [ "$arg" = --reference ]; then
    mode=reference
    under_test=$ref_lib
    cds_dir=$ref_lib
    label="liburcu $version (reference)"
else
    mode=ours
    d=$(cd "$arg" 2>/dev/null && pwd) || { echo "$0: no directory $arg" >&2; exit 1; }
    if [ -e "$d/lib/liburcu.so.8" ]; then under_test=$d/lib
    elif [ -e "$d/liburcu.so.8" ]; then under_test=$d # the lib directory itself
    else echo "$0: no liburcu.so.8 in $d/lib: run scripts/liburcu-dropin.sh $arg first" >&2; exit 1
    fi
    cds_dir=$work/cds-common
    mkdir -p "$cds_dir"
    for l in liburcu-cds liburcu-common; do
        ln -sfn "$ref_lib/$l.so.8" "$cds_dir/$l.so.8"
        ln -sfn "$l.so.8" "$cds_dir/$l.so"
    done
    label="rcu-capi"
fi
out=$work/examples-$mode
rm -rf "$out" && mkdir -p "$out"
cp -r "$examples_src" "$out/src"
libpath=$under_test:$cds_dir:$glibc_lib
# The 0.15 libraries' glibc 2.38 symbols resolve at run time (trixie's libc).
ldflags="-L$under_test -L$cds_dir -Wl,--allow-shlib-undefined"
cppflags="-I$incdir"
# The 0.15 headers, not the system's 0.13 ones, must be the ones included.
printf '#include <urcu/config.h>\n#ifndef CONFIG_RCU_EMIT_LEGACY_MB\n#error 0.13 headers\n#endif\n' |
    cc $cppflags -E -x c - >/dev/null 2>&1 || { echo "$0: $incdir does not give 0.15's urcu/config.h" >&2; exit 1; }

listing() { "$loader" --library-path "$libpath" --list "$1" 2>&1; }
# Every flavour library must come from $1 (the directory under test).
check_resolution() { # dir binary
    local dir=$1 bin=$2 line libs rc=0
    libs=$(listing "$bin") || { echo "loader --list failed: $(tail -1 <<<"$libs")"; return 1; }
    line=$(resolve_check "$dir" "$URCU_FLAVOURS_SIGNAL" "$libs") || rc=$?
    case $rc in
        1) echo "not under test: $line"; return 1 ;;
        2) echo "needs no flavour library"; return 2 ;;
    esac
}

start=$SECONDS pass=0 fail=0 skip=0 selftest_bin=
result() { # status name detail
    printf '%-5s %-44s %s\n' "$1" "$2" "$3"
    case $1 in ok) pass=$((pass + 1)) ;; FAIL) fail=$((fail + 1)) ;; skip) skip=$((skip + 1)) ;; esac
}
run_one() { # name binary
    local name=$1 bin=$2 why rc=0 t0=$SECONDS log=$out/log/${1//\//_}.run
    mkdir -p "$out/log"
    why=$(check_resolution "$under_test" "$bin") || rc=$?
    if [ $rc = 2 ]; then
        if [ $mode = ours ]; then result skip "$name" "(uses none of our libraries)"; return; fi
    elif [ $rc != 0 ]; then
        result FAIL "$name" "($why)"; return
    fi
    [ -n "$selftest_bin" ] || { [ $rc = 0 ] && selftest_bin=$bin; }
    rc=0
    (cd "$(dirname "$bin")" && timeout 120 "$loader" --library-path "$libpath" "$bin") >"$log" 2>&1 || rc=$?
    if [ $rc = 0 ]; then
        result ok "$name" "($((SECONDS - t0)) s)"
    else
        result FAIL "$name" "(exit $rc$([ $rc = 124 ] && echo ', timeout'): $(grep -v '^$' "$log" | tail -1 | cut -c1-110))"
    fi
}

echo "liburcu 0.15 examples: headers $incdir"
echo "  flavour libraries under test: $under_test"
echo "  liburcu-cds/-common: $cds_dir (0.15); libc: trixie's glibc $(get glibc) via $loader"

# liburcu's examples, each with its own Makefile.
for dir in "$out"/src/*/; do
    sub=$(basename "$dir")
    for mk in "$dir"Makefile.*; do
        [ -e "$mk" ] || continue
        ex=${mk##*/Makefile.}
        name=$sub/$ex
        blog=$out/log/${sub}_$ex.build
        mkdir -p "$out/log"
        bin=$(sed -n 's/^BINARY *= *//p' "$mk" | sed "s/\$(EXAMPLE_NAME)/$ex/")
        if ! make -C "$dir" -f "Makefile.$ex" CC=cc CPPFLAGS="$cppflags" LDFLAGS="$ldflags" \
            AM_V_P=false >"$blog" 2>&1 || [ ! -x "$dir$bin" ]; then
            result FAIL "$name" "(build: $(grep -E 'error|undefined|cannot find' "$blog" | head -1 | sed 's/^.*: //' | cut -c1-100))"
            continue
        fi
        run_one "$name" "$dir$bin"
    done
done

# rcu-capi's poll_flavours.c: the polled grace-period calls, 4 flavours x 2 ABIs.
mkdir -p "$out/poll"
for flavour in memb mb qsbr bp; do
    for abi in function inline; do
        name=poll_flavours/${flavour}_$abi
        bin=$out/poll/poll_flavours_${flavour}_$abi
        flags=(-O2 -Wall -Wextra -Werror "-DFLAVOUR_${flavour^^}")
        [ $abi = inline ] && flags+=(-D_LGPL_SOURCE)
        blog=$out/log/poll_${flavour}_$abi.build
        # shellcheck disable=SC2086
        if ! cc "${flags[@]}" $cppflags "$repo/rcu-capi/examples/poll_flavours.c" -o "$bin" \
            $ldflags "-lurcu-$flavour" -lpthread >"$blog" 2>&1; then
            result FAIL "$name" "(build: $(grep -E 'error|undefined|cannot find' "$blog" | head -1 | sed 's/^.*: //' | cut -c1-100))"
            continue
        fi
        run_one "$name" "$bin"
    done
done

# The resolution check must be able to fail: a binary that passed it must
# be refused when its libraries come from elsewhere.
if [ -n "$selftest_bin" ]; then
    other=/usr/lib/x86_64-linux-gnu
    [ $mode = ours ] && other=$ref_lib
    if (libpath=$other:$cds_dir:$glibc_lib check_resolution "$under_test" "$selftest_bin" >/dev/null); then
        echo "$0: the resolution check accepted $selftest_bin with $other's libraries" >&2
        exit 1
    fi
fi
[ $mode = ours ] && [ $skip -gt 0 ] && echo "($skip skipped: they need no flavour library)"
echo "liburcu 0.15 examples on $label: $pass passed, $fail failed, $((SECONDS - start)) s"
[ $fail = 0 ]
