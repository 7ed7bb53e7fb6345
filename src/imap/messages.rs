//! The Selected-state commands on messages (RFC 3501 §6.4): FETCH, STORE, SEARCH, COPY, MOVE
//! (RFC 6851), EXPUNGE, UID EXPUNGE (RFC 4315), CLOSE, UNSELECT (RFC 3691), each also as
//! `UID …` (§6.4.8), where the numbers are UIDs instead of sequence numbers.
//!
//! ```text
//! C: a5 STORE 2 +FLAGS (\Deleted)
//! S: * 2 FETCH (FLAGS (\Seen \Deleted))
//! S: a5 OK STORE completed
//! C: a6 EXPUNGE
//! S: * 2 EXPUNGE
//! S: a6 OK EXPUNGE completed
//! ```

use std::fs;
use std::rc::Rc;

use super::command::{Command, StoreMode};
use super::fetch::{self, Known};
use super::fetch_args::FetchItem;
use super::flags::{self, Flags};
use super::folders::NewMessage;
use super::response::{self as r, Response, Status};
use super::search::{Candidate, SearchKey};
use super::selected::Selected;
use super::session::{Session, State};
use super::syntax::SequenceSet;
use crate::mailbox::folder::FolderError;
use crate::mailbox::keywords;

impl Session {
    fn view(&mut self) -> &mut Selected {
        // Selected state always has a view: set together in SELECT.
        self.selected.as_mut().expect("a folder is selected")
    }

    pub(super) fn message_command(&mut self, tag: &str, command: Command) -> Vec<Response> {
        match command {
            Command::Close | Command::Unselect => {
                // §6.4.2: CLOSE removes \Deleted messages silently, without EXPUNGE responses.
                let close = matches!(command, Command::Close);
                if let Some(view) = self.selected.take() {
                    if close && !view.read_only {
                        for m in view.messages.iter().filter(|m| m.flags.has(flags::DELETED)) {
                            let _ = fs::remove_file(&m.entry.path);
                        }
                    }
                }
                self.state = State::Authenticated;
                vec![Response::ok(
                    tag,
                    if close {
                        "CLOSE completed"
                    } else {
                        "UNSELECT completed"
                    },
                )]
            }
            Command::Expunge => self.expunge(tag, None),
            Command::UidExpunge(set) => self.expunge(tag, Some(set)),
            Command::Search { uid, key } => self.search(tag, uid, &key),
            Command::Fetch { uid, set, items } => self.fetch(tag, uid, &set, items),
            Command::Store {
                uid,
                set,
                mode,
                silent,
                flags,
            } => self.store(tag, uid, &set, mode, silent, &flags),
            Command::Copy { uid, set, mailbox } => self.copy(tag, uid, &set, &mailbox, false),
            Command::Move { uid, set, mailbox } => self.copy(tag, uid, &set, &mailbox, true),
            _ => vec![Response::bad(tag, "Not a message command")],
        }
    }

    /// RFC 3501 §6.4.3 EXPUNGE and RFC 4315 §2.1 UID EXPUNGE: remove \Deleted messages (of
    /// `only`, if given). The EXPUNGE responses come from the sync before the tagged reply.
    fn expunge(&mut self, tag: &str, only: Option<SequenceSet>) -> Vec<Response> {
        let view = self.view();
        if view.read_only {
            return vec![r::read_only(tag)];
        }
        let chosen = match &only {
            Some(set) => view.resolve(set, true),
            None => (0..view.messages.len()).collect(),
        };
        for i in chosen {
            let m = &view.messages[i];
            if m.flags.has(flags::DELETED) {
                let _ = fs::remove_file(&m.entry.path);
            }
        }
        vec![Response::ok(tag, "EXPUNGE completed")]
    }

