#!/usr/bin/env bash
# Fetches liburcu's source from Debian's source package, at the version of
# the installed liburcu-dev, and builds it and its test programs with its
# own build system under target/liburcu-suite. Prints the source directory.
# Used by scripts/liburcu-suite.sh and scripts/liburcu-compare.sh; nothing
# of liburcu enters the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(pwd)/target/liburcu-suite

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need_pkgs=()
for p in liburcu-dev autoconf automake libtool dpkg-dev make gcc; do
    dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
    as_root apt-get update -qq >&2
    as_root apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

version=$(dpkg-query -W -f='${Version}' liburcu-dev)
src=$work/liburcu-${version%-*}
if [ ! -x "$src/tests/unit/.libs/test_urcu_multiflavor" ]; then
    # A deb-src entry for the release this machine runs, unless one exists.
    if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        . /etc/os-release
        printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$VERSION_CODENAME" | as_root tee /etc/apt/sources.list.d/rcu-deb-src.sources >/dev/null
        as_root apt-get update -qq >&2
    fi
    rm -rf "$src" && mkdir -p "$work"
    (cd "$work" && apt-get source -qq "liburcu=$version" >/dev/null 2>&1)
    [ -d "$src" ] || { echo "$0: apt-get source liburcu=$version gave no $src" >&2; exit 1; }
    echo "building liburcu $version and its tests with its own build system" >&2
    (cd "$src" && autoreconf -fi >/dev/null 2>&1 && ./configure -q >/dev/null &&
        make -j"$(nproc)" -s >/dev/null 2>&1 && make -j"$(nproc)" -s check TESTS= >/dev/null 2>&1)
fi
echo "$src"
