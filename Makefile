# postlab: the two commands that matter are `make run` and `make test`.

CARGO ?= cargo
# make bench SESSIONS=10 MESSAGES=1000 SIZE=4096
SESSIONS ?= 10
MESSAGES ?= 1000
SIZE ?= 4096
HANDSHAKES ?= 500

.PHONY: run build test test-deps deb fmt lint bench bench-postfix bench-pop3 fuzz stress clean

## run: build and start the server on its embedded defaults (data in ./var)
run:
	@echo "make run: building postlab (the first build takes a few minutes; cargo shows its progress)"
	$(CARGO) build
	@echo "make run: starting the server on its defaults, data in ./var (Ctrl-C stops it)"
	$(CARGO) run --quiet -- serve

build:
	$(CARGO) build --release

## test: install the real clients and peers the tests drive if they are missing (tests/deps.sh),
## then unit tests, then the integration tests against real servers and clients
test: test-deps
	$(CARGO) test

test-deps:
	@bash tests/deps.sh

## deb: a Debian package (target/debian/postlab_*.deb) for lab PCs: dpkg -i, then systemctl start postlab
deb:
	command -v cargo-deb >/dev/null || $(CARGO) install cargo-deb --version 3.8.0 --locked
	$(CARGO) deb

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

## bench: N parallel SMTP sessions x M messages of K bytes, every one checked in the Maildir;
## then the relay figure: the same load through one postlab's queue into another's Maildir,
## the same inside STARTTLS with TLS handshakes per second, and POP3 retrieval
bench:
	$(CARGO) bench --bench smtp_load -- --sessions $(SESSIONS) --messages $(MESSAGES) --size $(SIZE)
	$(CARGO) bench --bench relay_load -- --sessions $(SESSIONS) --messages 100 --size $(SIZE)
	$(CARGO) bench --bench tls_load -- --sessions $(SESSIONS) --messages $(MESSAGES) --size $(SIZE) --handshakes $(HANDSHAKES)
	$(MAKE) bench-pop3

## bench-auth: what SPF, DKIM and DMARC cost (issue 20): smtp_load plain, with dkim_sign, and
## checking every message (two signatures, SPF, DMARC from a lab DNS of its own), taken in turn
## AUTH_RUNS times so a noisy machine moves all three alike; then relay_load without and with
## signing. Compare the messages/s of each line with the plain ones next to it, and the server's
## CPU per message (which moves less than messages/s when other work shares the machine).
AUTH_RUNS ?= 3
.PHONY: bench-auth
bench-auth:
	$(CARGO) build --release --bench smtp_load --bench relay_load
	for n in $$(seq $(AUTH_RUNS)); do \
		$(CARGO) bench --bench smtp_load -- --sessions $(SESSIONS) --messages $(MESSAGES) --size $(SIZE) && \
		$(CARGO) bench --bench smtp_load -- --sessions $(SESSIONS) --messages $(MESSAGES) --size $(SIZE) --dkim sign && \
		$(CARGO) bench --bench smtp_load -- --sessions $(SESSIONS) --messages $(MESSAGES) --size $(SIZE) --dkim check || exit 1; \
	done
	for n in $$(seq $(AUTH_RUNS)); do \
		$(CARGO) bench --bench relay_load -- --sessions $(SESSIONS) --messages 100 --size $(SIZE) && \
		$(CARGO) bench --bench relay_load -- --sessions $(SESSIONS) --messages 100 --size $(SIZE) --dkim || exit 1; \
	done

## bench-postfix: Postfix on this machine under the same load, for comparison (needs root)
bench-postfix:
	bash benches/postfix/baseline.sh --sessions $(SESSIONS) --messages $(MESSAGES) --size $(SIZE) --runs 3

## bench-pop3: one POP3 session RETRs POP3_MESSAGES messages of SIZE bytes (make bench-pop3 POP3_MESSAGES=5000)
POP3_MESSAGES ?= 5000
bench-pop3:
	$(CARGO) bench --bench pop3_load -- --messages $(POP3_MESSAGES) --size $(SIZE)

## bench-imap: SELECT and FETCH on 10,000 messages of 4 KiB, then 10 and 50 sessions that stay
## logged in (random FETCH/STORE/SEARCH/NOOP, BENCH_SECS each), then SORT and THREAD
## (benches/dovecot/sort.sh), postlab beside a private Dovecot (needs root). Dovecot's imaptest
## against both: benches/dovecot/imaptest.sh IMAPTEST_SOURCE_DIR
BENCH_SECS ?= 20
.PHONY: bench-imap
bench-imap:
	bash benches/dovecot/imap.sh 10000 $(SIZE) 3 20143 $(BENCH_SECS)
	bash benches/dovecot/sort.sh 10000 3

## bench-imap-sync: a QRESYNC resync after 100 changes on 10,000 messages, postlab beside a private Dovecot (needs root)
.PHONY: bench-imap-sync
bench-imap-sync:
	bash benches/dovecot/imap_sync.sh 10000 3

## soak-imap: the IMAP concurrency checker of `make test` (20 s there) for minutes:
## make soak-imap SOAK_SECS=600 [SEED=N to repeat a run]
SOAK_SECS ?= 300
.PHONY: soak-imap
soak-imap:
	POSTLAB_SOAK_SECS=$(SOAK_SECS) $(if $(SEED),POSTLAB_SEED=$(SEED)) $(CARGO) test --test tests imap_concurrency -- --nocapture

## stress: 2,000 SMTP + 500 IMAP sessions at once beside slowloris and stalled TLS handshakes,
## then a siege of a small server; prints what each client got and the server's memory (loopback only)
STRESS_SMTP ?= 2000
STRESS_IMAP ?= 500
stress:
	ulimit -n 20000 2>/dev/null || true; \
	$(CARGO) bench --bench stress -- --smtp $(STRESS_SMTP) --imap $(STRESS_IMAP) --slowloris 300 --stalls 100

## bench-lab: a class (40 servers, each a network namespace, needs root), each server relaying
## 100 messages to random others through MX lookups; messages/s end to end, drain time after
## `lab heal`, RSS per server (make bench-lab LAB_SERVERS=10 LAB_MESSAGES=20)
LAB_SERVERS ?= 40
LAB_MESSAGES ?= 100
.PHONY: bench-lab
bench-lab:
	$(CARGO) bench --bench lab_load -- --servers $(LAB_SERVERS) --messages $(LAB_MESSAGES) --size 1024

clean:
	$(CARGO) clean
	rm -rf var

## fuzz: each fuzz target (fuzz/README.md) for FUZZ_SECONDS; not part of `make test`
FUZZ_SECONDS ?= 600
FUZZ_TARGETS = smtp_command smtp_session smtp_data pop3_command imap_command imap_framing mime_structure queue_file redact mailauth_header folder_name imap_thread imap_append_binary
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz
	for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t && \
		(cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O -s none $$t corpus/$$t seeds/$$t -- -max_total_time=$(FUZZ_SECONDS) -max_len=4096) || exit 1; \
	done
