//! IMAP4rev1 (RFC 3501): flowchart step 7, where the user's mail client reads and organises
//! the mailbox on the server, leaving the mail there.
//!
//! A dialogue, as a student types it over telnet (`nc -C` also works: it sends CRLF):
//!
//! ```text
//! S: * OK [CAPABILITY IMAP4rev1 …] postlab IMAP4rev1 ready
//! C: a1 LOGIN bob bob-password             ← Not Authenticated → Authenticated
//! S: a1 OK [CAPABILITY …] Logged in as bob
//! C: a2 SELECT INBOX                       ← Authenticated → Selected
//! S: * 2 EXISTS
//! S: a2 OK [READ-WRITE] SELECT completed
//! C: a3 FETCH 1 (FLAGS BODY[HEADER.FIELDS (SUBJECT)])
//! S: * 1 FETCH (FLAGS (\Seen) BODY[HEADER.FIELDS ("SUBJECT")] {16}
//! S: Subject: hello
//! S: )
//! S: a3 OK FETCH completed
//! C: a4 LOGOUT
//! ```
//!
//! Every command carries a tag (`a1`) and its end is the tagged reply with the same tag;
//! untagged `*` lines in between are data, or news about the folder.
//!
//! | file | job |
//! |---|---|
//! | `server.rs` | the socket loop, IDLE, and the transcript door |
//! | `framing.rs` | lines and literals, with their size limits |
//! | `syntax.rs` | the shared grammar pieces: strings, numbers, sequence sets, dates |
//! | `command.rs` | one framed command → a typed [`command::Command`] |
//! | `fetch_args.rs`, `search.rs` | the FETCH items and SEARCH keys |
//! | `ext_args.rs` | the grammars of LIST-EXTENDED, STATUS items, QUOTA, MULTIAPPEND |
//! | `esearch.rs` | SEARCH RETURN (…) and its ESEARCH answer (RFC 4731) |
//! | `searchres.rs` | SEARCH RETURN (SAVE) and `$`, the saved result (RFC 5182) |
//! | `rev2.rs` | IMAP4rev2 (RFC 9051) after `ENABLE IMAP4rev2`: which differences are done |
//! | `utf8.rs` | UTF8=ACCEPT (RFC 6855): folder names in UTF-8 for a client that enables it |
//! | `sort.rs`, `base_subject.rs` | SORT's keys and order, the base subject (RFC 5256, ESORT RFC 5267) |
//! | `thread.rs` | THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256) |
//! | `sorting.rs` | SORT and THREAD in the session: search, cached facts, answer |
//! | `session.rs` | the state machine: states, login, dispatch |
//! | `folders.rs`, `messages.rs` | the commands on folders and on messages |
//! | `append.rs` | APPEND's grammar, MULTIAPPEND all or nothing (RFC 3502) |
//! | `quota.rs` | GETQUOTA, GETQUOTAROOT over the enforced quota (RFC 9208) |
//! | `list.rs` | LIST-EXTENDED, SPECIAL-USE selection and LIST-STATUS (RFC 5258, 6154, 5819) |
//! | `selected.rs` | the selected folder's numbering, and news of changes |
//! | `fetch.rs`, `envelope.rs` | FETCH answers: sections, ENVELOPE, BODYSTRUCTURE |
//! | `binary.rs` | BINARY[…], BINARY.SIZE: parts decoded, literal8 (RFC 3516) |
//! | `append_binary.rs` | APPEND of octets with NUL: such parts stored as base64 (RFC 3516 §4.4) |
//! | `header.rs` | a message's header block: where it ends, its fields |
//! | `address.rs` | address fields (RFC 5322 §3.4) for ENVELOPE and SEARCH FROM/TO |
//! | `flags.rs` | system flags ↔ Maildir letters |
//! | `auth.rs` | SASL PLAIN |
//! | `response.rs` | every response, on the wire and in the transcript |
//! | `condstore.rs` | CONDSTORE and QRESYNC (RFC 7162): MODSEQ, CHANGEDSINCE, VANISHED |
//! | `condstore_args.rs` | RFC 7162 grammar: mod-sequences, SELECT/FETCH/STORE/SEARCH modifiers |

pub mod address;
pub mod append;
pub mod append_binary;
pub mod auth;
pub mod base_subject;
pub mod binary;
pub mod command;
pub mod condstore;
pub mod condstore_args;
#[cfg(test)]
mod dialogue_tests;
pub mod envelope;
pub mod esearch;
pub mod ext_args;
pub mod fetch;
pub mod fetch_args;
pub mod flags;
pub mod folders;
pub mod framing;
pub mod header;
pub mod list;
pub mod messages;
pub mod quota;
pub mod response;
pub mod rev2;
pub mod search;
pub mod searchres;
pub mod selected;
pub mod server;
pub mod session;
pub mod sort;
mod sorting;
pub mod syntax;
pub mod thread;
pub mod utf8;
