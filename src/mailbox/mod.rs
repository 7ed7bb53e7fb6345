//! Where mail rests: each account's Maildir under `DIR/mail/NAME/` (flowchart step 6).
//!
//! Maildir keeps one file per message in three folders: `tmp/` (being written), `new/` (arrived,
//! not yet seen by a mail client) and `cur/` (seen; flags in the file name after `:2,`). Because
//! a message appears in `new/` only by a `rename` after it is complete and on disk, a reader
//! never sees half a message and a crash never loses an acknowledged one.
//!
//! Reading it back (step 7): [`maildrop`] is the snapshot a POP3 session works on, [`lock`] keeps
//! a second POP3 session out of a mailbox that is open.

pub mod durable;
pub mod folder;
pub mod keywords;
pub mod lock;
pub mod maildir;
pub mod maildrop;
pub mod quota;
pub mod uids;

pub use maildir::Maildir;
