#!/usr/bin/env bash
# Real Debian programs built against liburcu 0.13 (liburcu8), unmodified,
# doing real work on rcu-capi's drop-in libraries (scripts/liburcu-dropin.sh).
#
#   knot   knotd, an authoritative DNS server: memb, function ABI (imports
#          urcu_memb_read_lock & co., no data symbols). A zone of ~600
#          records is replaced 30 times (a new zone file, then `knotc -b
#          zone-reload`, every fifth time `knotc reload`, which rebuilds the
#          zone database) while two UDP clients (kdig) query it and a TCP
#          client transfers it whole (AXFR). knotc runs on the same libraries.
#   gdnsd  gdnsd, an authoritative DNS server: QSBR, inline ABI (its listener
#          threads write urcu_qsbr_reader, a TLS record, and read urcu_qsbr_gp,
#          which the executable holds by copy relocation). The zone is
#          replaced 30 times (`gdnsdctl reload-zones`) while two UDP clients
#          and a TCP client query it.
#   lttng  lttng-sessiond and the lttng-consumerd it spawns: memb, inline ABI
#          (both import urcu_memb_reader and urcu_memb_gp; rculfhash from
#          Debian's liburcu-cds). Five tracing sessions are created, started,
#          traced (apps preloaded with lttng-ust's libc wrapper register with
#          the daemon while others come and go), stopped and destroyed; every
#          traced app's events must be in its session's trace.
#
# What must hold, as on Debian's liburcu (the reference run, first, with
# LD_LIBRARY_PATH unset): every DNS answer is NOERROR and one whole version of
# the zone (all records of an answer or of a transfer from the same version,
# never an older version after a newer one); the last version is served at
# the end; the daemons stop cleanly (exit status 0) and log no crash, abort or
# error. The reference runs also prove the library check can fail: there,
# /proc/PID/maps shows Debian's liburcu and the check must refuse it.
#
# A run that silently used Debian's liburcu is a failure: `ldd` on each binary
# and /proc/PID/maps of each running daemon (and its children) must show every
# liburcu flavour library that OUTDIR/lib provides resolved there, never under
# /usr/lib (liburcu-common and liburcu-cds stay Debian's).
#
# Output: a `ref NAME on Debian's liburcu (N s) ...` line per reference run,
# an `ok NAME (N s) ...` or `FAIL NAME (N s) reason` line per program on
# ours (a failed reference run is that program's FAIL), and last
# `liburcu programs on rcu-capi: N passed, M failed, S s`; non-zero exit if
# any failed. Work files and logs: target/liburcu-programs/NAME-{deb,ours}.
#
# Usage: scripts/liburcu-programs.sh [--no-reference]
#   --no-reference: skip the runs on Debian's liburcu.
# Installs (apt-get) what is missing: knot knot-dnsutils gdnsd lttng-tools
# liblttng-ust1 babeltrace2. Daemons run in the foreground on 127.0.0.1 with
# their state under target/liburcu-programs (lttng as user nobody, with its
# own LTTNG_HOME). Every daemon runs under `timeout`, every loop is bounded in
# count and time, and every process started is killed on any exit path.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
repo=$(pwd)
work=$repo/target/liburcu-programs
dropin=$work/dropin
reference=1
[ "${1:-}" = "--no-reference" ] && reference=0
mkdir -p "$work"

# --- packages ---------------------------------------------------------------
packages=(knot knot-dnsutils gdnsd lttng-tools liblttng-ust1 babeltrace2)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    timeout 300 apt-get update -qq >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >>"$work/apt.log" 2>&1 || { tail -30 "$work/apt.log" >&2; exit 1; }
fi

# --- our libraries ------------------------------------------------------------
bash scripts/liburcu-dropin.sh "$dropin" >"$work/dropin.log" 2>&1 || {
    tail -30 "$work/dropin.log" >&2; echo "$0: scripts/liburcu-dropin.sh failed" >&2; exit 1; }
unset LD_LIBRARY_PATH

