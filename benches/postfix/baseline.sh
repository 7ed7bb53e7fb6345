#!/usr/bin/env bash
#
# baseline.sh - how fast does a real Postfix take mail over SMTP and land it,
#               durably, in a Maildir?  The figure postlab is compared with.
#
# What it does, in order:
#   1. Installs Debian's "postfix" package if it is missing (it brings the
#      load generator smtp-source(1) too).  The package is installed with
#      "No configuration", so the system-wide Postfix is NOT set up or started.
#   2. Builds a private, throw-away Postfix instance in a temporary directory
#      (own config, queue and data directories) whose only SMTP listener is
#      127.0.0.1:$PORT, and which delivers mail for bob@bench.test into the
#      Maildir $WORKDIR/mail/bob/ using Postfix's virtual(8) delivery agent.
#   3. Runs smtp-source against it: SESSIONS parallel SMTP sessions sending
#      MESSAGES messages in total, each with SIZE bytes of body.
#   4. Measures two times, both starting when smtp-source starts:
#        accept time   - until smtp-source exits, i.e. every message got its
#                        "250 OK" after DATA (Postfix has fsync'ed its queue
#                        file by then);
#        delivery time - until every message is a file in the Maildir's new/
#                        directory (Postfix's virtual agent fsyncs each file
#                        before linking it into new/).
#   5. Stops the private instance and deletes its directory (trap on EXIT).
#
# With --target, steps 1(partly), 2 and 5 are skipped: smtp-source is pointed
# at an SMTP server that is already running (e.g. postlab) and the Maildir you
# name is polled instead.  That way both servers are measured the same way.
#
# Run "baseline.sh --help" for the options.  Everything is on loopback only.

set -euo pipefail
export LC_ALL=C          # "1.5", not "1,5", in the numbers we print and parse

# --------------------------------------------------------------------------
# Settings.  Each can be given as an environment variable or as an option.
# --------------------------------------------------------------------------
SESSIONS=${SESSIONS:-10}      # parallel SMTP sessions           (smtp-source -s)
MESSAGES=${MESSAGES:-1000}    # messages in TOTAL, all sessions  (smtp-source -m)
SIZE=${SIZE:-4096}            # body bytes per message, headers not counted (-l)
PORT=${PORT:-12525}           # loopback port of the private Postfix
RUNS=${RUNS:-1}               # measured runs; with more than one a median is shown
WARMUP=${WARMUP:-20}          # messages sent (and waited for) before measuring; 0 = none
TIMEOUT=${TIMEOUT:-300}       # seconds to wait for delivery after smtp-source ends
REUSE=${REUSE:-0}             # 1 = many messages per connection (smtp-source -d)
TMPBASE=${TMPBASE:-/tmp}      # where the private instance's directory is made
KEEP=${KEEP:-0}               # 1 = keep that directory (config, maillog) at exit
EXTRA_CONF=()                 # -o NAME=VALUE: main.cf settings to try out

TARGET=""    # --target HOST:PORT   an already running SMTP server
RCPT=""      # --rcpt ADDRESS        recipient to send to
MAILDIR=""   # --maildir DIR         the Maildir the recipient's mail lands in

SENDER="loadgen@loadgen.test"  # envelope sender used by smtp-source (-f)
HELO="loadgen.test"            # name smtp-source says in HELO (-M)

