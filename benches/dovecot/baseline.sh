#!/usr/bin/env bash
#
# baseline.sh - how fast does a real Dovecot hand out mail over POP3?  The figure postlab's
#               benches/pop3_load.rs is compared with, on the same kind of Maildir.
#
# What it does, in order:
#   1. Installs Debian's "dovecot-pop3d" if dovecot is missing (needs root).
#   2. Fills a throw-away Maildir with MESSAGES messages of SIZE bytes, written by postlab's own
#      Maildir code (`pop3_load --maildir`), owned by "nobody" for Dovecot's mail process.
#   3. Starts a private Dovecot (its own config, run and state directories) whose only listener
#      is 127.0.0.1:PORT, with one passwd-file user bob / bench.
#   4. Runs pop3_load against it (one session, RETR 1..MESSAGES, for each PIPELINE), then the
#      same against a fresh postlab, RUNS times, alternating, and prints every line.
#   5. Stops Dovecot and removes its directory (trap on EXIT).
#
# Usage: benches/dovecot/baseline.sh [MESSAGES] [SIZE] [RUNS] [PORT]
#        defaults:                     5000       4096   3      20110
set -euo pipefail
cd "$(dirname "$0")/../.."

MESSAGES=${1:-5000}
SIZE=${2:-4096}
RUNS=${3:-3}
PORT=${4:-20110}

if ! command -v dovecot >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends dovecot-pop3d
fi

WORK=$(mktemp -d /tmp/postlab-dovecot-XXXXXX)
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
mkdir -p "$WORK/run" "$WORK/state"

cargo bench --bench pop3_load -- --maildir "$WORK/mail/bob" --messages "$MESSAGES" --size "$SIZE" \
    | grep '^pop3_load'
# Dovecot refuses to run a mail process as root; "nobody" owns the mail instead.
chown -R nobody:nogroup "$WORK/mail"
echo 'bob:{PLAIN}bench' > "$WORK/users"

cat > "$WORK/dovecot.conf" <<CONF
base_dir = $WORK/run
state_dir = $WORK/state
log_path = $WORK/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
mail_location = maildir:$WORK/mail/%u
passdb {
  driver = passwd-file
  args = $WORK/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$WORK/mail/%u
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    port = $PORT
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

for run in $(seq "$RUNS"); do
    for pipeline in 1 16; do
        echo "run $run, pipeline $pipeline:"
        cargo bench --bench pop3_load -- --server "127.0.0.1:$PORT" --user bob --password bench \
            --messages "$MESSAGES" --pipeline "$pipeline" | grep '^pop3_load' | sed 's/server at/dovecot at/'
        cargo bench --bench pop3_load -- --messages "$MESSAGES" --size "$SIZE" --pipeline "$pipeline" \
            | grep '^pop3_load: postlab'
    done
done