# A flavour library is one OUTDIR/lib provides (liburcu.so.8, -memb, -qsbr,
# and -bp, -mb once they are there): a process or binary using it must get
# ours. Other liburcu libraries (-common, -cds) may be Debian's.
soname_of() { local b=${1##*/}; echo "${b%%.so*}.so.8"; }
ours_provides() { [ -e "$dropin/lib/$(soname_of "$1")" ]; }
# ldd BIN: every flavour library resolves into $dropin/lib, at least one does.
check_ldd() {
    local bin=$1 line lib path rc=0 ours
    # The sonames $dropin/lib provides, as resolve_check's expression.
    ours=$(cd "$dropin/lib" && ls liburcu*.so.8 | sed 's/\.so\.8$//' | paste -sd'|')
    line=$(resolve_check "$dropin/lib" "$ours" "$(ldd "$bin")") || rc=$?
    case $rc in
        1)
            lib=${line%% *} path=${line#*=> }
            echo "not ours: $bin: $lib => ${path%% (*}"
            return 1
            ;;
        2) echo "$bin resolves none of our libraries"; return 1 ;;
    esac
}
# /proc/PID/maps of running processes: the same rule, for what is mapped.
check_maps() { # pid...; prints what it saw
    local pid path n=0 bad="" seen=""
    for pid; do
        [ -r "/proc/$pid/maps" ] || continue
        while read -r path; do
            ours_provides "$path" || continue
            if [[ $path == "$dropin/lib/"* ]]; then
                n=$((n + 1)); seen+=" $pid:${path##*/}"
            else
                bad+=" $pid:$path"
            fi
        done < <(awk '$6 ~ /\/liburcu[^\/]*\.so/ { print $6 }' "/proc/$pid/maps" | sort -u)
    done
    [ -z "$bad" ] || { echo "not ours:$bad"; return 1; }
    [ $n -gt 0 ] || { echo "no liburcu flavour library mapped in $*"; return 1; }
    echo "$n mappings of ours in $# processes"
}
# The check must be able to fail: without our libraries first it must refuse.
if (check_ldd /usr/sbin/knotd >/dev/null); then
    echo "$0: the resolution check accepts Debian's liburcu; refusing to run" >&2
    exit 1
fi
for b in /usr/sbin/knotd /usr/sbin/knotc /usr/sbin/gdnsd /usr/bin/lttng-sessiond \
    /usr/lib/x86_64-linux-gnu/lttng/libexec/lttng-consumerd; do
    [ -x "$b" ] || { echo "$0: $b is not installed" >&2; exit 1; }
done
# What each binary imports from liburcu (the inline ABI imports data).
imports() { nm -D --undefined-only "$1" | awk '$2 ~ /^urcu_/ { print $2 }' | sort | tr '\n' ' '; }
imports_data() { # binary, symbols...: each must be imported (U) or copy-relocated (B)
    local bin=$1 s syms; shift
    syms=$(nm -D "$bin")
    for s; do grep -Eq " [UB] $s\$" <<<"$syms" || return 1; done
}

# --- helpers run inside a scenario's subshell ---------------------------------
die() { echo "$*"; exit 1; }
# Processes we started, as "pid starttime" (stable across exec, unlike the
# name), killed on every exit path if still that process.
starttime() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; set -- $s; echo "${20}"; }
track() { local p t; for p; do t=$(starttime "$p") && echo "$p $t" >>"$dir/pids"; done; return 0; }
descendants() { local c; for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do echo "$c"; descendants "$c"; done; }
cleanup() { # pids file
    local p t sig alive=0
    [ -f "$1" ] || return 0
    for sig in TERM KILL; do
        while read -r p t; do
            [ "$(starttime "$p")" = "$t" ] && kill -"$sig" "$p" 2>/dev/null && alive=1
        done < <(tac "$1")
        [ $alive = 1 ] || break
        [ $sig = TERM ] && sleep 0.5
    done
    return 0
}
# Waits (bounded) for pid to exit; its status (it must be our child).
reap() { # pid seconds
    local i
    for ((i = 0; i < $2 * 10; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$1" 2>/dev/null && return 255
    local rc=0; wait "$1" || rc=$?; return $rc
}
crashes() { # log: lines that show a crash, an abort or an error
    grep -aiE 'rcu-capi|abort|segmentation|sigsegv|sigabrt|core dumped|stack smash|double free|corrupt|assert|fatal|(^|[^a-z])error' "$1" | head -5 || true
}
maps_check() { # mode pids...: on ours the check must pass, on Debian's it must refuse
    local mode=$1 out; shift
    if out=$(check_maps "$@"); then
        [ "$mode" = ours ] || die "maps check accepted Debian's liburcu: $out"
        maps_seen=$out
    else
        [ "$mode" = deb ] || die "$out"
        maps_seen="check refuses Debian's (${out:0:70})"
    fi
}
free_port() {
    local p i used=""
    command -v ss >/dev/null && used=$(ss -Htuan | awk '{ print $5 }' | sed 's/.*://' | sort -u)
    for ((i = 0; i < 50; i++)); do
        p=$((20000 + RANDOM % 30000))
        grep -qx "$p" <<<"$used" || { echo "$p"; return; }
    done
    die "no free port"
}

# --- DNS: zones, clients, checks ------------------------------------------------
R=8     # TXT records of v.example.test (one RRset, all of the same version)
H=300   # hN names, a TXT (the version) and an A record each
N=30    # versions of the zone
gen_zone() { # version file
    local v=$1 n j
    {
        echo '$TTL 60'
        echo "@ IN SOA ns.example.test. admin.example.test. $v 3600 600 86400 60"
        echo "@ IN NS ns.example.test."
        echo "@ IN NS ns2.example.test."
        echo "ns IN A 127.0.0.1"
        echo "ns2 IN A 127.0.0.2"
        for ((j = 1; j <= R; j++)); do echo "v IN TXT \"v$v.$j\""; done
        echo "c IN CNAME t$v.example.test."
        echo "t$v IN TXT \"v$v\""
        for ((n = 1; n <= H; n++)); do
            echo "h$n IN TXT \"v$v\""
            echo "h$n IN A 10.$((v % 256)).$((n / 256)).$((n % 256))"
        done
    } >"$2"
}
cat >"$work/answers.awk" <<'EOF'
# kdig +noall +header +answer (stderr too) for `want` queries of
# v.example.test TXT and c.example.test TXT. Every response NOERROR; v: R TXT
# records "vK.J" (J = 1..R) of one version K; c: CNAME tK (and, with chase,
# tK TXT "vK"); 1 <= K <= N; K never below the previous one (prev).
# Prints: last version, answers, versions seen.
function bad(msg) { print "bad answer: " msg " [" $0 "]"; failed = 1; exit 1 }
function close_query() {
    if (!open) return
    open = 0
    if (type == "v" && nv != R) bad("v.example.test has " nv " TXT records, not " R)
    if (type == "c" && chase && !tgt) bad("CNAME target's TXT missing")
    if (type == "") bad("empty answer")
    if (ver < 1 || ver > N) bad("version " ver " is none of 1.." N)
    if (ver < prev) bad("version " ver " after version " prev)
    prev = ver; seen[ver] = 1; answers++
}
/^;; ->>HEADER<<-/ {
    close_query(); open = 1; type = ""; nv = 0; ver = -1; tgt = 0; queries++
    for (j in dup) delete dup[j]
    if ($0 !~ /status: NOERROR;/) bad("status not NOERROR")
    next
}
/^;; Flags:/ || /^[ \t]*$/ { next }
{
    if (!open) bad("output outside a response")
    if ($1 == "v.example.test." && $4 == "TXT" && $5 ~ /^"v[0-9]+\.[0-9]+"$/ && NF == 5) {
        if (type == "c") bad("mixed answer")
        type = "v"; split(substr($5, 3, length($5) - 3), p, ".")
        k = p[1] + 0; j = p[2] + 0
        if (ver != -1 && k != ver) bad("records of versions " ver " and " k " in one answer")
        if (j < 1 || j > R || (j in dup)) bad("TXT record " j " twice or unknown")
        ver = k; dup[j] = 1; nv++
    } else if ($1 == "c.example.test." && $4 == "CNAME" && $5 ~ /^t[0-9]+\.example\.test\.$/ && type == "") {
        type = "c"; ver = substr($5, 2) + 0
    } else if (type == "c" && $1 == "t" ver ".example.test." && $4 == "TXT" && $5 == "\"v" ver "\"" && !tgt) {
        tgt = 1
    } else bad("unexpected output")
}
END {
    if (failed) exit 1
    close_query()
    if (queries != want) { print "bad answer: " queries " responses to " want " queries"; exit 1 }
    printf "%d %d", prev, answers
    for (k in seen) printf " %d", k
    print ""
}
EOF
cat >"$work/axfr.awk" <<'EOF'
# kdig +noall +answer AXFR of example.test: one whole version S (SOA first and
# last, every TXT and CNAME of version S), `want` records, prev <= S <= N.
function bad(msg) { print "bad transfer: " msg " [" $0 "]"; failed = 1; exit 1 }
/^[ \t]*$/ { next }
{ n++ }
n == 1 { if ($4 != "SOA") bad("does not start with the SOA"); S = $7 + 0; next }
$4 == "SOA" { if ($7 + 0 != S) bad("SOA serials " S " and " $7); last = n; next }
$4 == "TXT" && $1 ~ /^h[0-9]+\.example\.test\.$/ { if ($5 != "\"v" S "\"") bad("version " $5 " in transfer of " S); next }
$4 == "TXT" && $1 == "v.example.test." { split(substr($5, 3, length($5) - 3), p, "."); if (p[1] != S "") bad("v in transfer of " S); next }
$4 == "CNAME" { if ($5 != "t" S ".example.test.") bad("CNAME in transfer of " S); next }
$4 == "TXT" && $1 == "t" S ".example.test." { next }
$4 == "A" || $4 == "NS" { next }
{ bad("unexpected output") }
END {
    if (failed) exit 1
    if (last != n || n != want) { print "bad transfer: " n " records (want " want "), SOA last: " (last == n); exit 1 }
    if (S < prev || S < 1 || S > N) { print "bad transfer: version " S " after " prev; exit 1 }
    print S
}
EOF

# Queries (UDP or TCP) until the writer is done: batches of 40, checked.
dns_client() { # id port chase [+tcp]
    local id=$1 port=$2 chase=$3 proto=${4:-} prev=0 batches=0 answers=0 out res last n vers qs=()
    for ((n = 0; n < 20; n++)); do qs+=(v.example.test TXT c.example.test TXT); done
    while [ ! -e "$dir/writer.done" ] && [ $batches -lt 2000 ] && [ $SECONDS -lt $deadline ]; do
        out=$(timeout 10 kdig @127.0.0.1 -p "$port" $proto +noall +header +answer +timeout=3 +retry=0 \
            "${qs[@]}" 2>&1) || true
        if ! res=$(awk -v R=$R -v N=$N -v prev=$prev -v chase="$chase" -v want=40 \
            -f "$work/answers.awk" <<<"$out"); then
            echo "$out" >"$dir/client$id.bad"
            echo "client $id ${proto:-+udp}: $res"
            return 1
        fi
        read -r last n vers <<<"$res"
        prev=$last answers=$((answers + n)) batches=$((batches + 1))
        echo "$vers" | tr ' ' '\n' >>"$dir/versions"
    done
    echo "$answers" >"$dir/client$id.answers"
}
axfr_client() { # id port
    local id=$1 port=$2 prev=0 n=0 out
    while [ ! -e "$dir/writer.done" ] && [ $n -lt 1000 ] && [ $SECONDS -lt $deadline ]; do
        out=$(timeout 10 kdig @127.0.0.1 -p "$port" +noall +answer +timeout=3 +retry=0 example.test AXFR 2>&1) || true
        if ! prev=$(awk -v N=$N -v prev=$prev -v want=$((2 + 2 + 2 + R + 2 + 2 * H)) \
            -f "$work/axfr.awk" <<<"$out"); then
            echo "$out" >"$dir/client$id.bad"
            echo "client $id AXFR: $prev"
            return 1
        fi
        n=$((n + 1))
    done
    echo "$n" >"$dir/client$id.transfers"
}
wait_version() { # port version seconds: v.example.test answers version
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        [ "$(timeout 5 kdig @127.0.0.1 -p "$1" +short +timeout=1 +retry=0 v.example.test TXT 2>/dev/null |
            head -1)" = "\"v$2.1\"" ] && return 0
        kill -0 "$tpid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# The load: clients start, the writer (a function) makes versions 2..N, the
# clients stop when it is done; all of them must succeed.
dns_load() { # port chase writer tcpclient(axfr|tcp)
    local port=$1 chase=$2 writer=$3 c pids=() rc=0 wrc=0 msg
    dns_client 1 "$port" "$chase" >"$dir/client1.out" & pids+=($!)
    dns_client 2 "$port" "$chase" >"$dir/client2.out" & pids+=($!)
    if [ "$4" = axfr ]; then
        axfr_client 3 "$port" >"$dir/client3.out" & pids+=($!)
    else
        dns_client 3 "$port" "$chase" +tcp >"$dir/client3.out" & pids+=($!)
    fi
    track "${pids[@]}"
    sleep 0.3
    "$writer" >"$dir/writer.out" 2>&1 || wrc=$?
    touch "$dir/writer.done"
    for c in "${pids[@]}"; do wait "$c" || rc=1; done
    [ $wrc -eq 0 ] || die "reload failed: $(tail -3 "$dir/writer.out" | tr '\n' ' ')"
    [ $rc -eq 0 ] || die "$(cat "$dir"/client*.out | head -3 | tr '\n' ' ')"
    wait_version "$port" "$N" 10 || die "version $N not served after the last reload"
    answers=$(cat "$dir"/client*.answers | awk '{ s += $1 } END { print s + 0 }')
    versions=$(sort -un "$dir/versions" | grep -c .)
    [ "$versions" -ge 2 ] || die "the clients saw $versions version(s): queries did not overlap the reloads"
}
server_pid() { # name log: the child of the timeout running the daemon
    local i p
    for ((i = 0; i < 50; i++)); do
        p=$(ps -o pid= --ppid "$tpid" | head -1 | tr -d ' ')
        [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$1" ] && { echo "$p"; return; }
        kill -0 "$tpid" 2>/dev/null || break
        sleep 0.1
    done
    echo "$1 did not start: $(tail -3 "$2" | tr '\n' ' ')"
    return 1
}
# Runs a DNS server (the command after the first seven arguments) under a
# timeout, checks its maps, loads it (dns_load) while WRITER replaces the
# zone, checks its maps again and stops it with the function STOP (which
# bounds itself with a timeout).
serve_dns() { # mode name port chase writer tcpclient stop command...
    local mode=$1 name=$2 port=$3 chase=$4 writer=$5 client3=$6 stop=$7
    shift 7
    timeout -k 5 60 "$@" >"$dir/$name.log" 2>&1 &
    tpid=$!; track "$tpid"
    spid=$(server_pid "$name" "$dir/$name.log") || die "$spid"
    track "$spid"
    wait_version "$port" 1 10 || die "$name does not answer: $(tail -3 "$dir/$name.log" | tr '\n' ' ')"
    maps_check "$mode" "$spid"
    dns_load "$port" "$chase" "$writer" "$client3"
    maps_check "$mode" "$spid"
    "$stop" >>"$dir/writer.out" 2>&1 || die "$name stop failed: $(tail -2 "$dir/writer.out")"
    stopped_cleanly "$name" "$dir/$name.log"
}
stopped_cleanly() { # name log
    local rc=0 c
    reap "$tpid" 20 || rc=$?
    [ $rc -eq 0 ] || die "$1 exited with status $rc: $(tail -3 "$2" | tr '\n' ' ')"
    c=$(crashes "$2")
    [ -z "$c" ] || die "$1 log: $(tr '\n' ' ' <<<"$c")"
}

# --- knot -----------------------------------------------------------------------
knot_writer() {
    local v
    for ((v = 2; v <= N; v++)); do
        [ $SECONDS -lt $deadline ] || { echo "deadline"; return 1; }
        gen_zone "$v" "$dir/zone.new" && mv -f "$dir/zone.new" "$dir/zones/example.test.zone"
        if [ $((v % 5)) -eq 0 ] && [ $v -lt $N ]; then
            timeout 20 knotc -c "$dir/knot.conf" -t 15 reload || return 1
        else
            timeout 20 knotc -c "$dir/knot.conf" -t 15 -b zone-reload example.test || return 1
        fi
        sleep 0.05
    done
}
scenario_knot() { # mode
    local mode=$1 port
    port=$(free_port)
    mkdir -p "$dir/run" "$dir/db" "$dir/zones"
    cat >"$dir/knot.conf" <<EOF
server:
    rundir: "$dir/run"
    listen: 127.0.0.1@$port
    udp-workers: 2
    tcp-workers: 2
    background-workers: 2
database:
    storage: "$dir/db"
log:
  - target: stderr
    any: info
acl:
  - id: local_transfer
    address: 127.0.0.1
    action: transfer
template:
  - id: default
    storage: "$dir/zones"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    acl: local_transfer
zone:
  - domain: example.test
EOF
    gen_zone 1 "$dir/zones/example.test.zone"
    if [ "$mode" = ours ]; then
        for b in /usr/sbin/knotd /usr/sbin/knotc; do check_ldd "$b" >"$dir/ldd" || die "$(cat "$dir/ldd")"; done
    fi
    serve_dns "$mode" knotd "$port" 1 knot_writer axfr knot_stop knotd -c "$dir/knot.conf"
    echo "memb function ABI: $((N - 1)) reloads, $answers answers over UDP (2 clients, $versions versions seen)," \
        "$(cat "$dir/client3.transfers") whole-zone transfers consistent, stop status 0; $maps_seen"
}

knot_stop() { timeout 20 knotc -c "$dir/knot.conf" -t 15 stop; }

# --- gdnsd ----------------------------------------------------------------------
gdnsd_stop() { timeout 20 gdnsdctl -c "$dir/etc" -t 15 stop; }
gdnsd_writer() {
    local v
    for ((v = 2; v <= N; v++)); do
        [ $SECONDS -lt $deadline ] || { echo "deadline"; return 1; }
        gen_zone "$v" "$dir/zone.new" && mv -f "$dir/zone.new" "$dir/etc/zones/example.test"
        timeout 20 gdnsdctl -c "$dir/etc" -t 15 reload-zones || return 1
        sleep 0.05
    done
}
scenario_gdnsd() { # mode
    local mode=$1 port
    port=$(free_port)
    mkdir -p "$dir/etc/zones"
    cat >"$dir/etc/config" <<EOF
options => {
  listen => [ 127.0.0.1:$port ]
  run_dir => $dir/run
  state_dir => $dir/state
  udp_threads => 2
  tcp_threads => 2
}
EOF
    gen_zone 1 "$dir/etc/zones/example.test"
    [ "$mode" = ours ] && { check_ldd /usr/sbin/gdnsd >"$dir/ldd" || die "$(cat "$dir/ldd")"; }
    serve_dns "$mode" gdnsd "$port" 0 gdnsd_writer tcp gdnsd_stop gdnsd -c "$dir/etc" start
    echo "QSBR inline ABI: $((N - 1)) reloads, $answers answers (2 UDP + 1 TCP clients, $versions versions seen)," \
        "stop status 0; $maps_seen"
}

# --- lttng ----------------------------------------------------------------------
scenario_lttng() { # mode
    local mode=$1 home=$dir/home as=() envs k pid i events=0 apps=0 churn consumerd=() traced
    mkdir -p "$home"
    chmod 0777 "$dir" "$home"
    # As nobody, with its own LTTNG_HOME (root's session daemon lives in /var/run/lttng).
    [ "$(id -u)" -eq 0 ] && as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    envs=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" LTTNG_HOME="$home")
    for k in ${!RCU_CAPI_@}; do envs+=("$k=${!k}"); done # the library's own settings
    # The daemon puts the consumer daemon's library directory (Debian's
    # libdir by default) first in the LD_LIBRARY_PATH it spawns it with:
    # ours is that directory here (the maps check catches it otherwise).
    [ "$mode" = ours ] && envs+=(LD_LIBRARY_PATH="$dropin/lib" LTTNG_CONSUMERD64_LIBDIR="$dropin/lib")
    if [ "$mode" = ours ]; then
        for b in /usr/bin/lttng-sessiond /usr/lib/x86_64-linux-gnu/lttng/libexec/lttng-consumerd; do
            check_ldd "$b" >"$dir/ldd" || die "$(cat "$dir/ldd")"
        done
    fi
    "${as[@]}" "${envs[@]}" timeout -k 5 90 lttng-sessiond --no-kernel >"$dir/sessiond.log" 2>&1 &
    tpid=$!; track "$tpid"
    spid=$(server_pid lttng-sessiond "$dir/sessiond.log") || die "$spid"
    track "$spid"
    lt() { timeout 30 "${as[@]}" "${envs[@]}" lttng --no-sessiond "$@" >>"$dir/lttng.log" 2>&1 ||
        die "lttng $* failed: $(tail -2 "$dir/lttng.log" | tr '\n' ' ') sessiond: $(tail -3 "$dir/sessiond.log" | tr '\n' ' ')"; }
    app() { # pidfile: an app traced by lttng-ust's libc wrapper (registers with the daemon)
        timeout 20 "${as[@]}" "${envs[@]}" sh -c 'echo $$ >>"$1"; exec env LD_PRELOAD=liblttng-ust-libc-wrapper.so.1 ls -R /usr/share/doc/lttng-tools /usr/share/doc/knot >/dev/null' sh "$1"
    }
    for ((i = 0; i < 100; i++)); do
        timeout 5 "${as[@]}" "${envs[@]}" lttng --no-sessiond list >/dev/null 2>&1 && break
        kill -0 "$tpid" 2>/dev/null || die "lttng-sessiond exited: $(tail -3 "$dir/sessiond.log" | tr '\n' ' ')"
        sleep 0.1
    done
    [ $i -lt 100 ] || die "lttng-sessiond does not answer"
    # Apps coming and going all along (registration, unregistration).
    (
        for ((i = 0; i < 60; i++)); do
            [ -e "$dir/sessions.done" ] || [ $SECONDS -ge $deadline ] && break
            app "$dir/churn.pids" || exit 1
        done
    ) &
    churn=$!; track "$churn"
    for ((k = 1; k <= 5; k++)); do
        [ $SECONDS -lt $deadline ] || die "deadline"
        lt create "s$k" --output="$home/trace$k"
        lt enable-event -u -s "s$k" 'lttng_ust_libc:malloc'
        lt add-context -u -s "s$k" -t vpid
        lt start "s$k"
        if [ $k -eq 1 ]; then
            for pid in $(descendants "$tpid"); do consumerd+=("$pid"); done
            track "${consumerd[@]}"
            maps_check "$mode" "${consumerd[@]}"
        fi
        pids=()
        for i in 1 2 3; do app "$dir/apps$k.pids" & pids+=($!); done
        for pid in "${pids[@]}"; do wait "$pid" || die "traced app failed (session s$k)"; done
        lt stop "s$k"
        lt destroy "s$k"
        traced=$(babeltrace2 "$home/trace$k" 2>"$dir/babeltrace.err" | grep -o 'vpid = [0-9]*' | sort | uniq -c) ||
            die "no trace for session s$k: $(head -2 "$dir/babeltrace.err")"
        while read -r pid; do
            grep -Eq "^ *[0-9]+ vpid = $pid\$" <<<"$traced" || die "session s$k: no event of app $pid in its trace"
            apps=$((apps + 1))
        done <"$dir/apps$k.pids"
        events=$((events + $(awk '{ s += $1 } END { print s + 0 }' <<<"$traced")))
    done
    touch "$dir/sessions.done"
    wait "$churn" || die "an app of the churn failed"
    maps_check "$mode" $(descendants "$tpid") "$spid"
    kill -TERM "$spid"
    stopped_cleanly lttng-sessiond "$dir/sessiond.log"
    for pid in "${consumerd[@]}"; do
        for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && die "$(cat "/proc/$pid/comm") $pid still running after the daemon stopped"
    done
    echo "memb inline ABI: 5 sessions, $apps traced apps all in their traces ($events events)," \
        "$(grep -c . "$dir/churn.pids") apps registering meanwhile, stop status 0; $maps_seen"
}

# --- runs ---------------------------------------------------------------------------
pass=0 fail=0
# Interrupted: each scenario's processes are killed (the scenario's own trap
# does it too; this covers a signal only the script got).
scenario=
trap 'for f in "$work"/*/pids; do cleanup "$f"; done' EXIT
trap '[ -n "$scenario" ] && kill -TERM "$scenario" && wait "$scenario"; exit 143' TERM INT HUP
run_program() { # name
    local name=$1 mode t0 rc out
    local modes=(ours); [ $reference = 1 ] && modes=(deb ours)
    for mode in "${modes[@]}"; do
        t0=$SECONDS rc=0
        dir=$work/$name-$mode
        rm -rf "$dir"; mkdir -p "$dir"
        (
            trap 'cleanup "$dir/pids"' EXIT
            trap 'exit 143' TERM INT HUP
            deadline=$((SECONDS + 60))
            [ "$mode" = ours ] && export LD_LIBRARY_PATH=$dropin/lib
            "scenario_$name" "$mode"
        ) >"$dir/result" 2>"$dir/stderr" &
        scenario=$!
        wait "$scenario" || rc=$?
        scenario=
        out=$(tail -1 "$dir/result")
        if [ "$mode" = deb ]; then
            if [ $rc -eq 0 ]; then
                echo "ref $name on Debian's liburcu ($((SECONDS - t0)) s) $out"
            else
                fail=$((fail + 1))
                echo "FAIL $name ($((SECONDS - t0)) s) the reference run on Debian's liburcu failed: $out"
                return
            fi
        elif [ $rc -eq 0 ]; then
            pass=$((pass + 1)); echo "ok $name ($((SECONDS - t0)) s) $out"
        else
            fail=$((fail + 1)); echo "FAIL $name ($((SECONDS - t0)) s) $out (logs in $dir)"
        fi
    done
}
imports_data /usr/bin/lttng-sessiond urcu_memb_reader urcu_memb_gp ||
    echo "note: lttng-sessiond no longer imports urcu_memb_reader/urcu_memb_gp: $(imports /usr/bin/lttng-sessiond)"
imports_data /usr/sbin/gdnsd urcu_qsbr_reader urcu_qsbr_gp ||
    echo "note: gdnsd no longer imports urcu_qsbr_reader/urcu_qsbr_gp: $(imports /usr/sbin/gdnsd)"
run_program knot
run_program gdnsd
run_program lttng
echo "liburcu programs on rcu-capi: $pass passed, $fail failed, ${SECONDS} s"
[ $fail -eq 0 ]
