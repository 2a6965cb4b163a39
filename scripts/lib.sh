# What the scripts share; sourced (`. scripts/lib.sh`), not run.
#
# Resolution checks: a run on our libraries that silently loaded another
# liburcu would prove nothing, so every script checks what the loader
# resolves (ldd, or the loader's --list) before it runs a binary.

# The liburcu flavour libraries, as a regular expression of sonames
# without `.so.8`; URCU_FLAVOURS_SIGNAL adds liburcu-signal (0.15).
URCU_FLAVOURS='liburcu(-memb|-qsbr|-mb|-bp)?'
URCU_FLAVOURS_SIGNAL='liburcu(-memb|-qsbr|-mb|-bp|-signal)?'

# resolve_check DIR REGEX LISTING: every library of LISTING (ldd's output)
# whose soname matches REGEX resolves into DIR/. Status 0: every one does;
# 1: one does not (its line is printed); 2: LISTING has none.
resolve_check() {
    local dir=$1 re="^($2)\.so\.8" line found=0
    while read -r line; do
        [[ $line =~ $re ]] || continue
        found=1
        [[ $line == *"=> $dir/"* ]] || { echo "$line"; return 1; }
    done < <(sed 's/^[[:space:]]*//' <<<"$3")
    [ $found = 1 ] || return 2
}

# resolve_elsewhere DIR REGEX LISTING: every library of LISTING whose
# soname matches REGEX is found, and none resolves into DIR/ (the system's
# liburcu, not ours). Status 1 otherwise, the offending line printed.
resolve_elsewhere() {
    local dir=$1 re="^($2)\.so\.8" line
    while read -r line; do
        [[ $line =~ $re ]] || continue
        [[ $line != *"=> $dir/"* && $line != *"not found"* ]] || { echo "$line"; return 1; }
    done < <(sed 's/^[[:space:]]*//' <<<"$3")
}

# median: the median of the numbers on stdin (one a line; the mean of the
# two middle ones for an even count).
median() {
    sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A / B with two decimals, or "-" unless B > 0.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}
