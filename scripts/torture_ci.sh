#!/usr/bin/env bash
# The torture run for CI: each flavour in its own process, for
# RCU_TORTURE_SECS seconds (default 60), in release mode.
#
#   scripts/torture_ci.sh                       # 60 s per flavour
#   RCU_TORTURE_SECS=10 scripts/torture_ci.sh   # shorter
#   RCU_TORTURE_SEED=1234 scripts/torture_ci.sh # replay a seed
#
# The seed defaults to a fresh one per CI run (printed), so successive runs
# cover different random decisions; a failure prints the seed to replay.
# Cost on 2 cores: the release build (about a minute from scratch) plus
# 2 x RCU_TORTURE_SECS. The torture binary's own watchdog turns a hang into
# a report (exit 3) after RCU_TORTURE_WATCHDOG seconds (default 60);
# `timeout` is only a backstop should the watchdog itself be stuck.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${RCU_TORTURE_SECS:-60}"
watchdog="${RCU_TORTURE_WATCHDOG:-60}"
seed="${RCU_TORTURE_SEED:-$(( $(date +%s) % 1000000007 ))}"
backstop=$(( secs + 3 * watchdog + 60 ))

cargo build --release -p rcu-torture --bin rcu-torture
bin="${CARGO_TARGET_DIR:-target}/release/rcu-torture"

status=0
for flavour in memb qsbr; do
    echo "torture_ci.sh: $flavour for ${secs} s, seed $seed"
    if ! timeout --signal=KILL "$backstop" "$bin" --flavour "$flavour" --duration "$secs" \
            --watchdog "$watchdog" --seed "$seed"; then
        echo "torture_ci.sh: FAILED: $flavour (reproduce: $bin --flavour $flavour --duration $secs --seed $seed)"
        status=1
    fi
done
exit "$status"
