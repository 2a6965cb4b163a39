#!/usr/bin/env bash
# Downloads Debian trixie's liburcu (0.14/0.15: the next release's, with the
# polled grace-period calls and the longer struct rcu_flavor_struct) and
# unpacks it beside the system, never over it:
#
#   target/liburcu-015/apt    a private apt configuration (sources, lists,
#                             cache): the system's sources are not touched
#                             and no package of the system is upgraded
#   target/liburcu-015/debs   liburcu-dev and the runtime package (.deb)
#   target/liburcu-015/root   both, unpacked with dpkg-deb -x
#   target/liburcu-015/glibc  trixie's libc6 and libgcc-s1, unpacked: trixie's
#                             liburcu needs glibc 2.38 (__isoc23_strtol),
#                             bookworm has 2.36, so the genuine 0.15
#                             libraries run under this glibc's own loader:
#                             $(sed -n 's/^loader=//p' root/.unpacked) --library-path DIRS PROGRAM
#
# Prints the unpacked root on stdout. Idempotent: does nothing once the
# root holds both packages at a 0.14/0.15 version.
# Used by scripts/liburcu-015-examples.sh; nothing of liburcu enters the
# repository.
#
# Usage: scripts/liburcu-015.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(pwd)/target/liburcu-015
root=$work/root
stamp=$root/.unpacked
suite=${LIBURCU_SUITE:-trixie}
arch=$(dpkg --print-architecture)

[ "${1:-}" = "--force" ] && rm -rf "$root"

version_ok() { [[ $1 =~ ^0\.(14|15)\. ]]; }

if [ -f "$stamp" ] && version_ok "$(sed -n 's/^version=//p' "$stamp")" &&
    [ -x "$(sed -n 's/^loader=//p' "$stamp")" ]; then
    echo "$root"
    exit 0
fi

for t in apt-get dpkg-deb; do
    command -v "$t" >/dev/null || { echo "$0: $t is missing" >&2; exit 1; }
done
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || { echo "$0: no $keyring" >&2; exit 1; }

aptdir=$work/apt
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/etc/preferences.d" \
    "$aptdir/etc/trusted.gpg.d" "$aptdir/state"
: >"$aptdir/state/status" # an empty dpkg status: nothing is "installed" for this apt
cat >"$aptdir/etc/sources.list" <<EOF
deb [arch=$arch signed-by=$keyring] http://deb.debian.org/debian $suite main
EOF
apt_opts=(
    -o "Dir::Etc::SourceList=$aptdir/etc/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::Etc::Preferences=/dev/null"
    -o "Dir::Etc::PreferencesParts=$aptdir/etc/preferences.d"
    -o "Dir::Etc::TrustedParts=$aptdir/etc/trusted.gpg.d"
    -o "Dir::State::Lists=$aptdir/lists"
    -o "Dir::State::status=$aptdir/state/status"
    -o "Dir::Cache=$aptdir/cache"
    -o "Dir::Cache::pkgcache="
    -o "Dir::Cache::srcpkgcache="
    -o "APT::Architecture=$arch"
    -o "APT::Architectures=$arch"
    -o "APT::Get::List-Cleanup=false"
    -o "Acquire::Languages=none"
    -o "Debug::NoLocking=true"
    -o "APT::Sandbox::User=root"
)
echo "liburcu-015: apt-get update ($suite, private lists under $aptdir)" >&2
apt-get "${apt_opts[@]}" update -qq >&2

# The runtime package: liburcu8t64 in trixie (the 64-bit time_t rename),
# liburcu8 before it. The one liburcu-dev depends on.
dev_dep=$(apt-cache "${apt_opts[@]}" show liburcu-dev 2>/dev/null | sed -n 's/^Depends: //p' | head -1)
runtime=$(tr ',' '\n' <<<"$dev_dep" | sed 's/^ *//; s/ .*//' | grep -E '^liburcu[0-9]' | head -1)
[ -n "$runtime" ] || { echo "$0: liburcu-dev in $suite depends on no liburcu runtime ($dev_dep)" >&2; exit 1; }
version=$(apt-cache "${apt_opts[@]}" show liburcu-dev | sed -n 's/^Version: //p' | sort -V | tail -1)
rt_version=$(apt-cache "${apt_opts[@]}" show "$runtime" | sed -n 's/^Version: //p' | sort -V | tail -1)
version_ok "$version" || { echo "$0: $suite's liburcu-dev is $version, not 0.14/0.15" >&2; exit 1; }
[ "$version" = "$rt_version" ] || { echo "$0: liburcu-dev $version but $runtime $rt_version" >&2; exit 1; }