usage() {
    cat <<EOF
Usage:
  $0 [options]
      benchmark a private Postfix listening on 127.0.0.1:PORT
  $0 --target HOST:PORT --rcpt ADDR --maildir DIR [options]
      benchmark an SMTP server that is already running (e.g. postlab)

Load options (same meaning in both modes):
  -s, --sessions N     parallel SMTP sessions                 (default $SESSIONS)
  -m, --messages N     messages in total, over all sessions   (default $MESSAGES)
  -l, --size BYTES     body size of each message              (default $SIZE)
  -r, --runs N         measured runs; median printed if N > 1 (default $RUNS)
  -w, --warmup N       unmeasured warm-up messages first      (default $WARMUP)
  -d, --reuse          send many messages per connection (smtp-source -d);
                       by default each message has its own connection
  -t, --timeout SECS   how long to wait for delivery          (default $TIMEOUT)

Private Postfix options:
  -p, --port N         loopback port to listen on             (default $PORT)
      --tmp DIR        make the instance's directory in DIR   (default $TMPBASE)
      --keep           keep that directory (main.cf, maillog, mail) at exit
  -o  NAME=VALUE       extra main.cf setting, may be repeated; for experiments
                       such as -o in_flow_delay=0 (see postconf(5))

Target mode (skips the private Postfix):
      --target HOST:PORT  SMTP server to load; must be a loopback address
      --rcpt ADDR         recipient address              (e.g. bob@localhost)
      --maildir DIR       Maildir that ADDR's mail lands in; DIR/new is polled

Options may also be given as environment variables: SESSIONS, MESSAGES,
SIZE, PORT, RUNS, WARMUP, TIMEOUT, REUSE=1, TMPBASE, KEEP=1.
EOF
}

log() { printf '[baseline] %s\n' "$*" >&2; }
die() { printf '[baseline] ERROR: %s\n' "$*" >&2; exit 1; }

# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------
while (($#)); do
    case "$1" in
        -s|--sessions) SESSIONS=$2; shift 2 ;;
        -m|--messages) MESSAGES=$2; shift 2 ;;
        -l|--size)     SIZE=$2;     shift 2 ;;
        -r|--runs)     RUNS=$2;     shift 2 ;;
        -w|--warmup)   WARMUP=$2;   shift 2 ;;
        -t|--timeout)  TIMEOUT=$2;  shift 2 ;;
        -p|--port)     PORT=$2;     shift 2 ;;
        -d|--reuse)    REUSE=1;     shift ;;
        --tmp)         TMPBASE=$2;  shift 2 ;;
        --keep)        KEEP=1;      shift ;;
        -o)            EXTRA_CONF+=("$2"); shift 2 ;;
        --target)      TARGET=$2;   shift 2 ;;
        --rcpt)        RCPT=$2;     shift 2 ;;
        --maildir)     MAILDIR=$2;  shift 2 ;;
        -h|--help)     usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done

for var in SESSIONS MESSAGES SIZE RUNS WARMUP TIMEOUT PORT; do
    [[ ${!var} =~ ^[0-9]+$ ]] || die "$var must be a whole number, got '${!var}'"
done
((SESSIONS >= 1 && MESSAGES >= 1 && RUNS >= 1)) || die "sessions, messages and runs must be >= 1"

if [[ -n $TARGET ]]; then
    [[ -n $RCPT && -n $MAILDIR ]] || die "--target needs --rcpt and --maildir too"
    # This is a load generator: only ever point it at this machine.
    case "$TARGET" in
        127.*:[0-9]*|localhost:[0-9]*|'[::1]':[0-9]*) ;;
        *) die "--target must be a loopback address with a port (127.x.x.x:PORT, localhost:PORT, [::1]:PORT), got '$TARGET'" ;;
    esac
else
    RCPT="bob@bench.test"
fi

# --------------------------------------------------------------------------
# 1. Make sure Postfix (and so smtp-source) is installed.
# --------------------------------------------------------------------------
ensure_postfix_installed() {
    if [[ -x /usr/sbin/postfix && -x /usr/sbin/smtp-source ]]; then
        return
    fi
    ((EUID == 0)) || die "Postfix is not installed; run this as root so it can be installed"
    log "installing Debian's postfix package (\"No configuration\": nothing is set up or started)"
    # Answer the installer's question in advance.  With "No configuration"
    # the package writes no /etc/postfix/main.cf, and a Postfix without a
    # main.cf refuses to start, so the system instance stays off.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    # Only fetch the package lists if apt does not know the package yet.
    if [[ -z $(apt-cache madison postfix 2>/dev/null) ]]; then
        apt-get update
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y postfix ||
        { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postfix; }
}
ensure_postfix_installed
SMTP_SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)

# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

# Microseconds since the epoch, without starting a process (bash >= 5).
now_us() { local t=$EPOCHREALTIME; echo $(( ${t/./} )); }

