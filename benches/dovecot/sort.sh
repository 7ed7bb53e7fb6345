#!/usr/bin/env bash
#
# sort.sh - SORT and THREAD on a large folder, postlab beside a real Dovecot, measured by the
# same client (benches/imap_sort.rs). Set up as imap.sh is (read it first):
#   1. Installs Debian's "dovecot-imapd" if Dovecot's imap binary is missing (needs root).
#   2. Fills one Maildir with MESSAGES messages shaped like a mailing list's (`imap_sort
#      --maildir`); every run of either server gets a fresh copy, with no index or UID list.
#   3. Starts a private Dovecot listening only on 127.0.0.1:PORT, user bob / bench.
#   4. RUNS times, alternating which server goes first: SELECT, SORT (DATE) twice,
#      SORT (SUBJECT), THREAD REFERENCES on each server's copy.
#   5. Prints every result line, then the medians and postlab's time over Dovecot's.
#
# Usage: benches/dovecot/sort.sh [MESSAGES] [RUNS] [PORT]
#        defaults:                 10000      3      20144
set -euo pipefail
cd "$(dirname "$0")/../.."

MESSAGES=${1:-10000}
RUNS=${2:-3}
PORT=${3:-20144}

. benches/dovecot/private.sh
WORK=$(mktemp -d /tmp/postlab-dovecot-sort-XXXXXX)
cleanup() {
    private_dovecot_stop "$WORK"
    rm -rf "$WORK"
}
trap cleanup EXIT

bench() {
    cargo bench --quiet --bench imap_sort -- "$@"
}

bench --maildir "$WORK/pristine" --messages "$MESSAGES" | grep '^imap_sort'
private_dovecot "$WORK" "$PORT" bob bench

RESULTS="$WORK/results"
: > "$RESULTS"

run_dovecot() {
    rm -rf "$WORK/dovecot/bob"
    cp -r "$WORK/pristine" "$WORK/dovecot/bob"
    chown -R nobody:nogroup "$WORK/dovecot/bob"
    bench --target "127.0.0.1:$PORT" --messages "$MESSAGES" | grep '^imap_sort' \
        | sed 's/ server / dovecot /' | tee -a "$RESULTS"
}

run_postlab() {
    rm -rf "$WORK/postlab"
    mkdir -p "$WORK/postlab/mail"
    cp "$WORK/users" "$WORK/postlab/users"
    cp -r "$WORK/pristine" "$WORK/postlab/mail/bob"
    bench --data "$WORK/postlab" --messages "$MESSAGES" | grep '^imap_sort' | tee -a "$RESULTS"
}

for run in $(seq "$RUNS"); do
    echo "run $run ($(uptime | sed 's/.*load average/load average/')):"
    if [ $((run % 2)) -eq 1 ]; then
        run_dovecot
        run_postlab
    else
        run_postlab
        run_dovecot
    fi
done

median() { # SERVER FIELD
    grep "result $1 " "$RESULTS" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2 | sort -g \
        | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
echo "$MESSAGES messages, medians of $RUNS runs ($(dovecot --version | cut -d' ' -f1) beside postlab), seconds:"
echo
echo "| command | dovecot | postlab | postlab / dovecot |"
echo "|---|---|---|---|"
for field in select sort_date_1 sort_date_2 sort_subject thread; do
    d=$(median dovecot "$field")
    p=$(median postlab "$field")
    echo "| $field | $d | $p | $(awk -v p="$p" -v d="$d" 'BEGIN { printf "%.1f", (d > 0) ? p / d : 0 }') |"
done
