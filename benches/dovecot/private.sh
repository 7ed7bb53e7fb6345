# private.sh - sourced by the scripts beside it: starts and stops a private Dovecot.
#
# private_dovecot WORK PORT USER PASSWORD
#   Writes WORK/dovecot.conf and starts Dovecot as root with its own run and state directories
#   under WORK, one passwd-file user, mail in WORK/dovecot/USER (Maildir) owned by "nobody",
#   IMAP only on 127.0.0.1:PORT, and up to 500 sessions of one user from one address (the
#   default of 10 would refuse the benches' 50 clients). Waits until the port answers.
#   DOVECOT_FSYNC=never in the environment sets Dovecot's mail_fsync (default "optimized":
#   Dovecot syncs its index and log files after changes; postlab's flag changes are renames
#   it does not sync), to compare the two without the disk's share.
# private_dovecot_stop WORK
#   Stops it (for a trap on EXIT).

private_dovecot() {
    local work=$1 port=$2 user=$3 password=$4
    if [ ! -x /usr/lib/dovecot/imap ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dovecot-imapd
    fi
    # mktemp makes folders private; Dovecot's auth and mail processes (not root) must enter it.
    chmod 755 "$work"
    mkdir -p "$work/run" "$work/state" "$work/dovecot"
    chown nobody:nogroup "$work/dovecot"
    echo "$user:{PLAIN}$password" > "$work/users"
    cat > "$work/dovecot.conf" <<CONF
base_dir = $work/run
state_dir = $work/state
log_path = $work/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
mail_location = maildir:$work/dovecot/%u
mail_max_userip_connections = 500
mail_fsync = ${DOVECOT_FSYNC:-optimized}
passdb {
  driver = passwd-file
  args = $work/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$work/dovecot/%u
}
service imap-login {
  chroot =
  inet_listener imap {
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
service imap {
  process_limit = 1000
}
service anvil {
  chroot =
}
CONF
    dovecot -c "$work/dovecot.conf"
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "private.sh: Dovecot does not answer on port $port" >&2
    return 1
}

private_dovecot_stop() {
    local work=$1
    if [ -f "$work/run/master.pid" ]; then
        kill "$(cat "$work/run/master.pid")" 2>/dev/null || true
        sleep 1
    fi
}
