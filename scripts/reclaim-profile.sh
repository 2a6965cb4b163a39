#!/usr/bin/env bash
# reclaim-profile.sh [KIND ...]: where a kvfree_rcu flood spends its time,
# per thread role (issue 30).
#
# Runs `rcu-bench kvfree-flood`'s 2-thread x 2,000,000-object flood of
# each KIND (plain, memb, qsbr, srcu; default: memb qsbr srcu) in one
# process under
# `perf record -e cpu-clock -g` (a software event: no hardware counters
# needed), then prints the top symbols per thread name: `flood-N` are the
# producer threads (named by rcu-bench), `rcu-<flavour>-reclaim` the reclaim
# thread (named by rcu-core; the kernel cuts names to 15 characters:
# `rcu-memb-reclai`), `rcu-bench` the main thread (its rcu_barrier).
# Needs perf and a release build (`cargo build --release -p rcu-bench`).
set -euo pipefail
cd "$(dirname "$0")/.."

kinds=("$@")
((${#kinds[@]})) || kinds=(memb qsbr srcu)
objects=${OBJECTS:-2000000}
top=${TOP:-12}
bin=target/release/rcu-bench
out=target/reclaim-profile
mkdir -p "$out"
cargo build -q --release -p rcu-bench

for kind in "${kinds[@]}"; do
    data=$out/$kind.perf.data
    perf record -q -e cpu-clock -g -o "$data" -- \
        "$bin" kvfree-flood-one --kind "$kind" --threads 2 --objects "$objects"
    echo "== $kind: share of all samples per thread name"
    perf report -i "$data" --stdio --no-children --sort comm -g none 2>/dev/null | awk '!/^#/ && NF'
    echo "== $kind: share of all samples, per thread name and symbol (top $top per thread)"
    perf report -i "$data" --stdio --no-children --sort comm,sym -g none 2>/dev/null |
        awk -v top="$top" '/^#/ || NF == 0 { next }
            { comm = $2; if (++seen[comm] <= top) print }'
done
