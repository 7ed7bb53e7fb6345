//! SORT and THREAD as the session runs them: search the selected folder, read (or recall)
//! each match's facts, and answer with `sort.rs` or `thread.rs` (RFC 5256 §3).
//!
//! ```text
//! C: a1 UID THREAD REFERENCES UTF-8 SINCE 1-Nov-2026
//! S: * THREAD (17 18 (19)(21))(20)
//! S: a1 OK THREAD completed
//! ```
//!
//! The search is SEARCH's own (`search.rs`), with the same rule for messages another session
//! expunged meanwhile: they are left out (RFC 2180 §4.1.3). As with SEARCH, the plain (not
//! UID) commands hold back EXPUNGE responses until a later command (RFC 5256 §3).

use std::rc::Rc;

use super::command::Command;
use super::esearch;
use super::response::{self as r, Response};
use super::search::{Candidate, SearchKey};
use super::selected::read_now;
use super::session::Session;
use super::sort::{self, Facts, Row};
use super::thread::{self, Item};
use crate::mailbox::keywords;

/// A match: its index in the view and its facts.
type Found = (usize, Rc<Facts>);

impl Session {
    /// `SORT`, `UID SORT`, `THREAD`, `UID THREAD`.
    pub(super) fn sort_or_thread(&mut self, tag: &str, command: Command) -> Vec<Response> {
        let (uid, charset, key) = match &command {
            Command::Sort {
                uid, charset, key, ..
            }
            | Command::Thread {
                uid, charset, key, ..
            } => (*uid, charset, key),
            _ => return vec![Response::bad(tag, "Not SORT or THREAD")],
        };
        // RFC 3501 §6.4.4 (SEARCH's rule, which SORT and THREAD share): an unknown charset is
        // a NO naming the ones we have. The name itself is not echoed: it may be 60 KiB.
        if !sort::known_charset(charset) {
            return vec![Response::no(
                tag,
                "BADCHARSET (US-ASCII UTF-8)",
                "Only US-ASCII and UTF-8 are supported",
            )];
        }
        self.no_expunge_now = !uid;
        let found = match self.matching(key) {
            Ok(found) => found,
            Err(e) => return vec![r::disk_error(tag, &e)],
        };
        let Some(view) = self.selected.as_ref() else {
            return vec![Response::bad(tag, "No folder selected")];
        };
        let number = |i: usize| {
            if uid {
                view.messages[i].uid
            } else {
                i as u32 + 1
            }
        };
        match command {
            Command::Sort { criteria, ret, .. } => {
                let mut rows: Vec<Row> = found
                    .iter()
                    .map(|(i, facts)| Row {
                        number: number(*i),
                        seq: *i as u32 + 1,
                        size: view.messages[*i].entry.size,
                        facts,
                    })
                    .collect();
                sort::sort(&mut rows, &criteria);
                let numbers: Vec<u32> = rows.iter().map(|row| row.number).collect();
                let data = match ret {
                    // RFC 5267 §3.2: ESORT answers with ESEARCH; MIN and MAX are the first and
                    // last in the sorted order, ALL keeps that order.
                    Some(options) => esearch::response(tag, uid, options, &numbers),
                    None => numbers.iter().fold("SORT".to_string(), |mut line, n| {
                        line.push_str(&format!(" {n}"));
                        line
                    }),
                };
                vec![Response::data(data), Response::ok(tag, "SORT completed")]
            }
            Command::Thread { algorithm, .. } => {
                let items: Vec<Item> = found
                    .iter()
                    .map(|(i, facts)| Item {
                        number: number(*i),
                        seq: *i as u32 + 1,
                        facts,
                    })
                    .collect();
                vec![
                    Response::data(thread::thread(algorithm, &items)),
                    Response::ok(tag, "THREAD completed"),
                ]
            }
            _ => vec![Response::bad(tag, "Not SORT or THREAD")],
        }
    }

    /// The messages of the selected folder that match `key`, in mailbox order, with their
    /// facts: from the session's cache, or read from the file (and kept) the first time.
    fn matching(&mut self, key: &SearchKey) -> std::io::Result<Vec<Found>> {
        let Some(view) = self.selected.as_mut() else {
            return Ok(Vec::new());
        };
        let cache = &mut self.sort_cache;
        // `$`, the saved SEARCH result, may stand among SORT's and THREAD's keys (RFC 5182 §2).
        let key = &super::searchres::substitute(key, &view.saved, view.validity);
        let largest_seq = view.messages.len() as u32;
        let largest_uid = view.messages.last().map(|m| m.uid).unwrap_or(0);
        let mut found = Vec::new();
        // Each message is looked up on disk (another session may have expunged it: RFC 2180
        // §4.1.3, as SEARCH does), unless the folder's directories show no change at all.
        let unchanged = view.unchanged_on_disk();
        for i in 0..view.messages.len() {
            let looked_up;
            let entry = if unchanged {
                &view.messages[i].entry
            } else {
                match view.current(i)? {
                    Some(entry) => {
                        looked_up = entry;
                        &looked_up
                    }
                    None => continue,
                }
            };
            let mut content: Option<Rc<Vec<u8>>> = None;
            let facts = match cache.get(&entry.unique) {
                Some(facts) => facts.clone(),
                None => {
                    let Some((octets, time)) = read_now(&view.maildir, entry, true)? else {
                        continue;
                    };
                    let arrival = time
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs() as i64)
                        .unwrap_or(0);
                    let facts = Rc::new(Facts::read(&octets, arrival, &cache.ids));
                    cache.put(&entry.unique, facts.clone());
                    content = Some(Rc::new(octets));
                    facts
                }
            };
            let m = &view.messages[i];
            let maildir = &view.maildir;
            let mut read = || {
                if content.is_none() {
                    content = read_now(maildir, entry, true)
                        .ok()
                        .flatten()
                        .map(|(c, _)| Rc::new(c));
                }
                content.clone()
            };
            let mut candidate = Candidate {
                seq: i as u32 + 1,
                uid: m.uid,
                flags: m.flags,
                recent: m.recent,
                keywords: keywords::names_of(&view.keywords, &m.entry.flags),
                size: m.entry.size,
                day: facts.arrival.div_euclid(86_400),
                largest_seq,
                largest_uid,
                modseq: m.modseq,
                content: &mut read,
            };
            if key.matches(&mut candidate) {
                found.push((i, facts));
            }
        }
        Ok(found)
    }
}
