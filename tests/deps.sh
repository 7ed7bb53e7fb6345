#!/usr/bin/env bash
# What `make test` needs beyond the Rust toolchain, gcc, Python 3 and libssl-dev, and how it
# gets it. `make test` (and so `.ci/run`) runs this first: as root with apt-get it installs what
# is missing; otherwise it stops at once with the exact command to run, instead of a wall of
# failing tests.
#
# The real peers and tools the integration tests drive:
#   swaks    a real SMTP client (tests/clients.rs)
#   strace   watches the fsync-before-250 ordering (tests/durability.rs)
#   postfix  a real peer that relays to and from postlab (tests/postfix.rs); installed with
#            "No configuration", so no system Postfix is set up or started
#   curl     a real POP3 and IMAP client (tests/pop3.rs, tests/imap.rs)
#   dig      a real DNS client asking `postlab dns` (tests/dns.rs), from bind9-dnsutils
#   named-checkzone  BIND's zone file check, run on the lab's zones (tests/dns.rs, tests/lab.rs),
#            from bind9-utils
#   openssl  s_client speaks STARTTLS and SMTPS, x509 computes fingerprints (tests/tls.rs)
#   msmtp, s-nail, mutt, fetchmail, getmail6, mbsync (isync), offlineimap3, and tmux to give
#            mutt a terminal: real mail programs as users set them up (tests/real_clients.rs)
#   unshare  (util-linux) a throw-away root to install the Debian package in (tests/package.rs)
#   rsvg-convert  (librsvg2-bin) renders `postlab trace --svg` pictures to PNG (tests/trace_svg.rs)
#   setpriv  (util-linux) runs `lab up --netns` as nobody, to see it refused (tests/lab_netns.rs)
#   ip, tc   (iproute2) the lab's network namespaces, links and delays (tests/lab_netns.rs)
#   chromium, chromedriver (chromium-driver)  a real browser, headless, driven over WebDriver:
#            logs in to the webmail, watches the journey board (tests/web.rs)
#   dkimverify  dkimpy, an independent DKIM verifier our signatures must pass (tests/mailauth.rs)
set -euo pipefail

# command to look for, and the Debian package that has it
wanted=(
    "swaks swaks"
    "strace strace"
    "curl curl"
    "/usr/sbin/postfix postfix"
    "dig bind9-dnsutils"
    "named-checkzone bind9-utils"
    "openssl openssl"
    "msmtp msmtp"
    "s-nail s-nail"
    "mutt mutt"
    "tmux tmux"
    "fetchmail fetchmail"
    "getmail getmail6"
    "mbsync isync"
    "offlineimap offlineimap3"
    "unshare util-linux"
    "rsvg-convert librsvg2-bin"
    "setpriv util-linux"
    "ip iproute2"
    "tc iproute2"
    "chromium chromium"
    "chromedriver chromium-driver"
    "dkimverify python3-dkim"
)

# cargo-deb builds `make deb`'s package (tests/package.rs); it comes from crates.io, not apt,
# and needs no root. The version is pinned: it is the one checked to build with this toolchain.
if ! command -v cargo-deb >/dev/null 2>&1; then
    echo "make test: installing cargo-deb 3.8.0 (cargo install, once)"
    cargo install cargo-deb --version 3.8.0 --locked --quiet
fi

need=()
for pair in "${wanted[@]}"; do
    read -r tool package <<<"$pair"
    if [[ $tool == /* ]]; then
        [ -x "$tool" ] || need+=("$package")
    else
        command -v "$tool" >/dev/null 2>&1 || need+=("$package")
    fi
done
[ ${#need[@]} -eq 0 ] && exit 0

command="apt-get install -y --no-install-recommends ${need[*]}"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "make test needs: ${need[*]}" >&2
    echo "install them first, e.g.:  sudo apt-get update && sudo $command" >&2
    echo "(postfix asks how to configure itself: choose \"No configuration\")" >&2
    exit 1
fi

echo "make test: installing ${need[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -q
apt-get install -y -q --no-install-recommends "${need[@]}"
