#!/usr/bin/env bash
# Builds rcu-capi's C examples (rcu-capi/examples/config_reload.c,
# barrier_bench.c (rcu_barrier returns after every earlier callback), and
# lfht_stress.c: Debian's rculfhash on our grace periods) against liburcu's
# headers, eight ways each (memb, mb, QSBR and bp; function ABI and, with
# _LGPL_SOURCE, inline ABI), and runs each on scripts/liburcu-dropin.sh's
# libraries, checking with ldd that they, not Debian's liburcu, are used.
# Needs liburcu-dev's headers (installed here if missing).
# Usage: scripts/c_example.sh [OUTDIR]   (default target/c-example)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
out=${1:-target/c-example}
mkdir -p "$out"
out=$(cd "$out" && pwd)
if ! dpkg -s liburcu-dev >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq liburcu-dev >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq liburcu-dev >/dev/null; fi
fi
bash scripts/liburcu-dropin.sh "$out/dropin" >/dev/null
lib=$out/dropin/lib
for prog in config_reload lfht_stress barrier_bench; do
    extra=()
    [ $prog = lfht_stress ] && extra=(-lurcu-cds)
    for abi in function inline; do
        for flavour in memb mb qsbr bp; do
            flags=(-O2 -Wall -Wextra -Werror)
            [ $abi = inline ] && flags+=(-D_LGPL_SOURCE)
            [ $flavour = memb ] || flags+=("-DUSE_${flavour^^}")
            bin=$out/${prog}_${flavour}_$abi
            cc "${flags[@]}" "rcu-capi/examples/$prog.c" -o "$bin" -L"$lib" -lurcu-$flavour "${extra[@]}" -lpthread
            libs=$(LD_LIBRARY_PATH=$lib ldd "$bin")
            resolve_check "$lib" "liburcu-$flavour" "$libs" >/dev/null ||
                { echo "$bin does not use rcu-capi:"; echo "$libs"; exit 1; } >&2
            LD_LIBRARY_PATH=$lib timeout 120 "$bin"
        done
    done
done
