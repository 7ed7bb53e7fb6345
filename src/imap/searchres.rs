//! SEARCHRES (RFC 5182, folded into IMAP4rev2 as RFC 9051 §6.4.4.1): `SEARCH RETURN (SAVE)`
//! remembers its result, and `$` then stands for it wherever a sequence set may be written —
//! FETCH, STORE, COPY, MOVE, their UID forms, UID EXPUNGE, and as a SEARCH key.
//!
//! ```text
//! C: a1 SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"
//! S: a1 OK SEARCH completed
//! C: a2 FETCH $ (UID FLAGS)
//! S: * 2 FETCH (UID 14 FLAGS (\Flagged))
//! S: a2 OK FETCH completed
//! ```
//!
//! The result is kept as UIDs, in the normal form of a sequence set (sorted, merged
//! intervals: `syntax.rs`), whatever the SEARCH counted: a `SEARCH ALL` over 10,000 messages is
//! one interval, and no folder can make it hold more than one interval per message.
//! How each rule of §6.4.4.1 is met:
//!
//! - `$` before any SAVE, and after SELECT, EXAMINE, CLOSE or UNSELECT, is the empty set: the
//!   result lives in the view (`Selected::saved`), which those commands replace or drop.
//! - An expunged message leaves the set: a UID is never given again in a folder (RFC 3501
//!   §2.3.1.1), so the UID of an expunged message names nothing any more. (A new UIDVALIDITY
//!   would give UIDs again: the set remembers its UIDVALIDITY and is empty under another.)
//! - `$` names the same messages in FETCH and in UID FETCH (the RFC's implementation note):
//!   [`SavedResult::indexes`] gives positions in the view (`Selected::resolve`), and in a SEARCH key `$` becomes
//!   `UID <the saved UIDs>` ([`substitute`]).
//! - SAVE beside MIN or MAX saves what table 4 says ([`saved_part`]); SAVE alone sends no
//!   ESEARCH response at all ([`answers`]).
//! - A SEARCH with SAVE that ends in NO leaves `$` empty; one that ends in BAD never runs, so
//!   `$` stays as it was.

use super::esearch::ReturnOptions;
use super::search::SearchKey;
use super::syntax::{SeqNumber, SequenceSet};

/// The saved result: UIDs of one UIDVALIDITY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedResult {
    validity: u32,
    uids: SequenceSet,
}

impl Default for SavedResult {
    /// The empty sequence (§6.4.4.1), which matches no message under any UIDVALIDITY.
    fn default() -> Self {
        SavedResult {
            validity: 0,
            uids: SequenceSet::new(Vec::new()),
        }
    }
}

impl SavedResult {
    /// The result of a search: `uids` in ascending order, runs stored as intervals.
    pub fn of(uids: &[u32], validity: u32) -> SavedResult {
        let mut runs: Vec<(SeqNumber, SeqNumber)> = Vec::new();
        let mut i = 0;
        while i < uids.len() {
            let start = uids[i];
            while i + 1 < uids.len() && uids[i + 1] == uids[i].wrapping_add(1) {
                i += 1;
            }
            runs.push((SeqNumber::Value(start), SeqNumber::Value(uids[i])));
            i += 1;
        }
        SavedResult {
            validity,
            uids: SequenceSet::new(runs),
        }
    }

    /// The saved UIDs as a set, if they belong to the folder's UIDVALIDITY `validity`.
    fn set(&self, validity: u32) -> SequenceSet {
        if self.validity == validity {
            self.uids.clone()
        } else {
            SequenceSet::new(Vec::new())
        }
    }

    /// The positions of the saved messages among `uids` (a view's, in order) of a folder
    /// whose UIDVALIDITY is `validity`.
    pub fn indexes(&self, validity: u32, uids: impl Iterator<Item = u32>) -> Vec<usize> {
        let set = self.set(validity);
        uids.enumerate()
            .filter(|&(_, uid)| set.contains(uid, 0))
            .map(|(i, _)| i)
            .collect()
    }

    /// How many intervals are kept (the memory the result takes).
    pub fn intervals(&self) -> usize {
        self.uids.intervals()
    }
}

/// Does a SEARCH with these options send an ESEARCH response? Not for SAVE alone
/// (RFC 9051 §6.4.4: "the SAVE result option also suppresses any ESEARCH response").
pub fn answers(options: ReturnOptions) -> bool {
    options.min || options.max || options.count || options.all
}

