#!/usr/bin/env bash
# Builds rcu-capi and lays it out as liburcu's flavour libraries (0.13's
# sonames, 0.13 to 0.15's names):
#
#   OUTDIR/lib/liburcu.so.8       memb (liburcu's default flavour)
#   OUTDIR/lib/liburcu-memb.so.8  memb
#   OUTDIR/lib/liburcu-qsbr.so.8  QSBR
#   OUTDIR/lib/liburcu-mb.so.8    mb (readers fence themselves)
#   OUTDIR/lib/liburcu-bp.so.8    bp (threads register on first use)
#   OUTDIR/lib/liburcu{,-memb,-qsbr,-mb,-bp}.so -> the .so.8 (for -l at link time)
#
# with Debian liburcu8's sonames, each exporting exactly liburcu's names for
# its flavour (a version script; rustc's cdylib would hide the TLS records
# defined in C). liburcu-common and liburcu-cds stay Debian's.
# Use: LD_LIBRARY_PATH=OUTDIR/lib ./program   (or -L OUTDIR/lib -lurcu-memb
# -Wl,-rpath,OUTDIR/lib, so that the program finds ours without it).
#
# Usage: scripts/liburcu-dropin.sh OUTDIR   (a relative OUTDIR is taken
# from the caller's directory)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
out=$(mkdir -p "$1/lib" && cd "$1" && pwd)
lib=$out/lib
cd "$(dirname "$0")/.."

cargo build --release -p rcu-capi --quiet
target=${CARGO_TARGET_DIR:-target}
archive=$target/release/librcu_capi.a
[ -f "$archive" ] || { echo "$0: $archive was not built" >&2; exit 1; }

common="rcu_dereference_sym rcu_set_pointer_sym rcu_xchg_pointer_sym rcu_cmpxchg_pointer_sym
compat_futex_async compat_futex_noasync"
flavour_calls="register_thread unregister_thread synchronize_rcu read_lock read_unlock read_ongoing
call_rcu barrier defer_rcu defer_barrier defer_barrier_thread defer_register_thread
defer_unregister_thread defer_exit create_call_rcu_data call_rcu_data_free get_default_call_rcu_data
get_cpu_call_rcu_data set_cpu_call_rcu_data get_thread_call_rcu_data set_thread_call_rcu_data
get_call_rcu_data create_all_cpu_call_rcu_data free_all_cpu_call_rcu_data get_call_rcu_thread
call_rcu_before_fork call_rcu_after_fork_parent call_rcu_after_fork_child
register_rculfhash_atfork unregister_rculfhash_atfork flavor gp reader
start_poll_synchronize_rcu poll_state_synchronize_rcu"
memb_only="urcu_memb_init urcu_memb_exit urcu_memb_has_sys_membarrier"
mb_only="urcu_mb_init urcu_mb_exit"
qsbr_only="urcu_qsbr_quiescent_state urcu_qsbr_thread_offline urcu_qsbr_thread_online urcu_qsbr_exit"
bp_only="urcu_bp_register urcu_bp_has_sys_membarrier urcu_bp_before_fork urcu_bp_after_fork_parent
urcu_bp_after_fork_child urcu_bp_dereference_sym urcu_bp_set_pointer_sym urcu_bp_xchg_pointer_sym
urcu_bp_cmpxchg_pointer_sym"

names() { # flavour prefix, extra names
    local p=$1; shift
    for c in $flavour_calls; do echo "${p}_$c"; done
    for n in $common "$@"; do echo "$n"; done
}

link() { # file soname prefix extra-names...
    local file=$1 soname=$2 prefix=$3; shift 3
    local map undefs=()
    map=$(mktemp)
    { echo "{ global:"; names "$prefix" "$@" | sed 's/$/;/'; echo "local: *; };"; } >"$map"
    while read -r n; do undefs+=("-Wl,--undefined=$n"); done < <(names "$prefix" "$@")
    # The archive's native dependencies, as rustc reports them for a staticlib.
    cc -shared -o "$lib/$file" -Wl,-soname,"$soname" "${undefs[@]}" \
        "$archive" -Wl,--version-script="$map" -Wl,--gc-sections -Wl,-z,now \
        -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
    rm -f "$map"
    ln -sf "$file" "$lib/${soname%.8}"
}

link liburcu.so.8 liburcu.so.8 urcu_memb $memb_only
link liburcu-memb.so.8 liburcu-memb.so.8 urcu_memb $memb_only
link liburcu-qsbr.so.8 liburcu-qsbr.so.8 urcu_qsbr $qsbr_only
link liburcu-mb.so.8 liburcu-mb.so.8 urcu_mb $mb_only
link liburcu-bp.so.8 liburcu-bp.so.8 urcu_bp $bp_only

# Every library exports what its liburcu counterpart's callers need.
for f in liburcu.so.8 liburcu-memb.so.8 liburcu-qsbr.so.8 liburcu-mb.so.8 liburcu-bp.so.8; do
    nm -D --defined-only "$lib/$f" | grep -q ' urcu_' || { echo "$0: $f exports nothing" >&2; exit 1; }
done
echo "liburcu drop-in libraries in $lib"
