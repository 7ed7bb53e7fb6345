#!/usr/bin/env bash
#
# imap_sync.sh - a QRESYNC resync (RFC 7162) after 100 changes on a big folder, postlab beside
#                a real Dovecot, measured by the same client (benches/imap_sync.rs).
#
# What it does, in order:
#   1. Installs Debian's "dovecot-imapd" if Dovecot's imap binary is missing (needs root).
#   2. Fills one Maildir with MESSAGES small messages with postlab's own Maildir code
#      (`imap_sync --maildir`); each server gets its own copy.
#   3. Starts a private Dovecot (its own config, run and state directories) on 127.0.0.1:PORT,
#      with one passwd-file user bob / bench, mail owned by "nobody".
#   4. Runs imap_sync against Dovecot (`--target`) and a postlab release build (`--data`):
#      CYCLES times, the phone notes HIGHESTMODSEQ, the laptop makes 90 flag changes and 10
#      expunges, and the phone's `SELECT INBOX (QRESYNC (…))` is timed (it must tell exactly
#      the 100 changes), beside a full `UID FETCH 1:* (FLAGS)`.
#   5. Prints every line, then the medians and the ratio; stops Dovecot (trap on EXIT).
#
# Usage: benches/dovecot/imap_sync.sh [MESSAGES] [CYCLES] [PORT]
#        defaults:                     10000      3        20144
set -euo pipefail
cd "$(dirname "$0")/../.."

MESSAGES=${1:-10000}
CYCLES=${2:-3}
PORT=${3:-20144}

. benches/dovecot/private.sh
WORK=$(mktemp -d /tmp/postlab-dovecot-sync-XXXXXX)
cleanup() {
    private_dovecot_stop "$WORK"
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/postlab/mail"

bench() {
    cargo bench --quiet --bench imap_sync -- "$@"
}

bench --maildir "$WORK/pristine" --messages "$MESSAGES" | grep '^imap_sync'
private_dovecot "$WORK" "$PORT" bob bench
cp "$WORK/users" "$WORK/postlab/users"
cp -r "$WORK/pristine" "$WORK/postlab/mail/bob"
cp -r "$WORK/pristine" "$WORK/dovecot/bob"
chown -R nobody:nogroup "$WORK/dovecot/bob"

RESULTS="$WORK/results"
bench --target "127.0.0.1:$PORT" --messages "$MESSAGES" --cycles "$CYCLES" | grep '^imap_sync' \
    | sed 's/server at/dovecot at/; s/result server/result dovecot/' | tee -a "$RESULTS"
bench --data "$WORK/postlab" --messages "$MESSAGES" --cycles "$CYCLES" | grep '^imap_sync' \
    | tee -a "$RESULTS"

median() {
    sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo
echo "$MESSAGES messages, 100 changes, medians of $CYCLES cycles ($(dovecot --version | cut -d' ' -f1) beside postlab):"
echo
echo "| server | QRESYNC resync (ms) | full UID FETCH 1:* (FLAGS) (ms) |"
echo "|---|---|---|"
for server in dovecot postlab; do
    resync=$(grep "result $server " "$RESULTS" | awk '{ print $5 }' | median)
    full=$(grep "result $server " "$RESULTS" | awk '{ print $7 }' | median)
    echo "| $server | $resync | $full |"
    eval "${server}_resync=$resync"
done
awk -v p="$postlab_resync" -v d="$dovecot_resync" 'BEGIN { printf "\npostlab / Dovecot, QRESYNC resync: %.2f\n", p / d }'