/// What SAVE keeps of `found` (ascending), by RFC 9051 §6.4.4.1's table 4: everything
/// beside ALL or COUNT (or alone); only the lowest and/or highest beside MIN and/or MAX.
pub fn saved_part(options: ReturnOptions, found: &[u32]) -> Vec<u32> {
    if options.all || options.count || !(options.min || options.max) {
        return found.to_vec();
    }
    let mut part = Vec::new();
    if let (true, Some(&first)) = (options.min, found.first()) {
        part.push(first);
    }
    if let (true, Some(&last)) = (options.max, found.last()) {
        if part.last() != Some(&last) {
            part.push(last);
        }
    }
    part
}

/// `key` with every `$` (as a sequence set or after `UID`) replaced by the saved UIDs of the
/// folder whose UIDVALIDITY is `validity`. The set is shared, not copied, however many `$`
/// the key holds. Depth is bounded by the parser (`search.rs`).
pub fn substitute(key: &SearchKey, saved: &SavedResult, validity: u32) -> SearchKey {
    use SearchKey::*;
    match key {
        Sequence(set) | Uid(set) if set.is_saved_result() => Uid(saved.set(validity)),
        And(keys) => And(keys
            .iter()
            .map(|k| substitute(k, saved, validity))
            .collect()),
        Or(a, b) => Or(
            Box::new(substitute(a, saved, validity)),
            Box::new(substitute(b, saved, validity)),
        ),
        Not(k) => Not(Box::new(substitute(k, saved, validity))),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(words: &str) -> ReturnOptions {
        let mut o = ReturnOptions::default();
        for w in words.split_whitespace() {
            match w {
                "MIN" => o.min = true,
                "MAX" => o.max = true,
                "COUNT" => o.count = true,
                "ALL" => o.all = true,
                _ => o.save = true,
            }
        }
        o
    }

    #[test]
    fn table_4_of_rfc_9051() {
        // Example 10's result: 2,10:15,21.
        let found = [2, 10, 11, 12, 13, 14, 15, 21];
        assert_eq!(saved_part(options("SAVE"), &found), found);
        assert_eq!(saved_part(options("SAVE MIN"), &found), [2]);
        assert_eq!(saved_part(options("SAVE MAX"), &found), [21]);
        assert_eq!(saved_part(options("MAX SAVE MIN"), &found), [2, 21]);
        assert_eq!(saved_part(options("MAX SAVE MIN COUNT"), &found), found);
        assert_eq!(saved_part(options("ALL SAVE MIN"), &found), found);
        assert_eq!(saved_part(options("SAVE MIN MAX"), &[7]), [7]);
        assert!(saved_part(options("SAVE MIN MAX"), &[]).is_empty());
        assert!(!answers(options("SAVE")));
        assert!(answers(options("SAVE MIN")));
    }

    #[test]
    fn a_result_is_kept_as_intervals() {
        let all: Vec<u32> = (1..=10_000).collect();
        assert_eq!(SavedResult::of(&all, 7).intervals(), 1);
        let odd: Vec<u32> = (1..=99).step_by(2).collect();
        let saved = SavedResult::of(&odd, 7);
        assert_eq!(saved.intervals(), 50);
        assert!(saved.set(7).contains(3, 0) && !saved.set(7).contains(4, 0));
        // Under another UIDVALIDITY the UIDs mean other messages: nothing is saved.
        assert!(!saved.set(8).contains(3, 0));
        assert_eq!(SavedResult::default().intervals(), 0);
    }

    #[test]
    fn dollar_keys_become_the_saved_uids() {
        let saved = SavedResult::of(&[4, 5, 9], 1);
        let marker = SequenceSet::saved_result();
        let key = SearchKey::Or(
            Box::new(SearchKey::Sequence(marker.clone())),
            Box::new(SearchKey::Not(Box::new(SearchKey::Uid(marker)))),
        );
        let SearchKey::Or(a, b) = substitute(&key, &saved, 1) else {
            panic!("an OR stays an OR");
        };
        assert_eq!(*a, SearchKey::Uid(saved.set(1)));
        assert_eq!(*b, SearchKey::Not(Box::new(SearchKey::Uid(saved.set(1)))));
    }
}
