#!/usr/bin/env bash
#
# imap.sh - IMAP on a large folder, postlab beside a real Dovecot, measured by the same client.
#
# What it does, in order:
#   1. Installs Debian's "dovecot-imapd" if Dovecot's imap binary is missing (needs root).
#   2. Fills one Maildir with MESSAGES messages of SIZE bytes, written by postlab's own Maildir
#      code (`imap_load --maildir`). This copy is never served; every run of either server gets
#      a fresh copy of it, so both start from the same files in new/ with no index or UID list.
#   3. Starts a private Dovecot (its own config, run and state directories) whose only listener
#      is 127.0.0.1:PORT, with one passwd-file user bob / bench; its mail process runs as
#      "nobody", which owns Dovecot's copy.
#   4. RUNS times, alternating which server goes first: runs benches/imap_load.rs against
#      Dovecot (`--target`) and against a postlab release build (`--data`), each on its copy:
#      LOGIN, first and second SELECT, FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE),
#      FETCH 1:* BODY.PEEK[].
#   5. Prints every result line, then a table of the medians.
#   6. Sessions that stay logged in: for 10 and for 50 clients, each server on a fresh copy
#      runs the same seeded random workload for SECONDS (imap_load --sessions, see there);
#      prints commands/s and the p50/p99 latency of both, and postlab's ratio to Dovecot.
#      Then the same clients at fixed rates for both (imap_load --rate): 80% and 25% of the
#      lower of the two servers' commands/s; there latency compares what a
#      command costs under the same load, where as-fast-as-answered latency is only
#      clients / throughput (see benches/imap_load.rs).
#   7. Stops Dovecot and removes its directory (trap on EXIT).
#
# Usage: benches/dovecot/imap.sh [MESSAGES] [SIZE] [RUNS] [PORT] [SECONDS]
#        defaults:                10000      4096   3      20143  20
# RUNS=0 skips the single-session figures; SECONDS=0 skips the sessions.
set -euo pipefail
cd "$(dirname "$0")/../.."

MESSAGES=${1:-10000}
SIZE=${2:-4096}
RUNS=${3:-3}
PORT=${4:-20143}
SECONDS_EACH=${5:-20}

. benches/dovecot/private.sh
WORK=$(mktemp -d /tmp/postlab-dovecot-imap-XXXXXX)
cleanup() {
    private_dovecot_stop "$WORK"
    rm -rf "$WORK"
}
trap cleanup EXIT

bench() {
    cargo bench --quiet --bench imap_load -- "$@"
}

bench --maildir "$WORK/pristine" --messages "$MESSAGES" --size "$SIZE" | grep '^imap_load'
private_dovecot "$WORK" "$PORT" bob bench

RESULTS="$WORK/results"
: > "$RESULTS"

run_dovecot() {
    rm -rf "$WORK/dovecot/bob"
    cp -r "$WORK/pristine" "$WORK/dovecot/bob"
    # Dovecot refuses to run a mail process as root; "nobody" owns its copy instead.
    chown -R nobody:nogroup "$WORK/dovecot/bob"
    bench --target "127.0.0.1:$PORT" --user bob --password bench --messages "$MESSAGES" \
        --size "$SIZE" "$@" | grep '^imap_load' | sed 's/server at/dovecot at/; s/result server/result dovecot/; s/sessions server/sessions dovecot/; s/kinds server/kinds dovecot/' \
        | tee -a "$RESULTS"
}

run_postlab() {
    rm -rf "$WORK/postlab"
    mkdir -p "$WORK/postlab/mail"
    cp "$WORK/users" "$WORK/postlab/users"
    cp -r "$WORK/pristine" "$WORK/postlab/mail/bob"
    bench --data "$WORK/postlab" --user bob --password bench --messages "$MESSAGES" \
        --size "$SIZE" "$@" | grep '^imap_load' | tee -a "$RESULTS"
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

if [ "$RUNS" -gt 0 ]; then
echo
echo "$MESSAGES messages of $SIZE bytes, medians of $RUNS runs ($(dovecot --version | cut -d' ' -f1) beside postlab):"
echo
echo "| server | first SELECT (s) | second SELECT (s) | FETCH (FLAGS RFC822.SIZE ENVELOPE) (s) | FETCH BODY.PEEK[] (s) | messages/s |"
echo "|---|---|---|---|---|---|"
for server in dovecot postlab; do
    grep "result $server " "$RESULTS" | awk -v server="$server" '
        function median(col,   n, i, j, t, v) {
            n = 0
            for (i = 1; i <= NR; i++) v[++n] = values[i, col]
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
                if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
            return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        }
        {
            for (f = 1; f <= NF; f++) {
                split($f, kv, "=")
                if (kv[2] != "") { values[NR, kv[1]] = kv[2] + 0 }
            }
        }
        END {
            printf "| %s | %.3f | %.3f | %.3f | %.3f | %.0f |\n", server,
                median("select1"), median("select2"), median("list"), median("bodies"), median("rate")
        }'
done
fi

[ "$SECONDS_EACH" -gt 0 ] || exit 0
echo
for clients in 10 50; do
    echo "sessions, $clients clients ($(uptime | sed 's/.*load average/load average/')):"
    run_dovecot --sessions "$clients" --seconds "$SECONDS_EACH" --sessions-only
    run_postlab --sessions "$clients" --seconds "$SECONDS_EACH" --sessions-only
    lower=$(grep "^imap_load: sessions .* clients=$clients " "$RESULTS" | grep -v paced= |
        sed 's/.* rate=\([0-9]*\).*/\1/' | sort -n | head -1)
    for percent in 80 25; do
        pace=$((lower * percent / 100))
        echo "sessions, $clients clients at $pace commands/s ($(uptime | sed 's/.*load average/load average/')):"
        run_dovecot --sessions "$clients" --seconds "$SECONDS_EACH" --sessions-only --rate "$pace"
        run_postlab --sessions "$clients" --seconds "$SECONDS_EACH" --sessions-only --rate "$pace"
    done
done
echo
echo "$MESSAGES messages of $SIZE bytes, sessions that stay logged in, $SECONDS_EACH s each:"
echo
echo "| clients | paced at | server | commands/s | p50 (ms) | p99 (ms) | mean (ms) |"
echo "|---|---|---|---|---|---|---|"
grep '^imap_load: sessions ' "$RESULTS" | awk '
    {
        delete v
        for (f = 3; f <= NF; f++) { split($f, kv, "="); v[kv[1]] = kv[2] }
        paced = ("paced" in v) ? v["paced"] : "-"
        printf "| %s | %s | %s | %s | %s | %s | %s |\n", v["clients"], paced, $3, v["rate"], v["p50"], v["p99"], v["mean"]
        k = v["clients"] SUBSEP paced SUBSEP $3
        rate[k] = v["rate"]; p50[k] = v["p50"]; p99[k] = v["p99"]; mean[k] = v["mean"]
        runs[v["clients"] SUBSEP paced] = 1
    }
    END {
        print ""
        for (r in runs) {
            split(r, cp, SUBSEP)
            d = r SUBSEP "dovecot"; p = r SUBSEP "postlab"
            if (rate[d] > 0 && p50[d] > 0)
                printf "%s clients, paced at %s: postlab/Dovecot commands/s %.2f, latency p50 %.2f, p99 %.2f, mean %.2f\n",
                    cp[1], cp[2], rate[p] / rate[d], p50[p] / p50[d], p99[p] / p99[d], mean[p] / mean[d]
        }
    }'
