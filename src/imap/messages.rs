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
use super::esearch::{self, ReturnOptions};
use super::fetch::{self, Known};
use super::fetch_args::FetchItem;
use super::flags::{self, Flags};
use super::folders::NewMessage;
use super::response::{self as r, Response, Status};
use super::search::{Candidate, SearchKey};
use super::selected::{flag_announcements, internal_date, read_now, Selected};
use super::session::{Session, State};
use super::syntax::SequenceSet;
use crate::mailbox::folder::FolderError;
use crate::mailbox::{keywords, lock};

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
                if close && !self.view().read_only {
                    if let Err(e) = remove_deleted(self.view(), None) {
                        return vec![r::disk_error(tag, &e)];
                    }
                }
                self.selected = None;
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
            Command::Search { uid, key, ret } => self.search(tag, uid, &key, ret),
            Command::Sort { .. } | Command::Thread { .. } => self.sort_or_thread(tag, command),
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
        match remove_deleted(view, only.as_ref()) {
            Ok(()) => vec![Response::ok(tag, "EXPUNGE completed")],
            Err(e) => vec![r::disk_error(tag, &e)],
        }
    }

    /// RFC 3501 §6.4.4 SEARCH: message numbers (UIDs for UID SEARCH) of the matches; with
    /// RFC 4731's RETURN options, one ESEARCH response instead.
    fn search(
        &mut self,
        tag: &str,
        uid: bool,
        key: &SearchKey,
        ret: Option<ReturnOptions>,
    ) -> Vec<Response> {
        self.no_expunge_now = !uid;
        let view = self.view();
        let largest_seq = view.messages.len() as u32;
        let largest_uid = view.messages.last().map(|m| m.uid).unwrap_or(0);
        let mut found: Vec<u32> = Vec::new();
        for i in 0..view.messages.len() {
            // RFC 2180 §4.1.3: a message another session expunged is left out of the result.
            let entry = match view.current(i) {
                Ok(Some(entry)) => entry,
                Ok(None) => continue,
                Err(e) => return vec![r::disk_error(tag, &e)],
            };
            // The file may be renamed again by now: read_now looks it up by its unique name.
            let time = match read_now(&view.maildir, &entry, false) {
                Ok(Some((_, time))) => time,
                Ok(None) => continue,
                Err(e) => return vec![r::disk_error(tag, &e)],
            };
            let m = &view.messages[i];
            // The file is read only if a key looks at the content, and then once.
            let mut cache: Option<Rc<Vec<u8>>> = None;
            let maildir = &view.maildir;
            let mut content = || {
                if cache.is_none() {
                    cache = read_now(maildir, &entry, true)
                        .ok()
                        .flatten()
                        .map(|(c, _)| Rc::new(c));
                }
                cache.clone()
            };
            let day = time
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
                found.push(if uid { m.uid } else { i as u32 + 1 });
            }
        }
        let data = match ret {
            Some(options) => esearch::response(tag, uid, options, &found),
            None => found.iter().fold("SEARCH".to_string(), |mut line, n| {
                line.push_str(&format!(" {n}"));
                line
            }),
        };
        vec![Response::data(data), Response::ok(tag, "SEARCH completed")]
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
        if let Some(refusal) = self.binary_refusal(tag, uid, set, &items, fetch::part_octets) {
            return vec![refusal];
        }
        let sets_seen = items.iter().any(FetchItem::sets_seen);
        let needs_content = items.iter().any(|item| {
            !matches!(
                item,
                FetchItem::Flags | FetchItem::Uid | FetchItem::Rfc822Size | FetchItem::InternalDate
            )
        });
        let needs_file = needs_content || items.contains(&FetchItem::InternalDate);
        let view = self.view();
        let chosen = view.resolve(set, uid);
        let mut out = Vec::new();
        let mut missing = false;
        let missing_cell = Rc::new(std::cell::Cell::new(false));
        for i in chosen {
            let shown = view.messages[i].entry.flags.clone();
            let entry = match view.current(i) {
                Ok(Some(entry)) => entry,
                Ok(None) => {
                    missing = true;
                    continue;
                }
                Err(e) => return vec![r::disk_error(tag, &e)],
            };
            // Flags changed elsewhere are shown in this answer, since we looked.
            let mut flags_changed = entry.flags != shown;
            if flags_changed {
                let message = &mut view.messages[i];
                message.flags = Flags::from_maildir(&entry.flags);
                message.entry.flags = entry.flags.clone();
            }
            if sets_seen && !view.read_only && !view.messages[i].flags.has(flags::SEEN) {
                let _turn = lock::folder(view.maildir.root());
                match view.current(i) {
                    Ok(Some(now)) => match view.store_letters(i, format!("{}S", now.flags)) {
                        Ok(stored) => flags_changed |= stored,
                        Err(e) => return vec![r::disk_error(tag, &e)],
                    },
                    Ok(None) => {}
                    Err(e) => return vec![r::disk_error(tag, &e)],
                }
            }
            let file = if needs_file {
                // Only whether it is there, and its time: the content is read as it is sent.
                read_now(&view.maildir, &view.messages[i].entry, false)
            } else {
                // Neither content nor INTERNALDATE was asked for: the time is never shown.
                Ok(Some((Vec::new(), std::time::UNIX_EPOCH)))
            };
            let (_, time) = match file {
                Ok(Some(found)) => found,
                // RFC 2180 §4.1.2: what is gone is not invented; the tagged NO says so.
                Ok(None) => {
                    view.messages[i].gone = true;
                    missing = true;
                    continue;
                }
                Err(e) => return vec![r::disk_error(tag, &e)],
            };
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
                internal_date: internal_date(time),
            };
            // Rendered as it is sent, one message at a time (see `fetch::Later`): the content
            // is read then, and a message gone by then is left out and makes the tagged NO.
            out.push(Response::Fetch(Box::new(fetch::Later {
                number: i + 1,
                items: wanted,
                known,
                maildir: view.maildir.clone(),
                entry: m.entry.clone(),
                missing: missing_cell.clone(),
            })));
        }
        missing_cell.set(missing);
        out.push(Response::Fetch(Box::new(fetch::FetchDone {
            tag: tag.to_string(),
            missing: missing_cell,
        })));
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
        let _turn = lock::folder(view.maildir.root());
        let given_keywords =
            match keywords::letters_for(view.maildir.root(), &keyword_names, create) {
                Ok(letters) => letters,
                Err(e) => return vec![r::disk_error(tag, &e)],
            };
        let mut out = Vec::new();
        let table = keywords::load(view.maildir.root());
        if table.len() > view.keywords.len() {
            // A new keyword: RFC 3501 §7.2.6, the client hears the new FLAGS before using it.
            out.extend(flag_announcements(&table, false));
        }
        view.keywords = table;
        let mut missing = false;
        for i in view.resolve(set, uid) {
            let shown = view.messages[i].entry.flags.clone();
            // The flags on disk, not the view's: another session may have changed them, and
            // +FLAGS/-FLAGS must add to or take from what the message really has.
            let on_disk = match view.current(i) {
                Ok(Some(entry)) => entry.flags,
                Ok(None) => {
                    missing = true;
                    continue;
                }
                Err(e) => return vec![r::disk_error(tag, &e)],
            };
            let old = Flags::from_maildir(&on_disk);
            let old_keywords = flags::keyword_letters(&on_disk);
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
            let letters = flags::combine(new, &new_keywords, &on_disk);
            match view.store_letters(i, letters) {
                Ok(true) => {}
                Ok(false) => {
                    missing = true;
                    continue;
                }
                Err(e) => return vec![r::disk_error(tag, &e)],
            }
            // §6.4.6: .SILENT drops the echo of this change, but not news of another
            // session's change the client has not heard of.
            let m = &view.messages[i];
            if !silent || on_disk != shown {
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
        out.push(if missing {
            r::expunge_issued(tag, "STORE")
        } else {
            Response::ok(tag, "STORE completed")
        });
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
        let chosen: Vec<usize> = view.resolve(set, uid);
        view.keywords = keywords::load(view.maildir.root());
        let mut copies = Vec::new();
        let mut source_uids = Vec::new();
        for &i in &chosen {
            // RFC 2180 §4.4.1: if one is gone, nothing is copied, and the client is told.
            let found = match view.current(i) {
                Ok(Some(entry)) => {
                    read_now(&view.maildir, &entry, true).map(|r| r.map(|r| (entry, r)))
                }
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            };
            let (entry, (content, time)) = match found {
                Ok(Some(found)) => found,
                Ok(None) => {
                    return vec![r::expunge_issued(
                        tag,
                        if is_move { "MOVE" } else { "COPY" },
                    )]
                }
                Err(e) => return vec![r::disk_error(tag, &e)],
            };
            let date = time
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .ok();
            let names = keywords::names_of(&view.keywords, &entry.flags);
            let names: Vec<String> = names.into_iter().map(str::to_string).collect();
            copies.push(NewMessage {
                content,
                flags: Flags::from_maildir(&entry.flags),
                keywords: names,
                date,
            });
            source_uids.push(view.messages[i].uid);
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
        {
            let _turn = lock::folder(view.maildir.root());
            for &i in &chosen {
                match view.current(i) {
                    Ok(Some(entry)) => match fs::remove_file(&entry.path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return vec![r::disk_error(tag, &e)],
                    },
                    // Expunged by another session since the copy: gone either way.
                    Ok(None) => {}
                    Err(e) => return vec![r::disk_error(tag, &e)],
                }
            }
        }
        vec![
            Response::status("*", Status::Ok, Some(&code), "Moved"),
            Response::ok(tag, "MOVE completed"),
        ]
    }
}

/// Removes the messages with `\Deleted` (of `only`, UIDs, if given) that the view knows,
/// as the flags are on disk now: a message another session undeleted stays, one it deleted
/// goes. The sync before the tagged reply reports each removal as EXPUNGE.
fn remove_deleted(view: &mut Selected, only: Option<&SequenceSet>) -> std::io::Result<()> {
    let _turn = lock::folder(view.maildir.root());
    let chosen = match only {
        Some(set) => view.resolve(set, true),
        None => (0..view.messages.len()).collect(),
    };
    for i in chosen {
        let Some(entry) = view.current(i)? else {
            continue;
        };
        if Flags::from_maildir(&entry.flags).has(flags::DELETED) {
            match fs::remove_file(&entry.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// `1,3,5` (RFC 4315 `uid-set`; ranges are allowed but not needed).
fn uid_list(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
