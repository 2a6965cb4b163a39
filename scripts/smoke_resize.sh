#!/usr/bin/env bash
# Smoke test of the descriptor-table resize stress, for .ci/run:
#
#  1. a small configuration (512 resizes, both flavours, every strategy),
#     which verifies lookups, early frees and leaks and exits non-zero on any,
#     and the same for call-rcu with injected wrapper-allocation failures;
#  2. the same binary under valgrind memcheck on a tiny configuration: no
#     invalid read or write (a reader touching a freed array), no definite
#     leak. Valgrind runs one thread at a time, so the configuration is small
#     (one reader, 600 resizes; about 10-30 s) and the resizer yields after
#     every resize so that the reader runs, and is switched out inside its
#     read-side sections, between resizes: with the grace period removed from
#     sync, or call_rcu_raw replaced by an immediate free, this run reports
#     invalid reads and early frees. Every 5th call-rcu wrapper allocation
#     fails, so the fallback's frees are checked too.
#
# Installs valgrind with apt-get if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --example resize_stress
bin=target/release/examples/resize_stress

echo "--- resize_stress: 512 resizes, both flavours, every strategy"
"$bin" --resizes 512

echo "--- resize_stress: call-rcu with every 7th wrapper allocation failing (fallback path)"
"$bin" --resizes 512 --strategies call-rcu --fail-wrapper-every 7

if ! command -v valgrind >/dev/null 2>&1; then
    echo "--- installing valgrind"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi

echo "--- resize_stress under valgrind memcheck (small configuration)"
# --fair-sched=yes: spinning readers and a waiting resizer take turns
# instead of one starving the other under valgrind's big lock.
# --errors-for-leak-kinds=definite: a definite leak fails the run; memory
# still reachable at exit (the flavours' static engines, the reclaim
# thread's state) does not.
timeout 240 valgrind --quiet --error-exitcode=1 --fair-sched=yes \
    --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    "$bin" --resizes 600 --readers 1 --section-len 4 --qs-interval 64 --yield-every 1 --fail-wrapper-every 5
