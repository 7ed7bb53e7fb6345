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

use std::rc::Rc;

use super::command::{Command, StoreMode};
use super::condstore::{self, Tracking};
use super::condstore_args::{self, FetchModifiers};
use super::esearch::{self, ReturnOptions};
use super::fetch::{self, Known};
use super::fetch_args::FetchItem;
use super::flags::{self, Flags};
use super::folders::NewMessage;
use super::response::{self as r, Response, Status};
use super::search::{Candidate, SearchKey};
use super::searchres;
use super::selected::{flag_announcements, internal_date, read_now, Selected};
use super::session::{Session, State};
use super::syntax::SequenceSet;
use crate::mailbox::folder::FolderError;
use crate::mailbox::{keywords, lock, uids};

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
            Command::SearchBadCharset { save } => {
                if save {
                    self.view().saved = searchres::SavedResult::default();
                }
                vec![r::bad_charset(tag)]
            }
            Command::Fetch {
                uid,
                set,
                items,
                modifiers,
            } => self.fetch(tag, uid, &set, items, modifiers),
            Command::Store {
                uid,
                set,
                mode,
                silent,
                flags,
                unchanged_since,
            } => self.store(tag, uid, &set, (mode, silent, unchanged_since), &flags),
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
            // RFC 7162 §3.2.7, §3.2.9: after ENABLE QRESYNC, the new HIGHESTMODSEQ.
            Ok(removed) if removed > 0 && self.tracking == Tracking::Qresync => {
                match uids::scan_shared(&self.view().maildir) {
                    Ok(numbered) => vec![Response::status(
                        tag,
                        Status::Ok,
                        Some(&format!("HIGHESTMODSEQ {}", numbered.highest_modseq)),
                        "EXPUNGE completed",
                    )],
                    Err(e) => vec![r::disk_error(tag, &e)],
                }
            }
            Ok(_) => vec![Response::ok(tag, "EXPUNGE completed")],
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
        // IMAP4rev2 answers every SEARCH with ESEARCH, ALL when no RETURN (RFC 9051 §6.4.4).
        let ret = ret.or(self.rev2.then(super::rev2::plain_search));
        let save = ret.is_some_and(|options| options.save);
        let with_modseq = key.uses_modseq();
        let mut out = if with_modseq {
            self.condstore_on()
        } else {
            Vec::new()
        };
        let view = self.view();
        // The view brought up to date first (flags changed and messages gone or arrived, with
        // their MODSEQs; EXPUNGE only for UID SEARCH, §7.4.1): keys on flags and MODSEQ are
        // answered from it without touching every message's file.
        match view.sync(uid) {
            Ok(news) => out.extend(news),
            Err(e) => return vec![r::disk_error(tag, &e)],
        }
        // `$` is the result saved before this SEARCH, even one that saves anew (RFC 5182).
        let key = &searchres::substitute(key, &view.saved, view.validity);
        if save {
            // RFC 9051 §6.4.4.1: a SEARCH with SAVE that fails (NO) leaves `$` empty.
            view.saved = searchres::SavedResult::default();
        }
        let mut found_uids: Vec<u32> = Vec::new();
        let largest_seq = view.messages.len() as u32;
        let mut highest = 0;
        let largest_uid = view.messages.last().map(|m| m.uid).unwrap_or(0);
        let dated = uses(key, &|k| {
            matches!(
                k,
                SearchKey::Before(_) | SearchKey::On(_) | SearchKey::Since(_)
            )
        });
        let with_keywords = uses(key, &|k| matches!(k, SearchKey::Keyword(_)));
        let mut found: Vec<u32> = Vec::new();
        // The MODSEQs of the first and the last message found (MIN and MAX, below).
        let mut first_last: (Option<u64>, u64) = (None, 0);
        for (i, m) in view.messages.iter().enumerate() {
            // RFC 2180 §4.3: a message another session expunged is left out of the result.
            if m.gone {
                continue;
            }
            let entry = &m.entry;
            // INTERNALDATE is the file's time, read only for a key on it; the file may be
            // renamed again by now: read_now looks it up by its unique name.
            let time = if dated {
                match read_now(&view.maildir, entry, false) {
                    Ok(Some((_, time))) => time,
                    Ok(None) => continue,
                    Err(e) => return vec![r::disk_error(tag, &e)],
                }
            } else {
                std::time::UNIX_EPOCH
            };
            // The file is read only if a key looks at the content, and then once.
            let mut cache: Option<Rc<Vec<u8>>> = None;
            let maildir = &view.maildir;
            let mut content = || {
                if cache.is_none() {
                    cache = read_now(maildir, entry, true)
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
                keywords: if with_keywords {
                    keywords::names_of(&view.keywords, &m.entry.flags)
                } else {
                    Vec::new()
                },
                size: m.entry.size,
                day,
                largest_seq,
                largest_uid,
                modseq: m.modseq,
                content: &mut content,
            };
            if key.matches(&mut candidate) {
                found.push(if uid { m.uid } else { i as u32 + 1 });
                highest = highest.max(m.modseq);
                first_last.0.get_or_insert(m.modseq);
                first_last.1 = m.modseq;
                if save {
                    found_uids.push(m.uid);
                }
            }
        }
        let mut data = match ret {
            Some(options) if save => {
                let part = searchres::saved_part(options, &found_uids);
                view.saved = searchres::SavedResult::of(&part, view.validity);
                searchres::answers(options).then(|| esearch::response(tag, uid, options, &found))
            }
            Some(options) => Some(esearch::response(tag, uid, options, &found)),
            None => Some(found.iter().fold("SEARCH".to_string(), |mut line, n| {
                line.push_str(&format!(" {n}"));
                line
            })),
        };
        // RFC 7162 §3.1.6, §3.1.10: the highest MODSEQ of what was found. RFC 4731 §3.2: with
        // MIN or MAX and neither ALL nor COUNT, of the message(s) MIN and MAX name.
        let highest = match ret {
            Some(o) if !o.all && !o.count && (o.min || o.max) => {
                let (first, last) = (first_last.0.unwrap_or(0), first_last.1);
                match (o.min, o.max) {
                    (true, true) => first.max(last),
                    (true, false) => first,
                    _ => last,
                }
            }
            _ => highest,
        };
        if let Some(line) = data.as_mut().filter(|_| with_modseq && !found.is_empty()) {
            line.push_str(&match ret {
                Some(_) => format!(" MODSEQ {highest}"),
                None => format!(" (MODSEQ {highest})"),
            });
        }
        out.extend(data.into_iter().map(Response::data));
        out.push(Response::ok(tag, "SEARCH completed"));
        out
    }

    /// RFC 3501 §6.4.5 FETCH, with RFC 7162's MODSEQ item and CHANGEDSINCE/VANISHED.
    fn fetch(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SequenceSet,
        mut items: Vec<FetchItem>,
        modifiers: FetchModifiers,
    ) -> Vec<Response> {
        self.no_expunge_now = !uid;
        if modifiers.vanished && self.tracking != Tracking::Qresync {
            return vec![Response::bad(
                tag,
                "VANISHED needs ENABLE QRESYNC first (RFC 7162 §3.2.6)",
            )];
        }
        // §6.4.8: UID FETCH always answers with the UID.
        if uid && !items.contains(&FetchItem::Uid) {
            items.insert(0, FetchItem::Uid);
        }
        if let Some(refusal) = self.binary_refusal(tag, uid, set, &items, fetch::part_octets) {
            return vec![refusal];
        }
        // RFC 7162 §3.1.4.1: CHANGEDSINCE implies MODSEQ; both enable CONDSTORE (§3.1).
        if modifiers.changed_since.is_some() && !items.contains(&FetchItem::ModSeq) {
            items.push(FetchItem::ModSeq);
        }
        let mut out = if items.contains(&FetchItem::ModSeq) {
            self.condstore_on()
        } else {
            Vec::new()
        };
        let tracking = self.tracking != Tracking::Off;
        let sets_seen = items.iter().any(FetchItem::sets_seen);
        let needs_content = items.iter().any(FetchItem::needs_content);
        let needs_file = needs_content || items.contains(&FetchItem::InternalDate);
        let view = self.view();
        let mut chosen = view.resolve(set, uid);
        // A CONDSTORE-aware client gets flags and MODSEQ that belong together: the folder's
        // lock is held from the listing that gives the MODSEQs until the flags are read
        // (only the listing and file names: the content is read after, as it is sent).
        let _turn = tracking.then(|| lock::folder(view.maildir.root()));
        // A keyword another session just created: the client hears the new FLAGS first
        // (RFC 3501 §7.2.6), and the message's FLAGS below name it (else a flag would appear
        // later under the same MODSEQ).
        let table = keywords::load(view.maildir.root());
        if table.len() > view.keywords.len() && view.validity != 0 {
            out.extend(flag_announcements(&table, view.read_only));
        }
        view.keywords = table;
        if tracking {
            // The MODSEQs as they are now, another session's changes included.
            match uids::scan_shared(&view.maildir) {
                Ok(numbered) => view.learn_modseqs(&numbered, &chosen),
                Err(e) => return vec![r::disk_error(tag, &e)],
            }
        }
        if let Some(since) = modifiers.changed_since {
            if modifiers.vanished {
                // §3.2.6: VANISHED (EARLIER) first, for the UIDs of the set; `*` reaches
                // the last UID given, so a vanished last message is not missed.
                let top = view.next_uid.saturating_sub(1);
                let largest = view.messages.last().map_or(top, |m| m.uid.max(top));
                let gone = condstore::vanished(view, since, &set.resolved(largest), None);
                if !gone.is_empty() {
                    out.push(Response::data(format!(
                        "VANISHED (EARLIER) {}",
                        condstore_args::set_text(&gone)
                    )));
                }
            }
            chosen.retain(|&i| view.messages[i].modseq > since);
        }
        let mut seen_now = Vec::new();
        if sets_seen && !view.read_only {
            // \Seen for every message that lacks it, under the lock, then their new MODSEQs.
            let _turn = lock::folder(view.maildir.root());
            for &i in &chosen {
                if view.messages[i].flags.has(flags::SEEN) {
                    continue;
                }
                match view.current(i) {
                    Ok(Some(now)) => match view.store_letters(i, format!("{}S", now.flags)) {
                        Ok(true) => seen_now.push(i),
                        Ok(false) => {}
                        Err(e) => return vec![r::disk_error(tag, &e)],
                    },
                    Ok(None) => {}
                    Err(e) => return vec![r::disk_error(tag, &e)],
                }
            }
            if tracking && !seen_now.is_empty() {
                match uids::scan_shared(&view.maildir) {
                    Ok(numbered) => view.learn_modseqs(&numbered, &seen_now),
                    Err(e) => return vec![r::disk_error(tag, &e)],
                }
            }
        }
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
            let mut flags_changed = entry.flags != shown || seen_now.contains(&i);
            if entry.flags != shown {
                let message = &mut view.messages[i];
                message.flags = Flags::from_maildir(&entry.flags);
                message.entry.flags = entry.flags.clone();
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
                    view.mark_gone(i, true);
                    missing = true;
                    continue;
                }
                Err(e) => return vec![r::disk_error(tag, &e)],
            };
            let flag_list = view.flag_list(i);
            let m = &view.messages[i];
            let mut wanted = items.clone();
            flags_changed &= !wanted.contains(&FetchItem::Flags);
            if flags_changed {
                wanted.push(FetchItem::Flags);
                // RFC 7162 §3.2.4: a flag change told to a CONDSTORE-aware client carries
                // the UID and the MODSEQ.
                for item in [FetchItem::Uid, FetchItem::ModSeq] {
                    if tracking && !wanted.contains(&item) {
                        wanted.push(item);
                    }
                }
            }
            let known = Known {
                uid: m.uid,
                flags: flag_list,
                size: m.entry.size,
                internal_date: internal_date(time),
                modseq: m.modseq,
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

    /// RFC 3501 §6.4.6 STORE, with RFC 7162's UNCHANGEDSINCE (§3.1.3): a message changed
    /// since that MODSEQ is left alone and named in `[MODIFIED …]`.
    fn store(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SequenceSet,
        (mode, silent, unchanged_since): (StoreMode, bool, Option<u64>),
        names: &[String],
    ) -> Vec<Response> {
        self.no_expunge_now = !uid;
        if self.view().read_only {
            return vec![r::read_only(tag)];
        }
        let mut out = if unchanged_since.is_some() {
            self.condstore_on()
        } else {
            Vec::new()
        };
        let tracking = self.tracking != Tracking::Off;
        let view = self.view();
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
        let table = keywords::load(view.maildir.root());
        if table.len() > view.keywords.len() {
            // A new keyword: RFC 3501 §7.2.6, the client hears the new FLAGS before using it.
            out.extend(flag_announcements(&table, false));
        }
        view.keywords = table;
        // The MODSEQs on disk now, under the lock: what UNCHANGEDSINCE compares with.
        let before = match unchanged_since
            .map(|_| uids::scan_shared(&view.maildir))
            .transpose()
        {
            Ok(before) => before,
            Err(e) => return vec![r::disk_error(tag, &e)],
        };
        let mut missing = false;
        let mut stored: Vec<(usize, bool)> = Vec::new();
        let mut modified: Vec<usize> = Vec::new();
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
            if let (Some(limit), Some(before)) = (unchanged_since, &before) {
                let modseq = before.modseq_of(view.messages[i].uid);
                if modseq.unwrap_or(view.messages[i].modseq) > limit {
                    modified.push(i);
                    continue;
                }
            }
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
                Ok(true) => stored.push((i, on_disk != shown)),
                Ok(false) => missing = true,
                Err(e) => return vec![r::disk_error(tag, &e)],
            }
        }
        if tracking {
            // Each rename gave its message a new MODSEQ (`uids`); the listing after the
            // renames tells them, written to the uidlist first.
            let touched: Vec<usize> = stored.iter().map(|(i, _)| *i).collect();
            match uids::scan_shared(&view.maildir) {
                Ok(numbered) => view.learn_modseqs(&numbered, &touched),
                Err(e) => return vec![r::disk_error(tag, &e)],
            }
        }
        for (i, elsewhere) in stored {
            // §6.4.6: .SILENT drops the echo of this change, but not news of another
            // session's change the client has not heard of. RFC 7162 §3.1.3: a
            // CONDSTORE-aware client always hears the new MODSEQ.
            if silent && !elsewhere && !tracking {
                continue;
            }
            let m = &view.messages[i];
            let flag_list = flags::flag_list(&m.entry.flags, &view.keywords, m.recent);
            out.push(Response::data(match (tracking, silent && !elsewhere) {
                (true, true) => format!("{} FETCH (UID {} MODSEQ ({}))", i + 1, m.uid, m.modseq),
                (true, false) => format!(
                    "{} FETCH (UID {} MODSEQ ({}) FLAGS {flag_list})",
                    i + 1,
                    m.uid,
                    m.modseq
                ),
                (false, _) if uid => {
                    format!("{} FETCH (FLAGS {flag_list} UID {})", i + 1, m.uid)
                }
                (false, _) => format!("{} FETCH (FLAGS {flag_list})", i + 1),
            }));
        }
        out.extend(self.modified_news(&modified, before.as_deref()));
        let view = self.view();
        let code = (!modified.is_empty()).then(|| {
            let numbers = modified.iter().map(|&i| {
                if uid {
                    view.messages[i].uid
                } else {
                    i as u32 + 1
                }
            });
            let mut numbers: Vec<u32> = numbers.collect();
            numbers.sort_unstable();
            format!(
                "MODIFIED {}",
                condstore_args::set_text(&condstore_args::ranges_of(numbers))
            )
        });
        out.push(match (code, missing) {
            (Some(code), true) => {
                Response::status(tag, Status::No, Some(&code), "Some messages are gone")
            }
            (Some(code), false) => {
                Response::status(tag, Status::Ok, Some(&code), "Conditional STORE failed")
            }
            (None, true) => r::expunge_issued(tag, "STORE"),
            (None, false) => Response::ok(tag, "STORE completed"),
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
                    Ok(Some(entry)) => {
                        match uids::remove(&view.maildir, Some(view.messages[i].uid), &entry) {
                            Ok(()) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => return vec![r::disk_error(tag, &e)],
                        }
                    }
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
fn remove_deleted(view: &mut Selected, only: Option<&SequenceSet>) -> std::io::Result<usize> {
    let _turn = lock::folder(view.maildir.root());
    let chosen = match only {
        Some(set) => view.resolve(set, true),
        None => (0..view.messages.len()).collect(),
    };
    let mut removed = 0;
    for i in chosen {
        let Some(entry) = view.current(i)? else {
            continue;
        };
        if Flags::from_maildir(&entry.flags).has(flags::DELETED) {
            match uids::remove(&view.maildir, Some(view.messages[i].uid), &entry) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// Whether a search key has a part that `wanted` picks, such as a key on INTERNALDATE
/// (BEFORE, ON, SINCE), which costs a look at every message's file.
fn uses(key: &SearchKey, wanted: &dyn Fn(&SearchKey) -> bool) -> bool {
    wanted(key)
        || match key {
            SearchKey::And(keys) => keys.iter().any(|k| uses(k, wanted)),
            SearchKey::Or(a, b) => uses(a, wanted) || uses(b, wanted),
            SearchKey::Not(k) => uses(k, wanted),
            _ => false,
        }
}

/// `1,3,5` (RFC 4315 `uid-set`; ranges are allowed but not needed).
fn uid_list(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
