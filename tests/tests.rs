//! postlab's integration tests, compiled as one binary (faster to build than one per file).
//!
//! Every test here runs the real `postlab` binary and talks to it over real sockets:
//!
//! - `smtp_dialogue`: the commands of RFC 5321 by hand, replies and order
//! - `delivery`: what lands in the Maildir, routing, aliases, relay refusal
//! - `faults`: failures on purpose (`DIR/faults`), marked as injected
//! - `limits`: every limit and malformed input, with its reply, and the server going on
//! - `busy`: the busy clocks against slow clients (slowloris), and the quiet clocks for students
//! - `hostile`: a table of hostile inputs for SMTP, POP3 and IMAP, one row each
//! - `dns`: step 4, MX lookups against `postlab dns` (with our resolver and with dig)
//! - `durability`: 250 only after the message is fsynced (watched with strace)
//! - `crash`: SIGKILL at random moments under load loses no acknowledged message
//! - `disk_full`: a full disk gets 452 4.3.1, leaves nothing half-written, and recovers
//! - `cli`: `postlab user`, first start, `postlab trace`, the transcripts
//! - `outbound`: AUTH, submission, the queue, relaying between two servers, bounces
//! - `outbound_dns`: steps 4 and 5 through MX records served by `postlab dns`
//! - `postfix`: a real Postfix relays to postlab and from it, and delivers through `postlab deliver`
//! - `clients`: real SMTP clients (Python's smtplib, swaks)
//! - `mua`: `postlab send` and `postlab fetch`, our own mail client
//! - `tls`: STARTTLS, SMTPS, the certificate, TLS between servers, injection attacks
//! - `tls_access`: POP3 STLS, IMAP STARTTLS, POP3S and IMAPS, with real clients
//! - `imap`: IMAP dialogues, two sessions, IDLE, limits, restarts, imaplib and curl
//! - `imap_limits`: LITERAL+ over the limit, passwords in literals, the login throttle
//! - `imap_mime`: ENVELOPE, BODYSTRUCTURE, MIME sections, FETCH macros, small commands
//! - `imap_search`: SEARCH keys, keywords, UID EXPUNGE, RENAME INBOX, UIDVALIDITY
//! - `imap_conformance`: SENT* dates, address comments and routes, LSUB parents, FLAGS, 8-bit
//! - `imap_sessions`: several sessions on one mailbox (issue 15): no change lost, nothing invented
//! - `imap_concurrency`: IMAP, SMTP and POP3 threads at random on one account, checked against a model
//! - `lab`: `postlab lab up/status/down`, a mini internet with DNS
//! - `lessons`: every transcript in `lessons/` replayed against a server
//! - `pop3`: POP3 by hand, with Python's poplib and with curl (step 7)
//! - `admin`: `postlab deliver`, `alias`, `user disable | quota`, `check`, `status`
//! - `backup`: `postlab backup` under mail load, `postlab restore`, damaged archives refused
//! - `daemon`: SIGTERM, SIGHUP and the lock of `postlab serve`

mod support;

mod admin;
mod backup;
mod busy;
mod cli;
mod clients;
mod crash;
mod daemon;
mod delivery;
mod disk_full;
mod dns;
mod durability;
mod faults;
mod hostile;
mod imap;
mod imap_concurrency;
mod imap_conformance;
mod imap_limits;
mod imap_mime;
mod imap_search;
mod imap_sessions;
mod lab;
mod lessons;
mod limits;
mod mua;
mod outbound;
mod outbound_dns;
mod pop3;
mod postfix;
mod smtp_dialogue;
mod tls;
mod tls_access;