    /// RFC 3501 §6.4.4 SEARCH: message numbers (UIDs for UID SEARCH) of the matches.
    fn search(&mut self, tag: &str, uid: bool, key: &SearchKey) -> Vec<Response> {
        self.no_expunge_now = !uid;
        let view = self.view();
        let largest_seq = view.messages.len() as u32;
        let largest_uid = view.messages.last().map(|m| m.uid).unwrap_or(0);
        let mut found = String::new();
        for (i, m) in view.messages.iter().enumerate() {
            if m.gone {
                continue;
            }
            // The file is read only if a key looks at the content, and then once.
            let mut cache: Option<Rc<Vec<u8>>> = None;
            let mut content = || {
                if cache.is_none() {
                    cache = m.read().map(Rc::new);
                }
                cache.clone()
            };
            let day = m
                .internal_time()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64 / 86_400)
                .unwrap_or(0);
            let mut candidate = Candidate {
                seq: i as u32 + 1,
                uid: m.uid,
                flags: m.flags,
                recent: m.recent,
                keywords: keywords::names_of(&view.keywords, &m.entry.flags),
                size: m.entry.size,
                day,
                largest_seq,
                largest_uid,
                content: &mut content,
            };
            if key.matches(&mut candidate) {
                found.push_str(&format!(" {}", if uid { m.uid } else { i as u32 + 1 }));
            }
        }
        vec![
            Response::data(format!("SEARCH{found}")),
            Response::ok(tag, "SEARCH completed"),
        ]
    }

    /// RFC 3501 §6.4.5 FETCH.
    fn fetch(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SequenceSet,
        mut items: Vec<FetchItem>,
    ) -> Vec<Response> {
        self.no_expunge_now = !uid;
        // §6.4.8: UID FETCH always answers with the UID.
        if uid && !items.contains(&FetchItem::Uid) {
            items.insert(0, FetchItem::Uid);
        }
        let sets_seen = items.iter().any(FetchItem::sets_seen);
        let view = self.view();
        let chosen = view.resolve(set, uid);
        let mut out = Vec::new();
        for i in chosen {
            if view.messages[i].gone {
                continue;
            }
            let mut flags_changed = false;
            if sets_seen && !view.read_only && !view.messages[i].flags.has(flags::SEEN) {
                let old = &view.messages[i].entry.flags;
                let letters = format!("{old}S");
                flags_changed = view.store_letters(i, letters).is_ok();
            }
            let flag_list = view.flag_list(i);
            let m = &view.messages[i];
            let mut wanted = items.clone();
            if flags_changed && !wanted.contains(&FetchItem::Flags) {
                wanted.push(FetchItem::Flags);
            }
            let known = Known {
                uid: m.uid,
                flags: flag_list,
                size: m.entry.size,
                internal_date: m.internal_date(),
            };
            // Rendered as it is sent, one message at a time (see `fetch::Later`).
            out.push(Response::Fetch(Box::new(fetch::Later {
                number: i + 1,
                items: wanted,
                known,
                message: m.clone(),
            })));
        }
        out.push(Response::ok(tag, "FETCH completed"));
        out
    }

    /// RFC 3501 §6.4.6 STORE.
    fn store(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SequenceSet,
        mode: StoreMode,
        silent: bool,
        names: &[String],
    ) -> Vec<Response> {
        self.no_expunge_now = !uid;
        let view = self.view();
        if view.read_only {
            return vec![r::read_only(tag)];
        }
        let given = Flags::from_names(names);
        // Keywords: every name that is not a system flag (`\…`). Removing one never
        // creates it in the folder's table.
        let keyword_names: Vec<String> = names
            .iter()
            .filter(|n| !n.starts_with('\\'))
            .cloned()
            .collect();
        let create = mode != StoreMode::Remove;
        let given_keywords =
            match keywords::letters_for(view.maildir.root(), &keyword_names, create) {
                Ok(letters) => letters,
                Err(e) => return vec![r::disk_error(tag, &e)],
            };
        view.keywords = keywords::load(view.maildir.root());
        let mut out = Vec::new();
        for i in view.resolve(set, uid) {
            let old_letters = view.messages[i].entry.flags.clone();
            let old = view.messages[i].flags;
            let old_keywords = flags::keyword_letters(&old_letters);
            let (new, new_keywords) = match mode {
                StoreMode::Replace => (given, given_keywords.clone()),
                StoreMode::Add => (old.union(given), format!("{old_keywords}{given_keywords}")),
                StoreMode::Remove => (
                    old.minus(given),
                    old_keywords
                        .chars()
                        .filter(|c| !given_keywords.contains(*c))
                        .collect(),
                ),
            };
            let letters = flags::combine(new, &new_keywords, &old_letters);
            if letters != old_letters && view.store_letters(i, letters).is_err() {
                continue; // expunged by another session meanwhile
            }
            if !silent {
                let m = &view.messages[i];
                let uid_part = if uid {
                    format!(" UID {}", m.uid)
                } else {
                    String::new()
                };
                out.push(Response::data(format!(
                    "{} FETCH (FLAGS {}{uid_part})",
                    i + 1,
                    flags::flag_list(&m.entry.flags, &view.keywords, m.recent)
                )));
            }
        }
        out.push(Response::ok(tag, "STORE completed"));
        out
    }

    /// RFC 3501 §6.4.7 COPY and RFC 6851 MOVE, answered with RFC 4315's COPYUID.
    fn copy(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SequenceSet,
        mailbox: &str,
        is_move: bool,
    ) -> Vec<Response> {
        let hostname = self.config.hostname.clone();
        let target = match self.folders.as_ref().map(|f| f.maildir(mailbox)) {
            Some(Ok((_, maildir))) => maildir,
            Some(Err(FolderError::NotFound)) => return vec![r::try_create(tag)],
            Some(Err(e)) => return vec![r::folder_error(tag, e)],
            None => return vec![Response::bad(tag, "No folders")],
        };
        // Every writer checks the quota before writing (`folders.rs`); a MOVE adds nothing.
        if !is_move {
            let view = self.view();
            let added: u64 = view
                .resolve(set, uid)
                .into_iter()
                .map(|i| &view.messages[i])
                .filter(|m| !m.gone)
                .map(|m| m.entry.size)
                .sum();
            if let Some(refusal) = self.over_quota(tag, added) {
                return vec![refusal];
            }
        }
        let view = self.view();
        if is_move && view.read_only {
            return vec![r::read_only(tag)];
        }
        let chosen: Vec<usize> = view
            .resolve(set, uid)
            .into_iter()
            .filter(|&i| !view.messages[i].gone)
            .collect();
        let mut copies = Vec::new();
        let mut source_uids = Vec::new();
        for &i in &chosen {
            let m = &view.messages[i];
            let Some(content) = m.read() else {
                return vec![Response::no(
                    tag,
                    "EXPUNGEISSUED",
                    "A message was expunged meanwhile",
                )];
            };
            let date = m
                .internal_time()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .ok();
            let names = keywords::names_of(&view.keywords, &m.entry.flags);
            let names: Vec<String> = names.into_iter().map(str::to_string).collect();
            copies.push(NewMessage {
                content,
                flags: m.flags,
                keywords: names,
                date,
            });
            source_uids.push(m.uid);
        }
        if copies.is_empty() {
            return vec![Response::ok(
                tag,
                if is_move {
                    "MOVE completed"
                } else {
                    "COPY completed"
                },
            )];
        }
        let (validity, new_uids) = match super::folders::store_copies(&target, &copies, &hostname) {
            Ok(result) => result,
            Err(e) => return vec![r::disk_error(tag, &e)],
        };
        let code = format!(
            "COPYUID {validity} {} {}",
            uid_list(&source_uids),
            uid_list(&new_uids)
        );
        if !is_move {
            return vec![Response::status(
                tag,
                Status::Ok,
                Some(&code),
                "COPY completed",
            )];
        }
        // RFC 6851 §4.3: COPYUID comes in an untagged OK, before the EXPUNGE responses.
        for &i in &chosen {
            let _ = fs::remove_file(&view.messages[i].entry.path);
        }
        vec![
            Response::status("*", Status::Ok, Some(&code), "Moved"),
            Response::ok(tag, "MOVE completed"),
        ]
    }
}

/// `1,3,5` (RFC 4315 `uid-set`; ranges are allowed but not needed).
fn uid_list(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
