//! POP3, the Post Office Protocol (RFC 1939): flowchart step 7, where a mail client downloads
//! the messages waiting in its mailbox.
//!
//! A session, as a student types it over telnet (`telnet 127.0.0.1 10110`):
//!
//! ```text
//! S: +OK mail.school.test POP3 postlab ready
//! C: USER bob                           ← AUTHORIZATION: who are you?
//! S: +OK bob: now send PASS
//! C: PASS bob-password
//! S: +OK maildrop locked and ready: 1 messages (412 octets)
//! C: RETR 1                             ← TRANSACTION: read, mark for deletion
//! S: +OK 412 octets
//! S: Return-Path: <alice@localhost>
//! S: …
//! S: .
//! C: DELE 1
//! S: +OK message 1 deleted
//! C: QUIT                               ← UPDATE: the marked messages are removed
//! S: +OK postlab POP3 server signing off (0 messages left)
//! ```
//!
//! Extensions: CAPA, response codes and the 255-octet command line (RFC 2449), AUTH PLAIN over
//! SASL (RFC 5034, RFC 4616), APOP (RFC 1939 §7) for accounts stored `{PLAIN}`.
//!
//! | file | job |
//! |---|---|
//! | `server.rs` | the socket loop, the transcript door, the disk work (login, RETR, UPDATE) |
//! | `command.rs` | one line → a typed [`command::Command`] |
//! | `session.rs` | the state machine: AUTHORIZATION → TRANSACTION → UPDATE |
//! | `response.rs` | every response the server can send |
//! | `message.rs` | a message as RETR and TOP send it (byte-stuffed) |
//! | `apop.rs` | the APOP timestamp and digest |
//!
//! The mailbox side (the snapshot, the lock) is in `crate::mailbox::maildrop` and
//! `crate::mailbox::lock`.

pub mod apop;
pub mod command;
pub mod message;
pub mod response;
pub mod server;
pub mod session;
