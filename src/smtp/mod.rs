//! SMTP, the Simple Mail Transfer Protocol (RFC 5321): flowchart step 2, where a client hands a
//! message to a server.
//!
//! A dialogue, as a student types it over telnet:
//!
//! ```text
//! S: 220 mx.test ESMTP postlab ready
//! C: EHLO laptop
//! S: 250-mx.test greets laptop
//! S: 250 SIZE 26214400 …
//! C: MAIL FROM:<alice@localhost>          ← the envelope sender
//! S: 250 2.1.0 Sender ok
//! C: RCPT TO:<bob@localhost>              ← one envelope recipient (step 3 decides its route)
//! S: 250 2.1.5 Recipient ok
//! C: DATA
//! S: 354 Send the message, end with <CRLF>.<CRLF>
//! C: Subject: hello                       ← the content: headers, blank line, body
//! C:
//! C: Hi Bob!
//! C: .
//! S: 250 2.0.0 Ok: queued as 19A3C4F2B8D10  ← only once it is safely on disk
//! C: QUIT
//! S: 221 2.0.0 Bye
//! ```
//!
//! The code is in layers, each with one job:
//!
//! | file | job |
//! |---|---|
//! | `server.rs` | the socket loop and the transcript door |
//! | `data.rs` | reading the message after 354 (dot-unstuffing, end of data, limits) |
//! | `command.rs` | one line → a typed [`command::Command`] |
//! | `../address.rs` | `<local@domain>` paths and their limits (shared with the MTA, the queue and our client) |
//! | `session.rs` | the state machine: commands in, replies and effects out; `session/` holds MAIL/RCPT, DATA, AUTH, headers |
//! | `reply.rs` | every reply the server can send (the catalogue by kind in `reply/`) |

pub mod command;
pub mod data;
pub mod reply;
pub mod server;
pub mod session;
