//! postlab's integration tests, compiled as one binary (faster to build than one per file).
//!
//! Every test here runs the real `postlab` binary and talks to it over real sockets:
//!
//! - `smtp_dialogue`: the commands of RFC 5321 by hand, replies and order
//! - `spoofing`: a login binds the sender on every port; the Received line names the account
//! - `delivery`: what lands in the Maildir, routing, aliases, relay refusal
//! - `faults`: failures on purpose (`DIR/faults`), marked as injected
//! - `hints`: the student hints in English and Bahasa Indonesia (`hints = en | id`), and SIGHUP
//! - `limits`: every limit and malformed input, with its reply, and the server going on
//! - `busy`: the busy clocks against slow clients (slowloris), and the quiet clocks for students
//! - `hostile`: a table of hostile inputs for SMTP, POP3 and IMAP, one row each
//! - `house`: no two files in `src/` reach back to each other (the import map has no circle)
//! - `dns`: step 4, MX lookups against `postlab dns` (with our resolver and with dig)
//! - `durability`: 250 only after the message is fsynced (watched with strace)
//! - `crash`: SIGKILL at random moments under load loses no acknowledged message
//! - `disk_full`: a full disk gets 452 4.3.1, leaves nothing half-written, and recovers
//! - `cli`: `postlab user`, first start, `postlab trace`, the transcripts
//! - `outbound`: AUTH, submission, the queue, relaying between two servers, bounces
//! - `outbound_dns`: steps 4 and 5 through MX records served by `postlab dns`
//! - `connection_cache`: step 5 keeps a connection for the next message to the same server
//! - `queue_files`: every legal address survives the queue; unreadable files go to corrupt/
//! - `postfix`: a real Postfix relays to postlab and from it, and delivers through `postlab deliver`
//! - `package`: `make deb`'s package installed in a throw-away root, started as its unit says, removed
//! - `clients`: real SMTP clients (Python's smtplib, swaks)
//! - `real_clients`: msmtp, s-nail, mutt, fetchmail, getmail6, mbsync and offlineimap3 as users set them up
//! - `mua`: `postlab send` and `postlab fetch`, our own mail client
//! - `tls`: STARTTLS, SMTPS, the certificate, TLS between servers, injection attacks
//! - `tls_access`: POP3 STLS, IMAP STARTTLS, POP3S and IMAPS, with real clients
//! - `tls_versions`: TLS 1.3 and 1.2, the certificate's names and pins, plain text on a TLS port
//! - `trace_svg`: `postlab trace --svg`: outcomes, lanes, folding, checked by rendering to PNG
//! - `imap`: IMAP dialogues, two sessions, IDLE, limits, restarts, imaplib and curl
//! - `imap_folders`: RENAME that would hide a sub-folder renames nothing; CREATE up to max_folders
//! - `imap_quota`: the quota over every folder and every writer (APPEND, COPY, SMTP, deliver)
//! - `imap_limits`: LITERAL+ over the limit, passwords in literals, the login throttle
//! - `imap_mime`: ENVELOPE, BODYSTRUCTURE, MIME sections, FETCH macros, small commands
//! - `imap_search`: SEARCH keys, keywords, UID EXPUNGE, RENAME INBOX, UIDVALIDITY
//! - `imap_sequence`: a huge, messy sequence set over 2,000 messages, answered right
//! - `imap_conformance`: SENT* dates, address comments and routes, LSUB parents, FLAGS, 8-bit
//! - `imap_ext`: issue 17's extensions: ESEARCH, LIST-EXTENDED, LIST-STATUS, QUOTA, MULTIAPPEND, with the RFCs' examples and hostile rows
//! - `imap_rev2`: SEARCHRES (`$`) with RFC 9051 §6.4.4.4's examples and hostile rows; `ENABLE IMAP4rev2`
//!   honoured exactly when advertised; the rev2 keywords
//! - `imap_condstore`: CONDSTORE and QRESYNC (RFC 7162): the RFC's examples, a phone resyncing after
//!   another session's changes, MODSEQ across a restart, hostile rows, imaplib
//! - `imap_sort`: SORT, THREAD, ESORT, BINARY, CREATE-SPECIAL-USE and TRYCREATE before the
//!   literal (issue 17), with the RFCs' examples, imaplib, a 10,000-deep thread and hostile rows
//! - `imap_sessions`: several sessions on one mailbox (issue 15): no change lost, nothing invented
//! - `imap_concurrency`: IMAP, SMTP and POP3 threads at random on one account, checked against a model
//! - `lab`: `postlab lab up/status/down`, a mini internet with DNS
//! - `lab_netns`: `postlab lab up --netns` (root): hosts in network namespaces, `lab cut` and
//!   `lab heal` with nothing lost or doubled, `lab down` after `kill -9`
//! - `lab_class` (root): `postlab lab class`, a teacher and three students' laptops as network
//!   namespaces: registration, MX through the teacher's DNS, no open relay, no open resolver
//! - `mailauth`: DKIM signing checked by dkimpy; SPF, DKIM and DMARC on received mail; hostile records
//! - `lessons`: every transcript in `lessons/` replayed against a server
//! - `lesson_parity`: each Indonesian page has the English page's steps, questions and blocks, and keeps the glossary
//! - `pop3`: POP3 by hand, with Python's poplib and with curl (step 7)
//! - `accounts`: the login throttle, `user del/add` and old mail, arguments written into files
//!   and headers, alias expansion (issue 14)
//! - `admin`: `postlab deliver`, `alias`, `user disable | quota`, `check`, `status`
//! - `backup`: `postlab backup` under mail load, `postlab restore`, damaged archives refused
//! - `daemon`: SIGTERM, SIGHUP and the lock of `postlab serve`
//! - `attack`: issue 14's attacks: clients that never read, huge literals and many logins
//!   before login, a full queue, no thread to be had; memory and threads stay bounded
//! - `secrets`: no password in any transcript, control characters escaped, a private data directory
//! - `web`: the journey board's feed, the webmail, hostile HTTP clients, and a real Chromium over WebDriver

mod support;

mod accounts;
mod admin;
mod attack;
mod backup;
mod busy;
mod cli;
mod clients;
mod connection_cache;
mod crash;
mod daemon;
mod delivery;
mod disk_full;
mod dns;
mod durability;
mod faults;
mod hints;
mod hostile;
mod house;
mod imap;
mod imap_concurrency;
mod imap_condstore;
mod imap_conformance;
mod imap_ext;
mod imap_folders;
mod imap_limits;
mod imap_mime;
mod imap_quota;
mod imap_rev2;
mod imap_search;
mod imap_sequence;
mod imap_sessions;
mod imap_sort;
mod imap_utf8;
mod lab;
mod lab_class;
mod lab_netns;
mod lesson_cli;
mod lesson_parity;
mod lessons;
mod limits;
mod mailauth;
mod mua;
mod outbound;
mod outbound_dns;
mod package;
mod pop3;
mod postfix;
mod queue_files;
mod real_clients;
mod secrets;
mod smtp_dialogue;
mod spoofing;
mod tls;
mod tls_access;
mod tls_versions;
mod trace_svg;
mod web;
