#!/usr/bin/env bash
#
# imaptest.sh - Dovecot's own IMAP tester (imaptest) against postlab and against a private
#               Dovecot on the same machine, for manual use (not in `make test`: imaptest is not
#               a Debian package, and building it needs its source).
#
# What it does, in order:
#   1. Builds imaptest from SRC (a checkout of github.com/dovecot/imaptest, branch release-2.3)
#      against Debian's dovecot-dev, if SRC/src/imaptest is not built yet. Debian 12 ships
#      Dovecot 2.3.19, whose imap_parser_create() takes one more argument than that branch
#      passes; the build patches the three calls (in SRC, never in this repository).
#   2. Starts a private Dovecot (private.sh) and a postlab release build (--ephemeral-ports),
#      each on a throw-away directory, each with user bob / pass.
#   3. Runs imaptest's scripted conformance tests (SRC/src/tests) against each, then its random
#      multi-client stress mode (CLIENTS clients for SECS seconds, each response checked against
#      imaptest's model of the mailbox), and prints the summary lines and error counts.
#
# Usage: benches/dovecot/imaptest.sh SRC [CLIENTS] [SECS]
#        defaults:                        10        30
# Needs root (Dovecot's private instance, apt-get for dovecot-dev / autotools when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
. benches/dovecot/private.sh

SRC=$(realpath "${1:?usage: imaptest.sh IMAPTEST_SOURCE_DIR [CLIENTS] [SECS]}")
CLIENTS=${2:-10}
SECS=${3:-30}

if [ ! -x "$SRC/src/imaptest" ]; then
    if [ ! -f /usr/lib/dovecot/dovecot-config ] || ! command -v autoreconf >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-dev autoconf automake libtool
    fi
    sed -i 's/imap_parser_create(\(.*\), NULL, (size_t)-1)/imap_parser_create(\1, NULL, (size_t)-1, NULL)/' \
        "$SRC/src/commands.c" "$SRC/src/test-parser.c" "$SRC/src/imap-client.c"
    (cd "$SRC" && ./autogen.sh && ./configure --with-dovecot=/usr/lib/dovecot && make)
fi
IMAPTEST="$SRC/src/imaptest"
export LD_LIBRARY_PATH=/usr/lib/dovecot

cargo build --release --quiet
WORK=$(mktemp -d /tmp/postlab-imaptest-XXXXXX)
POSTLAB_PID=
cleanup() {
    private_dovecot_stop "$WORK"
    if [ -n "$POSTLAB_PID" ]; then kill "$POSTLAB_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

DOVECOT_PORT=20343
private_dovecot "$WORK" "$DOVECOT_PORT" bob pass

mkdir -p "$WORK/postlab/mail"
echo 'bob:{PLAIN}pass' > "$WORK/postlab/users"
target/release/postlab serve --ephemeral-ports --data "$WORK/postlab" >"$WORK/postlab.log" 2>&1 &
POSTLAB_PID=$!
for _ in $(seq 100); do
    grep -q '^imap ' "$WORK/postlab/run/listeners" 2>/dev/null && break
    sleep 0.1
done
POSTLAB_PORT=$(awk '$1 == "imap" { split($2, a, ":"); print a[2] }' "$WORK/postlab/run/listeners")

for server in dovecot postlab; do
    if [ "$server" = dovecot ]; then port=$DOVECOT_PORT; else port=$POSTLAB_PORT; fi
    echo "== $server: scripted tests ($SRC/src/tests)"
    "$IMAPTEST" host=127.0.0.1 port="$port" user=bob pass=pass test="$SRC/src/tests" \
        >"$WORK/$server-tests.txt" 2>&1 || true
    grep '^\*\*\* Test' "$WORK/$server-tests.txt" || true
    tail -3 "$WORK/$server-tests.txt"
    echo "== $server: stress, $CLIENTS clients for $SECS s"
    "$IMAPTEST" host=127.0.0.1 port="$port" user=bob pass=pass \
        mbox="$SRC/src/tests/default.mbox" clients="$CLIENTS" secs="$SECS" \
        >"$WORK/$server-stress.txt" 2>&1 || true
    tail -5 "$WORK/$server-stress.txt"
    echo "errors: $(grep -c '^Error' "$WORK/$server-stress.txt" || true)"
    grep '^Error' "$WORK/$server-stress.txt" | sed 's/bob\[[0-9]*\]/bob/; s/ [0-9]*\.[0-9]* / /' \
        | sort | uniq -c | sort -rn | head -10 || true
done
