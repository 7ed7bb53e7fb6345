# postlab: the two commands that matter are `make run` and `make test`.

CARGO ?= cargo
# make bench SESSIONS=10 MESSAGES=1000 SIZE=4096
SESSIONS ?= 10
MESSAGES ?= 1000
SIZE ?= 4096
HANDSHAKES ?= 500

.PHONY: run build test fmt lint bench clean

## run: build and start the server on its embedded defaults (data in ./var)
run:
	$(CARGO) run --quiet -- serve

build:
	$(CARGO) build --release

## test: unit tests, then the integration tests against real servers and clients
test:
	$(CARGO) test

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

## bench: N parallel SMTP sessions x M messages of K bytes, every one checked in the Maildir;
## then the same inside STARTTLS, and TLS handshakes per second
bench:
	$(CARGO) bench --bench smtp_load -- --sessions $(SESSIONS) --messages $(MESSAGES) --size $(SIZE)
	$(CARGO) bench --bench tls_load -- --sessions $(SESSIONS) --messages $(MESSAGES) --size $(SIZE) --handshakes $(HANDSHAKES)

clean:
	$(CARGO) clean
	rm -rf var