debs=$work/debs
mkdir -p "$debs"
echo "liburcu-015: downloading liburcu-dev=$version $runtime=$version libc6 libgcc-s1" >&2
(cd "$debs" && apt-get "${apt_opts[@]}" download -qq "liburcu-dev=$version" "$runtime=$version" libc6 libgcc-s1 >&2)

rm -rf "$root" && mkdir -p "$root"
for p in liburcu-dev "$runtime"; do
    deb=$(ls "$debs/${p}_${version//:/%3a}_"*.deb 2>/dev/null | head -1)
    [ -n "$deb" ] || { echo "$0: no downloaded .deb for $p $version in $debs" >&2; exit 1; }
    v=$(dpkg-deb -f "$deb" Version)
    version_ok "$v" || { echo "$0: $deb is version $v" >&2; exit 1; }
    dpkg-deb -x "$deb" "$root"
done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
libdir=$root/usr/lib/$multiarch
for f in liburcu.so.8 liburcu-memb.so.8 liburcu-mb.so.8 liburcu-qsbr.so.8 liburcu-bp.so.8 \
    liburcu-common.so.8 liburcu-cds.so.8; do
    [ -e "$libdir/$f" ] || { echo "$0: $libdir/$f is not in the packages" >&2; exit 1; }
done
# trixie's liburcu-dev installs its headers multiarch: usr/include/<triplet>/urcu
# (bookworm's 0.13: usr/include/urcu). Callers read incdir= from the stamp.
incdir=
for d in "$root/usr/include/$multiarch" "$root/usr/include"; do
    [ -f "$d/urcu/urcu-memb.h" ] && { incdir=$d; break; }
done
[ -n "$incdir" ] || { echo "$0: no urcu/urcu-memb.h under $root/usr/include" >&2; exit 1; }
grep -q 'urcu_gp_poll_state' "$incdir/urcu/urcu-poll.h" 2>/dev/null ||
    { echo "$0: the $version headers declare no urcu_gp_poll_state" >&2; exit 1; }
# trixie's glibc, beside (never over) the system's, for the genuine libraries.
glibc=$work/glibc
rm -rf "$glibc" && mkdir -p "$glibc"
for p in libc6 libgcc-s1; do
    deb=$(ls -t "$debs/${p}_"*.deb 2>/dev/null | head -1)
    [ -n "$deb" ] || { echo "$0: no downloaded .deb for $p in $debs" >&2; exit 1; }
    dpkg-deb -x "$deb" "$glibc"
done
glibc_libdir=$glibc/usr/lib/$multiarch
loader=$glibc_libdir/ld-linux-x86-64.so.2
[ -x "$loader" ] || loader=$(find "$glibc" -name 'ld-linux*.so.*' -type f | head -1)
[ -x "$loader" ] || { echo "$0: no dynamic loader in trixie's libc6 under $glibc" >&2; exit 1; }
"$loader" --library-path "$libdir:$glibc_libdir" --list "$libdir/liburcu-memb.so.8" >/dev/null ||
    { echo "$0: trixie's loader cannot load liburcu-memb.so.8" >&2; exit 1; }
printf 'version=%s\nruntime=%s\nsuite=%s\nincdir=%s\nlibdir=%s\nloader=%s\nglibc_libdir=%s\nglibc=%s\n' \
    "$version" "$runtime" "$suite" "$incdir" "$libdir" "$loader" "$glibc_libdir" \
    "$(dpkg-deb -f "$(ls -t "$debs"/libc6_*.deb | head -1)" Version)" >"$stamp"
echo "liburcu-015: liburcu $version ($runtime) unpacked" >&2
echo "$root"
