//! IMAP4rev2 (RFC 9051) beside IMAP4rev1: the newer revision, which a client turns on with
//! `ENABLE IMAP4rev2` when both are advertised (§7.2.2: until then the answers are rev1's).
//!
//! ```text
//! C: e1 ENABLE IMAP4rev2
//! S: * ENABLED IMAP4rev2
//! C: e2 SELECT INBOX
//! S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
//! S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags kept …
//! S: * 3 EXISTS
//! S: * LIST (\HasNoChildren) "." "INBOX"        ← no `* n RECENT`, no `[UNSEEN n]`
//! S: * OK [UIDVALIDITY 1764000000] UIDs valid
//! S: * OK [UIDNEXT 4] Predicted next UID
//! S: e2 OK [READ-WRITE] SELECT completed
//! C: e3 SEARCH UNSEEN
//! S: * ESEARCH (TAG "e3") ALL 2:3                ← rev1 would say `* SEARCH 2 3`
//! ```
//!
//! `IMAP4rev2` is advertised only when every capability rev2 folds in is offered ([`REQUIRED`],
//! Appendix E items 2 and 3). Until then `ENABLE IMAP4rev2` is ignored, as RFC 5161 §3.1 (and
//! RFC 9051 §6.3.1) ignore an extension the server does not support: `* ENABLED` comes back
//! without it, and the session keeps every rev1 rule. Answering `* ENABLED IMAP4rev2` would
//! tell the client it may use all of rev2; switching rules silently would hand ESEARCH to a
//! client that was told nothing changed.
//!
//! The rev2 differences, by RFC 9051 Appendix E item, and what postlab does after
//! `ENABLE IMAP4rev2`:
//!
//! | item | difference | here |
//! |---|---|---|
//! | 1 | 64-bit sizes (`number64`) | not done: LARGER, SMALLER and literal sizes are read as 32-bit numbers (a message is at most `max_message_size` anyway) |
//! | 2 | NAMESPACE, UNSELECT, UIDPLUS, ESEARCH, SEARCHRES, ENABLE, IDLE, SASL-IR, LIST-EXTENDED, LIST-STATUS, MOVE, LITERAL- folded in | offered in both revisions ([`REQUIRED`]; LITERAL+ covers LITERAL-, RFC 7888 §4) |
//! | 2 | the FETCH side of BINARY | offered in both (`binary.rs`, RFC 3516) |
//! | 3 | STATUS SIZE and DELETED | offered in both |
//! | 4 | SEARCH answers ESEARCH (§6.4.4, §7.3.4) | done: no RETURN means `RETURN (ALL)` |
//! | 7 | COPYUID for MOVE and UID MOVE | already so in both (`messages.rs`) |
//! | 8 | COPY/MOVE to a missing folder: `NO [TRYCREATE]` | already so in both |
//! | 9 | `[CLOSED]` on a re-SELECT | done in both (`folders.rs`, as RFC 7162 §3.2.11 asks) |
//! | 10 | SELECT/EXAMINE send `* LIST` of the folder (§6.3.2) | done |
//! | 11 | no `[UNSEEN n]` on SELECT | done: left out |
//! | 12 | no `\Recent`, no `* n RECENT`, no STATUS RECENT, no SEARCH RECENT/NEW/OLD | done: the flag and the response are never sent; the STATUS item and the search keys, absent from the rev2 grammar (§9), get BAD |
//! | 15 | `$MDNSent $Forwarded $Junk $NotJunk $Phishing` (§2.3.2; the appendix's "$NonJunk" is a slip) | accepted in both, as any keyword (PERMANENTFLAGS has `\*`), kept by APPEND, COPY, MOVE, found by SEARCH |
//! | 16 | UTF-8 folder names | done: the UTF8=ACCEPT switch (`utf8.rs`) is turned on |
//! | 17 | CHECK removed | kept: it answers OK, as NOOP would; refusing it helps no one |
//! | 18 | RFC822, RFC822.HEADER, RFC822.TEXT deprecated | kept working (deprecated, not forbidden) |
//! | 19 | LSUB deprecated | kept working |
//! | 21 | every unsolicited FETCH carries UID (§7.5.2) | done (`selected.rs`) |
//! | 24 | UTF-8 in response text after ENABLE | nothing to do: postlab's texts are ASCII |
//! | 27 | SCRAM-SHA-256 instead of DIGEST-MD5 | not offered: AUTH=PLAIN (the one rev2 requires, §7.2.2) over TLS or loopback |
//!
//! Items 5, 6, 13, 14, 20, 22, 23, 25, 26 and 28–30 clarify the RFC's text, its ABNF or its
//! security advice, and change nothing on the wire for postlab.

use super::command::Command;
use super::esearch::ReturnOptions;
use super::ext_args::StatusItem;
use super::response::{self as r, quote, Response};
use super::search::SearchKey;
use super::selected::Selected;
use super::session::Session;
use crate::mailbox::folder::{special_use, DELIMITER};

