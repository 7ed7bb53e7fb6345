//! postlab's integration tests, compiled as one binary (faster to build than one per file).
//!
//! Every test here runs the real `postlab` binary and talks to it over real sockets:
//!
//! - `smtp_dialogue`: the commands of RFC 5321 by hand, replies and order
//! - `delivery`: what lands in the Maildir, routing, aliases, relay refusal
//! - `limits`: every limit and malformed input, with its reply, and the server going on
//! - `durability`: 250 only after the message is fsynced (watched with strace)
//! - `cli`: `postlab user`, first start, `postlab trace`, the transcripts
//! - `clients`: real SMTP clients (Python's smtplib, swaks)
//! - `imap`: IMAP dialogues, two sessions, IDLE, limits, restarts, imaplib and curl
//! - `imap_limits`: LITERAL+ over the limit, passwords in literals, the login throttle
//! - `imap_mime`: ENVELOPE, BODYSTRUCTURE, MIME sections, FETCH macros, small commands
//! - `imap_search`: SEARCH keys, keywords, UID EXPUNGE, RENAME INBOX, UIDVALIDITY
//! - `lessons`: every transcript in `lessons/` replayed against a server

mod support;

mod cli;
mod clients;
mod delivery;
mod durability;
mod imap;
mod imap_limits;
mod imap_mime;
mod imap_search;
mod lessons;
mod limits;
mod smtp_dialogue;
