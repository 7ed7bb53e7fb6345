//! Our own mail client, the MUA of flowchart steps 1 and 7: `postlab send` composes a message
//! and submits it over SMTP; `postlab fetch` reads a mailbox over POP3.
//!
//! It is deliberately small and loud: with `--verbose` it prints its side of every dialogue,
//! labelled `[1 MUA]` or `[7 ACCESS]`, so a student sees what a real mail program does behind
//! its buttons.
//!
//! | file | job |
//! |---|---|
//! | `compose.rs` | headers, body, attachments → a MIME message (RFC 5322, 2045–2047) |
//! | `submit.rs` | the SMTP submission dialogue (RFC 6409, AUTH PLAIN of RFC 4954) |
//! | `fetch.rs` | list, read and delete over POP3 (RFC 1939) |
//! | `wire.rs` | the line-by-line conversation both use, with its transcript |

pub mod compose;
pub mod fetch;
pub mod submit;
pub mod wire;