/// The capabilities IMAP4rev2 folds in (RFC 9051 Appendix E items 2 and 3), as postlab
/// advertises them. IMAP4rev2 is advertised once every one of them is (see [`advertise`]).
pub const REQUIRED: &[&str] = &[
    "NAMESPACE",
    "UNSELECT",
    "UIDPLUS",
    "ESEARCH",
    "SEARCHRES",
    "ENABLE",
    "IDLE",
    "SASL-IR",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "MOVE",
    "LITERAL+",
    "SPECIAL-USE",
    "STATUS=SIZE",
    "BINARY",
];

/// The required capabilities that `caps` (a capability listing) lacks.
pub fn missing(caps: &str) -> Vec<&'static str> {
    REQUIRED
        .iter()
        .filter(|name| !caps.split(' ').any(|have| have == **name))
        .copied()
        .collect()
}

/// Does postlab offer IMAP4rev2, i.e. everything it requires?
pub fn offered() -> bool {
    missing(&r::capabilities(false, false)).is_empty()
}

/// The capability listing with `IMAP4rev2` beside `IMAP4rev1`, if it is offered.
pub fn advertise(caps: String) -> String {
    if offered() {
        caps.replacen("IMAP4rev1", "IMAP4rev1 IMAP4rev2", 1)
    } else {
        caps
    }
}

/// A rev2 SEARCH without RETURN: `RETURN (ALL)` (RFC 9051 §6.4.4).
pub fn plain_search() -> ReturnOptions {
    ReturnOptions {
        all: true,
        ..ReturnOptions::default()
    }
}

/// Why a command is not rev2 (BAD), if it asks for `\Recent`: the RECENT status item and the
/// RECENT, NEW and OLD search keys are not in RFC 9051's grammar (§9 `status-att`,
/// `search-key`), since rev2 has no \Recent flag (Appendix E, 12).
pub fn refusal(command: &Command) -> Option<&'static str> {
    let recent_status = |items: &[StatusItem]| items.contains(&StatusItem::Recent);
    match command {
        Command::Status(_, items) if recent_status(items) => {
            Some("IMAP4rev2 has no RECENT status item (RFC 9051 §6.3.11)")
        }
        Command::ListExtended { query, .. }
            if query.return_status.as_deref().is_some_and(recent_status) =>
        {
            Some("IMAP4rev2 has no RECENT status item (RFC 9051 §6.3.11)")
        }
        Command::Search { key, .. } if asks_recent(key) => {
            Some("IMAP4rev2 has no RECENT, NEW or OLD search key (RFC 9051 §6.4.4)")
        }
        _ => None,
    }
}

/// Does a search key test \Recent (RECENT, or NEW and OLD, which the parser builds from it)?
fn asks_recent(key: &SearchKey) -> bool {
    match key {
        SearchKey::Recent => true,
        SearchKey::And(keys) => keys.iter().any(asks_recent),
        SearchKey::Or(a, b) => asks_recent(a) || asks_recent(b),
        SearchKey::Not(k) => asks_recent(k),
        _ => false,
    }
}

/// The session's doors to this file: methods, so that `session.rs` never names this file,
/// which names it (`tests/house.rs`).
impl Session {
    /// `caps` with IMAP4rev2 beside IMAP4rev1, once it is offered.
    pub(super) fn with_rev2(&self, caps: String) -> String {
        advertise(caps)
    }

    /// `ENABLE IMAP4rev2`: switches to rev2's rules if rev2 is offered; false if not, and
    /// then the name is ignored (RFC 5161 §3.1).
    pub(super) fn enable_rev2(&mut self) -> bool {
        if offered() {
            self.switch_to_rev2();
        }
        offered()
    }

    /// Why the command is BAD under rev2's rules ([`refusal`]), if rev2 is on.
    pub(super) fn rev2_refusal(&self, command: &Command) -> Option<&'static str> {
        self.rev2.then(|| refusal(command)).flatten()
    }

    /// rev2's rules from now on, UTF-8 folder names among them (Appendix E, 16).
    pub(super) fn switch_to_rev2(&mut self) {
        self.rev2 = true;
        self.utf8 = true;
    }

    /// `* LIST (attributes) "." "name"` for the folder SELECT or EXAMINE opened (RFC 9051
    /// §6.3.2), with the attributes a plain LIST gives it.
    pub(super) fn select_list(&self, stored: &str) -> Response {
        let names = self
            .folders
            .as_ref()
            .and_then(|f| f.names().ok())
            .unwrap_or_default();
        let prefix = format!("{stored}{DELIMITER}");
        let mut attributes = vec![if names.iter().any(|n| n.starts_with(&prefix)) {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        }];
        attributes.extend(special_use(stored));
        Response::data(format!(
            "LIST ({}) \"{DELIMITER}\" {}",
            attributes.join(" "),
            quote(&self.wire_name(stored))
        ))
    }
}

impl Selected {
    /// The view under rev2 rules: nothing is \Recent, and unsolicited FETCH carries the UID.
    pub(super) fn follow_rev2(&mut self) {
        self.rev2 = true;
        for message in &mut self.messages {
            message.recent = false;
        }
    }
}

#[cfg(test)]
#[path = "rev2_tests.rs"]
mod tests;
