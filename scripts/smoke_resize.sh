#!/usr/bin/env bash
# Smoke test of the descriptor-table resize stress, for .ci/run
# (`bash scripts/smoke_resize.sh`; about a minute on the 2-core CI machine
# once the release build is cached).
#
#  1. Natively: a small configuration (512 resizes, both flavours, every
#     strategy: sync, call-rcu, kvfree, leak), which verifies lookups, early
#     frees and leaks and exits non-zero on any; then call-rcu with injected
#     wrapper-allocation failures (its synchronize-then-free fallback), and
#     kvfree with no block to be had (kvfree_rcu's emergency path:
#     synchronize, then free inline).
#  2. Under valgrind memcheck: no invalid read or write (a reader touching a
#     freed array), no definite leak. Valgrind runs one thread at a time, so
#     the configurations are small (one reader) and the resizer yields after
#     every resize so that the reader runs, and is switched out inside its
#     read-side sections, between resizes.
#       a. every strategy on both flavours, 600 resizes, 1 in 5 call-rcu
#          wrapper allocations failing. kvfree blocks are sealed by the drain
#          timer here (valgrind is slow), taken from the live resizer;
#       b. kvfree with a 60 s drain interval and 1,536 resizes, so blocks
#          fill up and are sealed full (512 arrays each), the last one by
#          rcu_barrier;
#       c. kvfree with no block to be had (the emergency path), 300 resizes.
#     With the grace period removed from sync, call_rcu_raw replaced by an
#     immediate free, or kvfree_rcu replaced by an immediate drop, these runs
#     report invalid reads and the binary reports early frees.
#
# Installs valgrind with apt-get if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --example resize_stress
bin=target/release/examples/resize_stress

# Runs the stress; fails unless it exits 0 and its last line is the PASS
# verdict.
expect_pass() {
    local out
    out=$("$bin" "$@")
    printf '%s\n' "$out"
    if [[ "$(tail -n 1 <<<"$out")" != PASS:* ]]; then
        echo "resize_stress $*: the last line is not a PASS verdict" >&2
        return 1
    fi
}

echo "--- resize_stress: 512 resizes, both flavours, every strategy"
expect_pass --resizes 512

echo "--- resize_stress: call-rcu with 1 in 7 wrapper allocations failing (fallback path)"
expect_pass --resizes 512 --strategies call-rcu --fail-wrapper-every 7

echo "--- resize_stress: kvfree with no block to be had (emergency path)"
expect_pass --resizes 512 --strategies kvfree --fail-kvfree-blocks

echo "--- resize_stress: an injected early free must end in FAIL and a non-zero exit"
if out=$("$bin" --resizes 64 --flavours memb --strategies leak --inject-failure 2>&1); then
    echo "resize_stress --inject-failure exited 0" >&2
    exit 1
fi
if [[ "$(tail -n 1 <<<"$out")" != FAIL:* ]]; then
    printf '%s\n' "$out"
    echo "resize_stress --inject-failure: the last line is not a FAIL verdict" >&2
    exit 1
fi

if ! command -v valgrind >/dev/null 2>&1; then
    echo "--- installing valgrind"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi

# --fair-sched=yes: spinning readers and a waiting resizer take turns
# instead of one starving the other under valgrind's big lock.
# --errors-for-leak-kinds=definite: a definite leak fails the run; memory
# still reachable at exit (the flavours' static engines, the reclaim
# thread's state) does not.
memcheck() {
    timeout 240 valgrind --quiet --error-exitcode=1 --fair-sched=yes \
        --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
        "$bin" --readers 1 --section-len 4 --qs-interval 64 --yield-every 1 "$@"
}

echo "--- memcheck: every strategy, 600 resizes"
memcheck --resizes 600 --fail-wrapper-every 5

echo "--- memcheck: kvfree, full blocks (1,536 resizes, 60 s drain interval)"
memcheck --resizes 1536 --strategies kvfree --kvfree-drain-ms 60000

echo "--- memcheck: kvfree emergency path (no block to be had), 300 resizes"
memcheck --resizes 300 --strategies kvfree --fail-kvfree-blocks

echo "--- resize_stress smoke test passed"
