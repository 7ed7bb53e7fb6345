#!/usr/bin/env bash
# A private Postfix for the interoperability test (tests/postfix.rs), on loopback only.
#
#   postfix.sh start WORKDIR PORT POSTLAB_PORT [POSTLAB_BIN POSTLAB_DATA]
#                                                start it; prints nothing, exits 0 when it listens
#   postfix.sh stop WORKDIR                      stop it and remove WORKDIR
#
# The instance
#   - listens on 127.0.0.1:PORT and nowhere else;
#   - delivers mail for bob@pf.test into the Maildir WORKDIR/mail/bob/;
#   - relays mail for a.test to postlab at [127.0.0.1]:POSTLAB_PORT (a transport map);
#   - speaks TLS both ways when it can: it offers STARTTLS with a throw-away self-signed
#     certificate (made with openssl) and uses STARTTLS when postlab offers it;
#   - with POSTLAB_BIN and POSTLAB_DATA: delivers mail for USER@lda.test through a pipe(8)
#     transport running `postlab deliver --data POSTLAB_DATA --user USER` as nobody (postlab
#     as Postfix's local delivery agent); POSTLAB_DATA is given to nobody for that;
#   - sends nothing anywhere else (every other destination is an error).
# It never touches the system's own Postfix configuration or queue. Needs root: Postfix's
# master(8) starts as root and drops privileges.
set -euo pipefail

cmd=${1:?usage: postfix.sh start WORKDIR PORT POSTLAB_PORT | stop WORKDIR}
WORKDIR=${2:?WORKDIR}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

case "$cmd" in
stop)
    postfix -c "$WORKDIR/etc" stop >/dev/null 2>&1 || true
    if [[ -f $WORKDIR/queue/pid/master.pid ]]; then
        pid=$(tr -d ' ' <"$WORKDIR/queue/pid/master.pid")
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf -- "$WORKDIR"
    ;;
start)
    PORT=${3:?PORT}
    POSTLAB_PORT=${4:?POSTLAB_PORT}
    POSTLAB_BIN=${5:-}
    POSTLAB_DATA=${6:-}
    ((EUID == 0)) || { echo "postfix.sh: needs root (Postfix's master runs as root)" >&2; exit 1; }
    command -v postfix >/dev/null || { echo "postfix.sh: Postfix is not installed (.ci/run installs it)" >&2; exit 1; }
    mkdir -p "$WORKDIR"/{etc,queue,data,mail}
    chmod 755 "$WORKDIR"
    chown postfix "$WORKDIR/data"
    uid=$(id -u nobody)
    gid=$(id -g nobody)
    chown "$uid:$gid" "$WORKDIR/mail"
    relay="a.test"
    routes="a.test=smtp:[127.0.0.1]:$POSTLAB_PORT"
    if [[ -n $POSTLAB_BIN ]]; then
        # A copy nobody can surely run, whatever the build folder's permissions.
        install -m 755 "$POSTLAB_BIN" "$WORKDIR/postlab"
        chown -R "$uid:$gid" "$POSTLAB_DATA"
        relay="a.test, lda.test"
        routes="$routes lda.test=postlab:"
    fi
    # A throw-away certificate, so Postfix offers STARTTLS to postlab's relay client.
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.pf.test \
        -keyout "$WORKDIR/etc/key.pem" -out "$WORKDIR/etc/cert.pem" >/dev/null 2>&1
    chmod 600 "$WORKDIR/etc/key.pem"
    cat >"$WORKDIR/etc/main.cf" <<CONF
# A throw-away Postfix for postlab's interoperability test.
compatibility_level = 3.6
queue_directory = $WORKDIR/queue
data_directory  = $WORKDIR/data
meta_directory  = /etc/postfix
syslog_name           = postfix-interop
maillog_file          = $WORKDIR/maillog
maillog_file_prefixes = $WORKDIR
inet_interfaces = 127.0.0.1
inet_protocols  = ipv4
mynetworks      = 127.0.0.0/8
myhostname      = mx.pf.test
mydestination   =
alias_maps      =
alias_database  =
# bob@pf.test is a Maildir here (the trailing slash makes it a Maildir).
virtual_mailbox_domains = pf.test
virtual_mailbox_base    = $WORKDIR/mail
virtual_mailbox_maps    = inline:{ bob@pf.test=bob/ }
virtual_uid_maps        = static:$uid
virtual_gid_maps        = static:$gid
# Mail for a.test goes to postlab; nothing else leaves.
relay_domains     = $relay
transport_maps    = inline:{ $routes }
# One recipient per pipe(8) call, so \${user} names exactly one account.
postlab_destination_recipient_limit = 1
default_transport = error:this test instance sends no mail out
relay_transport   = error:this test instance sends no mail out
# TLS both ways, opportunistic (postlab's certificate is self-signed, so no verification).
smtpd_tls_cert_file = $WORKDIR/etc/cert.pem
smtpd_tls_key_file  = $WORKDIR/etc/key.pem
smtpd_tls_security_level = may
smtp_tls_security_level  = may
smtpd_tls_received_header = yes
biff = no
CONF
    cp /usr/share/postfix/master.cf.dist "$WORKDIR/etc/master.cf"
    postconf -c "$WORKDIR/etc" -M# smtp/inet
    postconf -c "$WORKDIR/etc" -M "127.0.0.1:$PORT/inet = 127.0.0.1:$PORT inet n - n - - smtpd"
    if [[ -n $POSTLAB_BIN ]]; then
        postconf -c "$WORKDIR/etc" -M "postlab/unix = postlab unix - n n - - pipe user=nobody argv=$WORKDIR/postlab deliver --data $POSTLAB_DATA --user \${user} --from \${sender}"
    fi
    postconf -c "$WORKDIR/etc" -F '*/*/chroot = n'
    if ! postfix -c "$WORKDIR/etc" start >/dev/null 2>&1; then
        tail -n 20 "$WORKDIR/maillog" >&2 2>/dev/null || true
        echo "postfix.sh: Postfix did not start" >&2
        exit 1
    fi
    deadline=$((SECONDS + 30))
    until port_open "$PORT"; do
        ((SECONDS < deadline)) || { echo "postfix.sh: no listener on $PORT after 30 s" >&2; exit 1; }
        sleep 0.1
    done
    ;;
*)
    echo "usage: postfix.sh start WORKDIR PORT POSTLAB_PORT | stop WORKDIR" >&2
    exit 2
    ;;
esac
