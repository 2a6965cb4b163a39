#!/usr/bin/env bash
# Runs the workspace tests under AddressSanitizer with the nightly toolchain.
#
#   scripts/sanitize.sh            # all workspace tests (unit + integration)
#   scripts/sanitize.sh -p rcu-torture --test torture   # extra args go to cargo test
#
# Skips (exit 0, with a message) when no nightly toolchain is installed.
# With nightly's rust-src component, std is rebuilt instrumented
# (-Zbuild-std); without it, only the workspace's code is instrumented, and
# ASan still checks every allocation and free (its allocator replaces
# malloc), which is what catches an RCU use-after-free or double free.
#
# Leak detection is off by default: tests and torture runs leak fixtures on
# purpose (Box::leak for 'static data), and the torture test does its own
# leak accounting (tokens created == dropped). SANITIZE_LEAKS=1 turns
# LeakSanitizer on. Doc tests are not run (they would need
# -Zdoctest-xcompile with an explicit --target).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v rustup >/dev/null 2>&1 || ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "sanitize.sh: SKIPPED: no nightly toolchain installed (rustup toolchain install nightly)"
    exit 0
fi

target="$(rustup run nightly rustc -vV | sed -n 's/^host: //p')"
build_std=()
if rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src'; then
    build_std=(-Zbuild-std)
    echo "sanitize.sh: nightly with rust-src: std is instrumented too (-Zbuild-std)"
else
    echo "sanitize.sh: nightly without rust-src: std is not instrumented (rustup component add rust-src --toolchain nightly to change that)"
fi

leaks=0
if [[ "${SANITIZE_LEAKS:-0}" == "1" ]]; then
    leaks=1
fi

export RUSTFLAGS="-Zsanitizer=address ${RUSTFLAGS:-}"
# ASan keeps freed memory in a quarantine (256 MiB by default) to catch
# late uses; the torture's memory-ceiling check (baseline + 64 MiB) cannot
# tell that from an unbounded backlog, so the quarantine is capped below it.
export ASAN_OPTIONS="detect_leaks=${leaks}:abort_on_error=0:halt_on_error=1:quarantine_size_mb=32:${ASAN_OPTIONS:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/asan"

args=("$@")
if [[ ${#args[@]} -eq 0 ]]; then
    args=(--workspace --lib --bins --tests)
fi
echo "sanitize.sh: cargo +nightly test ${build_std[*]} --target $target ${args[*]} (ASAN_OPTIONS=$ASAN_OPTIONS)"
cargo +nightly test "${build_std[@]}" --target "$target" "${args[@]}"
echo "sanitize.sh: AddressSanitizer found nothing"
