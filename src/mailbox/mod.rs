//! Where mail rests: each account's Maildir under `DIR/mail/NAME/` (flowchart step 6).
//!
//! Maildir keeps one file per message in three folders: `tmp/` (being written), `new/` (arrived,
//! not yet seen by a mail client) and `cur/` (seen; flags in the file name after `:2,`). Because
//! a message appears in `new/` only by a `rename` after it is complete and on disk, a reader
//! never sees half a message and a crash never loses an acknowledged one.
//!
//! Reading it back (step 7): [`maildrop`] is the snapshot a POP3 session works on, [`lock`] keeps
//! a second POP3 session out of a mailbox that is open.
//!
//! # Many sessions on one mailbox
//!
//! Several IMAP sessions, a POP3 session, SMTP deliveries and `postlab deliver` may all work on
//! one account at once. The rules that keep each of them seeing the truth:
//!
//! ```text
//!   IMAP session A        IMAP session B        POP3            SMTP delivery
//!   view: 1..n, UIDs      view: 1..n, UIDs      snapshot        tmp/ → new/
//!        │  ▲                  │  ▲                │               │
//!  change│  │sync        change│  │sync      change│               │ (no lock:
//!        ▼  │                  ▼  │                ▼               │  a new name)
//!   ┌─── lock::folder(ROOT): one change to a folder at a time ───┐ │
//!   │  the Maildir itself: new/UNIQUE  cur/UNIQUE:2,FLAGS        │◄┘
//!   │  postlab-uidlist(.log): UIDs, MODSEQs, first recent UID    │
//!   └────────────────────────────────────────────────────────────┘
//! ```
//!
//! - **The disk is the only truth.** A message *is* its file; its identity is the unique part
//!   of the name (before `:2,`), which never changes; its flags and whether it is in `new/` or
//!   `cur/` are the rest of the name, which any session may change. A session remembers file
//!   names only as a hint: when the remembered name is gone it finds the file again by its
//!   unique name ([`Maildir::locate`], as Dovecot does and RFC 2180 §4 expects). Only a
//!   message whose unique name is nowhere is expunged.
//! - **Sessions learn of each other's changes from the disk**, not from messages between
//!   threads: before each tagged reply (and twice a second in IDLE) an IMAP session compares
//!   its view with the folder (`imap::selected`) and reports EXPUNGE, FETCH FLAGS and EXISTS
//!   (RFC 3501 §5.2, §7.4.1). POP3 works on a snapshot taken at login (RFC 1939 §8).
//! - **Changes take the folder's lock** ([`lock::folder`], in this process, like POP3's
//!   mailbox lock): STORE, EXPUNGE and CLOSE, MOVE's removal, APPEND and COPY into the target,
//!   the move of new mail from `new/` to `cur/`, POP3's moves at login and removals at QUIT —
//!   and listing the folder to number its messages ([`uids`]), because a directory listing
//!   that runs beside a rename may see neither name. For the same reason a message a session
//!   cannot find is looked for once more under the lock before it counts as expunged
//!   ([`Maildir::find`]). The lock is re-entrant for the thread that holds it.
//!   Under it a session reads the flags *on disk*, computes the new ones from them and renames,
//!   so two sessions' `+FLAGS` never lose each other's change; EXPUNGE removes what is
//!   `\Deleted` on disk. A thread holds one folder lock at a time, so none can deadlock.
//!   Delivery takes no lock: it only adds a file under a new name (`tmp/` → `new/`), which
//!   no other operation can collide with.
//! - **A message gains its flags in one step.** APPEND and COPY write into `tmp/` and rename
//!   straight to `cur/UNIQUE:2,FLAGS` ([`maildir::Staged::commit_with_flags`]): no second
//!   rename that a session moving `new/` to `cur/` could break.
//! - **UIDs and `\Recent` live in the uidlist** ([`uids`]), updated under its own lock: a UID is
//!   given once, UIDVALIDITY is written when the folder is created (or first seen) and never
//!   handed out again, and the first read-write session to look after a message arrives claims
//!   it as recent, however it arrived — so exactly one session reports it (RFC 3501 §2.3.2).
//! - **A folder's listing is kept in memory and follows this server's own changes** ([`uids`]):
//!   reused while the modification times of `new/`, `cur/` and the uidlist say nothing
//!   changed; a flag change or expunge made under the folder's lock edits it in place (they
//!   go through [`uids::set_flags`] and [`uids::remove`]), any other change of ours drops it,
//!   and a listing edited while `cur/` was busy is read from disk again once `cur/` settles,
//!   so a rename by another program is never hidden for long. Sessions share the listing and
//!   compare it with their view in one walk, in UID order, or only at the UIDs its log of
//!   edits names since they last looked. A session that only looks takes a current listing
//!   from memory without the folder's lock, so reads do not queue behind changes; an edit
//!   copies only the chunk of the listing it touches (`chunked`).
//! - **Nothing is skipped in silence, nothing is invented.** A command on a message another
//!   session expunged answers what it can and ends in `NO [EXPUNGEISSUED]` (RFC 2180 §4.1,
//!   RFC 5530); a COPY of a set with such a message copies nothing. Never an empty body, a
//!   1970 date or an OK for a change that did not happen.
//!
//! - **Mod-sequences come from listings** (RFC 7162, [`uids`]): each message has a MODSEQ and
//!   the folder a HIGHESTMODSEQ, kept in the uidlist with the flags each message had when last
//!   listed, and the last expunged UIDs with theirs. A listing under the folder's lock that
//!   finds something new gives it HIGHESTMODSEQ + 1: a message seen for the first time (so
//!   delivery, which takes no lock, needs none for this either), flags that differ from the
//!   recorded ones, a message gone. This server's own flag change or expunge, which edits the
//!   cached listing in place (above), gives that message or expunge HIGHESTMODSEQ + 1 there
//!   and then, and one line in the uidlist's journal (`uidlist`), flushed before the edited
//!   listing is handed to any session, so no MODSEQ is told that a crash could lose (if the listing is dropped first, the next
//!   listing finds the same changes on disk and numbers them). With no cached listing to edit,
//!   the next listing numbers the change; a STORE lists the folder after its renames, under
//!   the same lock, so each STORE gets a new value either way. A flag change made outside postlab's
//!   locks (POP3 of another server, a Maildir tool renaming `:2,S` to `:2,FS`) is detected the
//!   same way, at the next listing by any session, and bumped then: a CONDSTORE client sees it
//!   as a change with a MODSEQ above the one it knew, never a silent one. What such a program
//!   changes and changes back between two listings is not seen (the name is what it was).
//!
//! The price of locks in memory: a second program changing the Maildir (another server, a
//! Maildir tool) does not take them. The unique-name lookups still keep postlab correct
//! against renames it did not make; a change that races exactly with such a program's rename
//! is reported as failed (`NO`), never as done.

pub mod chunked;
pub mod durable;
pub mod folder;
pub mod keywords;
pub mod lock;
pub mod maildir;
pub mod maildrop;
pub mod quota;
pub mod special_use;
pub mod uidlist;
pub mod uids;

pub use maildir::Maildir;
