#!/usr/bin/env bash
# The torture run for CI: each flavour in its own process, for
# RCU_TORTURE_SECS seconds (default 60), in release mode, over the full set
# of retire paths (every path of `rcu-torture --list-paths` but the
# sabotage ones), with churn threads and the callback flood under its
# memory ceiling.
#
#   scripts/torture_ci.sh                       # 60 s per flavour
#   RCU_TORTURE_SECS=10 scripts/torture_ci.sh   # shorter
#   RCU_TORTURE_SEED=1234 scripts/torture_ci.sh # replay a seed
#   RCU_TORTURE_ARGS="--readers 4" scripts/torture_ci.sh
#
# The seed defaults to a fresh one per CI run (printed), so successive runs
# cover different random decisions. Every failure line names the flavour,
# the path and the seed (`FAIL [flavour=... path=... seed=...]`, also when
# the process dies of a signal), and the binary's last line says how to
# reproduce it. Cost on 2 cores: the release build (about a minute from
# scratch) plus 2 x RCU_TORTURE_SECS. The binary's own watchdog turns a hang
# into a report (exit 3) after RCU_TORTURE_WATCHDOG seconds (default 60);
# `timeout` is only a backstop should the watchdog itself be stuck.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${RCU_TORTURE_SECS:-60}"
watchdog="${RCU_TORTURE_WATCHDOG:-60}"
seed="${RCU_TORTURE_SEED:-$(( $(date +%s) % 1000000007 ))}"
read -r -a extra <<< "${RCU_TORTURE_ARGS:-}"
backstop=$(( secs + 3 * watchdog + 60 ))

cargo build --release -p rcu-torture --bin rcu-torture
bin="${CARGO_TARGET_DIR:-target}/release/rcu-torture"

status=0
for flavour in memb qsbr srcu; do
    cmd=("$bin" --flavour "$flavour" --duration "$secs" --watchdog "$watchdog" --seed "$seed" "${extra[@]}")
    echo "torture_ci.sh: ${cmd[*]}"
    if ! timeout --signal=KILL "$backstop" "${cmd[@]}"; then
        echo "torture_ci.sh: FAIL [flavour=$flavour path=(named in the lines above) seed=$seed] reproduce: ${cmd[*]}"
        status=1
    fi
done
exit "$status"