# Number of messages in a Maildir's new/ (0 if new/ does not exist yet).
# A bash glob is used rather than "ls | wc -l" so that polling costs no fork.
count_new() {
    local files
    shopt -s nullglob
    files=("$1"/new/*)
    shopt -u nullglob
    echo "${#files[@]}"
}

# Does something accept TCP connections on HOST PORT?  (bash's /dev/tcp)
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# awk does the floating point work.
fmt_s()    { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1e6 }'; }
fmt_rate() { awk -v n="$1" -v us="$2" 'BEGIN { printf "%.1f", (us > 0) ? n * 1e6 / us : 0 }'; }
median()   { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
              END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# --------------------------------------------------------------------------
# 2. The private Postfix instance
# --------------------------------------------------------------------------
WORKDIR=""          # set below; everything of the instance lives in here
MASTER_PID=""       # pid of the instance's master(8) process once started

cleanup() {
    local rc=$?
    if [[ -n $MASTER_PID ]]; then
        log "stopping the private Postfix (master pid $MASTER_PID)"
        postfix -c "$WORKDIR/etc" stop >/dev/null 2>&1 || true
        # "postfix stop" only signals master(8); wait until it is really gone
        # before deleting the directory under its feet.
        for _ in $(seq 100); do
            kill -0 "$MASTER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$MASTER_PID" 2>/dev/null; then
            postfix -c "$WORKDIR/etc" abort >/dev/null 2>&1 || true
            sleep 1
        fi
    fi
    if [[ -n $WORKDIR && -d $WORKDIR ]]; then
        if ((KEEP)); then
            log "kept $WORKDIR (maillog: $WORKDIR/maillog)"
        else
            rm -rf -- "$WORKDIR"
        fi
    fi
    exit "$rc"
}

start_private_postfix() {
    ((EUID == 0)) || die "the private Postfix needs root (its master(8) runs as root); or use --target"
    port_open 127.0.0.1 "$PORT" && die "something already listens on 127.0.0.1:$PORT; pick another --port"

    WORKDIR=$(mktemp -d "$TMPBASE/postfix-bench.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT TERM        # ^C still goes through cleanup

    # fsync on tmpfs costs nothing, which would flatter Postfix (and postlab).
    local fstype
    fstype=$(stat -f -c %T "$WORKDIR")
    if [[ $fstype == tmpfs || $fstype == ramfs ]]; then
        log "WARNING: $TMPBASE is $fstype (RAM): fsync is free there. Use --tmp on a real disk."
    fi

    # Layout:  etc/    config_directory  (main.cf, master.cf)      root
    #          queue/  queue_directory   (Postfix fills it in)     root
    #          data/   data_directory    (master.lock etc.)        postfix
    #          mail/   virtual_mailbox_base; bob/ is the Maildir   nobody
    #          maillog the instance's log file
    # The top directory must be searchable by the users postfix and nobody.
    chmod 755 "$WORKDIR"
    mkdir "$WORKDIR/etc" "$WORKDIR/queue" "$WORKDIR/data" "$WORKDIR/mail"
    chown postfix "$WORKDIR/data"

    # Mail is stored as this (existing, unprivileged) user and group.
    local mail_uid mail_gid
    mail_uid=$(id -u nobody)
    mail_gid=$(id -g nobody)
    chown "$mail_uid:$mail_gid" "$WORKDIR/mail"

    # ---- main.cf: only what differs from Postfix's built-in defaults ------
    cat >"$WORKDIR/etc/main.cf" <<EOF
# Private benchmark instance made by baseline.sh - not the system's Postfix.
compatibility_level = 3.6

# Everything this instance owns lives under $WORKDIR.
queue_directory = $WORKDIR/queue
data_directory  = $WORKDIR/data
# The package's list of Postfix files (postfix-files) stays where Debian put it.
meta_directory  = /etc/postfix

# Logging: there may be no syslog daemon, so write our own log file.
# Postfix only writes a maillog_file below an allowed prefix.
syslog_name           = postfix-bench
maillog_file          = $WORKDIR/maillog
maillog_file_prefixes = $WORKDIR

# Network: loopback only, IPv4 only.  The listener itself is in master.cf.
inet_interfaces = 127.0.0.1
inet_protocols  = ipv4
mynetworks      = 127.0.0.0/8
myhostname      = mta.bench.test

# This instance delivers nothing locally and sends nothing out: a message
# that is not for bench.test fails at once instead of leaving the machine.
mydestination    =
alias_maps       =
alias_database   =
default_transport = error:the benchmark instance sends no mail out
relay_transport   = error:the benchmark instance sends no mail out

# Delivery: bob@bench.test -> Maildir $WORKDIR/mail/bob/ (the trailing
# slash in "bob/" is what makes virtual(8) write a Maildir, not an mbox).
virtual_mailbox_domains = bench.test
virtual_mailbox_base    = $WORKDIR/mail
virtual_mailbox_maps    = inline:{ bob@bench.test=bob/ }
virtual_uid_maps        = static:$mail_uid
virtual_gid_maps        = static:$mail_gid

# Benchmark-friendly, durability untouched:
#  - the load comes from one address, so don't apply per-client limits
#    (connection count/rate) to it; they are meant for strangers;
#  - no biff notifications.
# NOT changed: Postfix still fsyncs each queue file before answering 250,
# and fsyncs each Maildir file before it appears in new/.
smtpd_client_event_limit_exceptions = 127.0.0.0/8
biff = no
EOF

    # Settings given with -o on the command line win over the ones above.
    if ((${#EXTRA_CONF[@]})); then
        postconf -c "$WORKDIR/etc" -e "${EXTRA_CONF[@]}"
        log "extra main.cf settings: ${EXTRA_CONF[*]}"
    fi

    # ---- master.cf: the package's pristine copy, edited with postconf ----
    cp /usr/share/postfix/master.cf.dist "$WORKDIR/etc/master.cf"
    # Comment out the stock listener on port 25 ...
    postconf -c "$WORKDIR/etc" -M# smtp/inet
    # ... and add ours, on 127.0.0.1:$PORT only.
    postconf -c "$WORKDIR/etc" -M "127.0.0.1:$PORT/inet = 127.0.0.1:$PORT inet n - n - - smtpd"
    # Debian runs most daemons chroot'ed into the queue directory, which needs
    # copies of /etc files in there.  Not worth it for a throw-away instance.
    postconf -c "$WORKDIR/etc" -F '*/*/chroot = n'

    # Safety check before starting anything: the ONLY network listener must
    # be 127.0.0.1:$PORT.
    local listeners
    listeners=$(postconf -c "$WORKDIR/etc" -M | awk '$2 == "inet" { print $1 }')
    [[ $listeners == "127.0.0.1:$PORT" ]] || die "unexpected listeners in master.cf: $listeners"
    [[ $(postconf -c "$WORKDIR/etc" -h inet_interfaces) == 127.0.0.1 ]] ||
        die "inet_interfaces must stay 127.0.0.1"

    log "starting a private Postfix $(postconf -c "$WORKDIR/etc" -h mail_version) on 127.0.0.1:$PORT in $WORKDIR"
    # "postfix -c DIR" runs the instance whose main.cf is in DIR.  "start"
    # also runs "postfix check", which creates the queue's subdirectories.
    # Note: the postfix command prints its errors only to a terminal; when
    # run from a script they end up in the maillog.
    if ! postfix -c "$WORKDIR/etc" start >/dev/null 2>&1; then
        tail -n 20 "$WORKDIR/maillog" >&2 2>/dev/null || true
        die "postfix did not start (log above)"
    fi
    MASTER_PID=$(tr -d ' ' <"$WORKDIR/queue/pid/master.pid")

    # Wait, with a deadline, until the listener answers.
    local deadline=$((SECONDS + 30))
    until port_open 127.0.0.1 "$PORT"; do
        ((SECONDS < deadline)) || die "Postfix did not listen on 127.0.0.1:$PORT within 30 s"
        sleep 0.1
    done

    TARGET="127.0.0.1:$PORT"
    MAILDIR="$WORKDIR/mail/bob"
}

# --------------------------------------------------------------------------
# 3. + 4.  One measured batch
# --------------------------------------------------------------------------
# run_batch COUNT: send COUNT messages and wait until they are all in new/.
# Sets ACCEPT_US (smtp-source's run time) and TOTAL_US (until all delivered).
run_batch() {
    local count=$1 before want have deadline t0 t1 t2
    local args=(-s "$SESSIONS" -m "$count" -l "$SIZE"
                -f "$SENDER" -M "$HELO" -t "$RCPT")
    if ((REUSE)); then
        args+=(-d)
    fi

    sync                              # start from a quiet disk
    before=$(count_new "$MAILDIR")    # the Maildir may already hold mail
    want=$((before + count))

    t0=$(now_us)
    # smtp-source stops with an error on any unexpected SMTP reply.
    "$SMTP_SOURCE" "${args[@]}" "inet:$TARGET" || die "smtp-source failed (exit $?)"
    t1=$(now_us)

    # Poll new/ until every message is there, or give up at the deadline.
    deadline=$((t1 + TIMEOUT * 1000000))
    while have=$(count_new "$MAILDIR"); ((have < want)); do
        if (($(now_us) >= deadline)); then
            die "only $((have - before)) of $count messages reached $MAILDIR/new within ${TIMEOUT}s"
        fi
        sleep 0.01
    done
    t2=$(now_us)

    ACCEPT_US=$((t1 - t0))
    TOTAL_US=$((t2 - t0))
}

# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------
if [[ -z $TARGET ]]; then
    start_private_postfix
fi

if ((REUSE)); then
    reuse_flag=" -d" connections="many messages per connection"
else
    reuse_flag=""    connections="one connection per message"
fi
fstype=$(stat -f -c %T "$(dirname "$MAILDIR")" 2>/dev/null || echo unknown)
cat <<EOF
# target      $TARGET, recipient $RCPT
# maildir     $MAILDIR/new (file system: $fstype)
# load        smtp-source -s $SESSIONS -m $MESSAGES -l $SIZE$reuse_flag: $MESSAGES messages in total,
#             $SIZE-byte bodies, $SESSIONS parallel session(s), $connections
EOF

if ((WARMUP > 0)); then
    run_batch "$WARMUP"
    echo "# warm-up     $WARMUP messages delivered in $(fmt_s "$TOTAL_US") s (not counted)"
fi

printf '%-6s %8s %8s %6s %10s %10s %10s %10s\n' \
    run messages sessions size accept_s accept/s total_s msgs/s
accepts=() totals=()
for run in $(seq "$RUNS"); do
    # In our own instance, empty new/ so that every run starts alike.
    # (A --target Maildir is never touched: counts are relative.)
    if [[ -n $WORKDIR && -d $MAILDIR/new ]]; then
        find "$MAILDIR/new" -type f -delete
    fi
    run_batch "$MESSAGES"
    accepts+=("$ACCEPT_US")
    totals+=("$TOTAL_US")
    printf '%-6s %8d %8d %6d %10s %10s %10s %10s\n' "$run" "$MESSAGES" "$SESSIONS" "$SIZE" \
        "$(fmt_s "$ACCEPT_US")" "$(fmt_rate "$MESSAGES" "$ACCEPT_US")" \
        "$(fmt_s "$TOTAL_US")" "$(fmt_rate "$MESSAGES" "$TOTAL_US")"
done

if ((RUNS > 1)); then
    a=$(median "${accepts[@]}")
    t=$(median "${totals[@]}")
    printf '%-6s %8d %8d %6d %10s %10s %10s %10s\n' median "$MESSAGES" "$SESSIONS" "$SIZE" \
        "$(fmt_s "$a")" "$(fmt_rate "$MESSAGES" "$a")" "$(fmt_s "$t")" "$(fmt_rate "$MESSAGES" "$t")"
fi
# Columns: accept_s = smtp-source's own run time (every message answered 250);
# total_s = from smtp-source's start until all messages are files in new/;
# accept/s and msgs/s are MESSAGES divided by those times.
