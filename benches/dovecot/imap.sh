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
#   6. Stops Dovecot and removes its directory (trap on EXIT).
#
# Usage: benches/dovecot/imap.sh [MESSAGES] [SIZE] [RUNS] [PORT]
#        defaults:                10000      4096   3      20143
set -euo pipefail
cd "$(dirname "$0")/../.."

MESSAGES=${1:-10000}
SIZE=${2:-4096}
RUNS=${3:-3}
PORT=${4:-20143}

if [ ! -x /usr/lib/dovecot/imap ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends dovecot-imapd
fi

WORK=$(mktemp -d /tmp/postlab-dovecot-imap-XXXXXX)
cleanup() {
    if [ -f "$WORK/run/master.pid" ]; then
        kill "$(cat "$WORK/run/master.pid")" 2>/dev/null || true
        sleep 1
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
# mktemp makes the folder private; Dovecot's auth and mail processes (not root) must enter it.
chmod 755 "$WORK"
mkdir -p "$WORK/run" "$WORK/state" "$WORK/dovecot"

bench() {
    cargo bench --quiet --bench imap_load -- "$@"
}

bench --maildir "$WORK/pristine" --messages "$MESSAGES" --size "$SIZE" | grep '^imap_load'
echo 'bob:{PLAIN}bench' > "$WORK/users"

cat > "$WORK/dovecot.conf" <<CONF
base_dir = $WORK/run
state_dir = $WORK/state
log_path = $WORK/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
mail_location = maildir:$WORK/dovecot/%u
passdb {
  driver = passwd-file
  args = $WORK/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$WORK/dovecot/%u
}
service imap-login {
  chroot =
  inet_listener imap {
    port = $PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
CONF
dovecot -c "$WORK/dovecot.conf"
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done

RESULTS="$WORK/results"
: > "$RESULTS"

run_dovecot() {
    rm -rf "$WORK/dovecot/bob"
    cp -r "$WORK/pristine" "$WORK/dovecot/bob"
    # Dovecot refuses to run a mail process as root; "nobody" owns its copy instead.
    chown -R nobody:nogroup "$WORK/dovecot/bob"
    bench --target "127.0.0.1:$PORT" --user bob --password bench --messages "$MESSAGES" \
        --size "$SIZE" | grep '^imap_load' | sed 's/server at/dovecot at/; s/result server/result dovecot/' \
        | tee -a "$RESULTS"
}

run_postlab() {
    rm -rf "$WORK/postlab"
    mkdir -p "$WORK/postlab/mail"
    cp "$WORK/users" "$WORK/postlab/users"
    cp -r "$WORK/pristine" "$WORK/postlab/mail/bob"
    bench --data "$WORK/postlab" --user bob --password bench --messages "$MESSAGES" \
        --size "$SIZE" | grep '^imap_load' | tee -a "$RESULTS"
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
