//! The Authenticated-state commands on folders (RFC 3501 §6.3): SELECT, EXAMINE, CREATE,
//! DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, STATUS, APPEND.
//!
//! ```text
//! C: a2 LIST "" "*"
//! S: * LIST (\HasNoChildren) "." "INBOX"
//! S: * LIST (\HasNoChildren \Sent) "." "Sent"
//! S: a2 OK LIST completed
//! ```
//!
//! Folder names go through `mailbox::folder::check_name` before they touch the disk.
//!
//! Two limits guard the disk: the account's quota (`mailbox::quota`, every folder counted) is
//! checked before APPEND, COPY and MOVE write anything ([`Session::over_quota`], `NO
//! [OVERQUOTA]`, RFC 9208 §5), as SMTP and `postlab deliver` check it before they store; and
//! CREATE, RENAME of INBOX (which makes a folder) and SUBSCRIBE stop at `max_folders`
//! (`NO [LIMIT]`, RFC 5530 §3).

use std::fs;
use std::time::{Duration, UNIX_EPOCH};

use super::command::{Command, StatusItem};
use super::flags::{self, Flags};
use super::response::{self as r, quote, Response};
use super::selected::{flag_announcements, Selected};
use super::session::{Session, State};
use crate::mailbox::folder::{FolderError, Folders, DELIMITER};
use crate::mailbox::maildir::Staged;
use crate::mailbox::{keywords, lock, uids, Maildir};

impl Session {
    fn folders(&self) -> &Folders {
        // Authenticated and Selected states always have folders: set together at login.
        self.folders.as_ref().expect("folders exist after login")
    }

    pub(super) fn folder_command(&mut self, tag: &str, command: Command) -> Vec<Response> {
        let done = |what: &str| vec![Response::ok(tag, &format!("{what} completed"))];
        let result = match command {
            Command::Select(name) => return self.select(tag, &name, false),
            Command::Examine(name) => return self.select(tag, &name, true),
            Command::SelectWith {
                mailbox,
                read_only,
                params,
            } => return self.select_with(tag, &mailbox, read_only, params),
            Command::Create(name) => match self.too_many_folders(tag) {
                Some(refusal) => Ok(vec![refusal]),
                None => self.folders().create(&name).map(|()| done("CREATE")),
            },
            Command::CreateSpecialUse { name, uses } => match self.too_many_folders(tag) {
                Some(refusal) => Ok(vec![refusal]),
                None => self.create_special_use(tag, &name, &uses),
            },
            Command::Delete(name) => {
                if self.selected.as_ref().is_some_and(|s| s.name == name) {
                    self.selected = None;
                    self.state = State::Authenticated;
                }
                self.folders().delete(&name).map(|()| done("DELETE"))
            }
            // RFC 3501 §6.3.5: renaming INBOX makes a new folder (INBOX stays), so it counts.
            Command::Rename(from, to) => match from
                .eq_ignore_ascii_case("INBOX")
                .then(|| self.too_many_folders(tag))
                .flatten()
            {
                Some(refusal) => Ok(vec![refusal]),
                None => self.folders().rename(&from, &to).map(|()| done("RENAME")),
            },
            Command::Subscribe(name) => match self.too_many_subscriptions(tag, &name) {
                Some(refusal) => Ok(vec![refusal]),
                None => self
                    .folders()
                    .set_subscribed(&name, true)
                    .map(|()| done("SUBSCRIBE")),
            },
            Command::Unsubscribe(name) => self
                .folders()
                .set_subscribed(&name, false)
                .map(|()| done("UNSUBSCRIBE")),
            Command::List { reference, pattern } => self.list(tag, &reference, &pattern, false),
            Command::ListExtended { reference, query } => {
                self.list_extended(tag, &reference, &query)
            }
            Command::Lsub { reference, pattern } => self.list(tag, &reference, &pattern, true),
            Command::Status(name, items) => self.status(tag, &name, &items),
            Command::Append {
                mailbox,
                flags,
                date,
                message,
            } => self.append(tag, &mailbox, &flags, date, &message),
            Command::MultiAppend { mailbox, messages } => {
                self.multi_append(tag, &mailbox, messages)
            }
            other => return self.message_command(tag, other),
        };
        result.unwrap_or_else(|e| vec![r::folder_error(tag, e)])
    }

    /// Whether a LIST/LSUB pattern (reference and pattern joined) matches a stored name. A
    /// UTF8=ACCEPT client's pattern is matched against the decoded name: modified UTF-7 of
    /// a prefix is not a prefix of the encoded whole (`日*` against `&ZeVnLIqe-`). Here, not
    /// in `session.rs`, so that the session never reaches back to this file (`tests/house.rs`).
    pub(super) fn name_matches(&self, pattern: &str, stored: &str) -> bool {
        matches(pattern.as_bytes(), self.wire_name(stored).as_bytes())
    }

    /// RFC 3501 §6.3.1 SELECT and §6.3.2 EXAMINE (read-only).
    pub(super) fn select(&mut self, tag: &str, name: &str, read_only: bool) -> Vec<Response> {
        // RFC 7162 §3.2.11: leaving a folder for another says so, `* OK [CLOSED]`.
        let closed = self.selected.is_some().then(|| {
            Response::status(
                "*",
                super::response::Status::Ok,
                Some("CLOSED"),
                "Previous folder closed",
            )
        });
        // A SELECT always leaves the current folder, even when it fails (§6.3.1).
        self.selected = None;
        self.state = State::Authenticated;
        let opened = self
            .folders()
            .maildir(name)
            .and_then(|(name, maildir)| Ok(Selected::open(name, maildir, read_only)?));
        let mut selected = match opened {
            Ok(selected) => selected,
            Err(e) => {
                return closed
                    .into_iter()
                    .chain([r::folder_error(tag, e)])
                    .collect()
            }
        };
        selected.tracking = self.tracking;
        // SELECT counts the messages it claimed, EXAMINE the ones nobody has claimed yet.
        let recent = selected.messages.iter().filter(|m| m.recent).count();
        let mut out: Vec<Response> = closed.into_iter().collect();
        out.extend(flag_announcements(&selected.keywords, read_only));
        out.push(Response::data(format!(
            "{} EXISTS",
            selected.messages.len()
        )));
        // IMAP4rev2 (RFC 9051 §6.3.2, Appendix E 10–12): a LIST of the folder instead of
        // RECENT and [UNSEEN n].
        if self.rev2 {
            selected.follow_rev2();
            out.push(self.select_list(&selected.name));
        } else {
            out.push(Response::data(format!("{recent} RECENT")));
            if let Some(n) = selected.first_unseen() {
                out.push(Response::data(format!(
                    "OK [UNSEEN {n}] First unseen message"
                )));
            }
        }
        out.push(Response::data(format!(
            "OK [UIDVALIDITY {}] UIDs valid",
            selected.validity
        )));
        out.push(Response::data(format!(
            "OK [UIDNEXT {}] Predicted next UID",
            selected.next_uid
        )));
        if self.tracking != super::condstore::Tracking::Off {
            out.push(super::condstore::highest_line(&selected));
        }
        let (code, what) = if read_only {
            ("READ-ONLY", "EXAMINE")
        } else {
            ("READ-WRITE", "SELECT")
        };
        out.push(Response::status(
            tag,
            super::response::Status::Ok,
            Some(code),
            &format!("{what} completed"),
        ));
        self.selected = Some(selected);
        self.state = State::Selected;
        out
    }

    /// RFC 3501 §6.3.8 LIST and §6.3.9 LSUB. `*` matches anything, `%` anything but the
    /// hierarchy delimiter. Attributes: RFC 3348 children, RFC 6154 special use.
    fn list(
        &self,
        tag: &str,
        reference: &str,
        pattern: &str,
        lsub: bool,
    ) -> Result<Vec<Response>, FolderError> {
        let word = if lsub { "LSUB" } else { "LIST" };
        if pattern.is_empty() && !lsub {
            // §6.3.8: an empty pattern asks for the delimiter and the root.
            return Ok(vec![
                Response::data(format!("LIST (\\Noselect) \"{DELIMITER}\" \"\"")),
                Response::ok(tag, "LIST completed"),
            ]);
        }
        let full = format!("{reference}{pattern}");
        // The matcher backtracks on each wildcard; a handful is all a real client sends.
        if full.bytes().filter(|b| *b == b'*' || *b == b'%').count() > 8 {
            return Ok(vec![Response::no(
                tag,
                "LIMIT",
                "At most 8 wildcards in a pattern",
            )]);
        }
        let names = self.folders().names()?;
        let mut listed = if lsub {
            self.folders().subscriptions()?
        } else {
            names.clone()
        };
        // §6.3.8: a level that exists only as the parent of others (`Work` of `Work.Reports`)
        // is listed too, as \Noselect, so that `%` can walk the tree one level at a time.
        let mut parents: Vec<String> = Vec::new();
        if !lsub {
            for name in &names {
                let mut end = 0;
                while let Some(dot) = name[end..].find(DELIMITER) {
                    end += dot;
                    let parent = name[..end].to_string();
                    if !names.contains(&parent) && !parents.contains(&parent) {
                        parents.push(parent);
                    }
                    end += 1;
                }
            }
            listed.extend(parents.iter().cloned());
            listed.sort_by(|a, b| (a != "INBOX", a).cmp(&(b != "INBOX", b)));
        } else {
            // §6.3.9: with `%`, a subscribed `pl.a.b` that the pattern cannot reach shows its
            // unsubscribed parent `pl.a` that it can, flagged \Noselect (a MUST).
            for name in listed.clone() {
                if self.name_matches(&full, &name) {
                    continue;
                }
                let mut end = name.len();
                while let Some(dot) = name[..end].rfind(DELIMITER) {
                    end = dot;
                    let parent = &name[..end];
                    if self.name_matches(&full, parent) {
                        if !listed.iter().any(|n| n == parent)
                            && !parents.iter().any(|p| p == parent)
                        {
                            parents.push(parent.to_string());
                        }
                        break;
                    }
                }
            }
            listed.extend(parents.iter().cloned());
        }
        let mut out = Vec::new();
        for name in &listed {
            let matching = if name == "INBOX" {
                matches(full.to_ascii_uppercase().as_bytes(), b"INBOX")
            } else {
                self.name_matches(&full, name)
            };
            if !matching {
                continue;
            }
            let mut attributes = Vec::new();
            if parents.contains(name) {
                attributes.push("\\Noselect");
            }
            if !lsub {
                let prefix = format!("{name}{DELIMITER}");
                let children = names.iter().any(|n| n.starts_with(&prefix));
                attributes.push(if children {
                    "\\HasChildren"
                } else {
                    "\\HasNoChildren"
                });
                attributes.extend(self.folders().uses_of(name));
            }
            out.push(Response::data(format!(
                "{word} ({}) \"{DELIMITER}\" {}",
                attributes.join(" "),
                quote(&self.wire_name(name))
            )));
        }
        out.push(Response::ok(tag, &format!("{word} completed")));
        Ok(out)
    }

    /// RFC 3501 §6.3.10 STATUS.
    fn status(
        &mut self,
        tag: &str,
        name: &str,
        items: &[StatusItem],
    ) -> Result<Vec<Response>, FolderError> {
        // RFC 7162 §3.1: STATUS (HIGHESTMODSEQ) is a CONDSTORE enabling command.
        let mut out = if items.contains(&StatusItem::HighestModSeq) {
            self.condstore_on()
        } else {
            Vec::new()
        };
        out.extend([
            self.status_line(name, items)?,
            Response::ok(tag, "STATUS completed"),
        ]);
        Ok(out)
    }

    /// `* STATUS name (…)` for STATUS, and for LIST's `RETURN (STATUS …)` (RFC 5819).
    pub(super) fn status_line(
        &self,
        name: &str,
        items: &[StatusItem],
    ) -> Result<Response, FolderError> {
        let (name, maildir) = self.folders().maildir(name)?;
        let numbered = uids::scan(&maildir)?;
        let values: Vec<String> = items
            .iter()
            .map(|item| match item {
                StatusItem::Messages => format!("MESSAGES {}", numbered.messages.len()),
                StatusItem::Recent => format!(
                    "RECENT {}",
                    numbered
                        .messages
                        .iter()
                        .filter(|(uid, _)| *uid >= numbered.first_recent)
                        .count()
                ),
                StatusItem::UidNext => format!("UIDNEXT {}", numbered.next),
                StatusItem::UidValidity => format!("UIDVALIDITY {}", numbered.validity),
                StatusItem::HighestModSeq => format!("HIGHESTMODSEQ {}", numbered.highest_modseq),
                StatusItem::Unseen => format!(
                    "UNSEEN {}",
                    numbered
                        .messages
                        .iter()
                        .filter(|(_, e)| !Flags::from_maildir(&e.flags).has(flags::SEEN))
                        .count()
                ),
                StatusItem::Size => format!(
                    "SIZE {}",
                    numbered.messages.iter().map(|(_, e)| e.size).sum::<u64>()
                ),
                StatusItem::Deleted => format!(
                    "DELETED {}",
                    numbered
                        .messages
                        .iter()
                        .filter(|(_, e)| Flags::from_maildir(&e.flags).has(flags::DELETED))
                        .count()
                ),
            })
            .collect();
        Ok(Response::data(format!(
            "STATUS {} ({})",
            quote(&self.wire_name(&name)),
            values.join(" ")
        )))
    }

    /// `NO [LIMIT]` when the account already has `max_folders` folders (0: no limit). Two
    /// sessions creating at the same moment may pass together: the limit bounds the disk an
    /// account can take, one folder over it does not matter.
    fn too_many_folders(&self, tag: &str) -> Option<Response> {
        let limit = self.config.max_folders;
        let count = self.folders().names().map(|n| n.len()).unwrap_or(0);
        (limit > 0 && count >= limit).then(|| {
            Response::no(
                tag,
                "LIMIT",
                &format!("Too many folders: this account may have {limit}"),
            )
        })
    }

    /// `NO [LIMIT]` for a new subscription once the account has `max_folders` of them. A name
    /// need not exist to be subscribed (RFC 3501 §6.3.6), so without this one account could
    /// grow its subscriptions file (rewritten whole at each change) without bound.
    fn too_many_subscriptions(&self, tag: &str, name: &str) -> Option<Response> {
        let limit = self.config.max_folders;
        let names = self.folders().subscriptions().unwrap_or_default();
        let new = !names.iter().any(|n| n == name);
        (limit > 0 && new && names.len() >= limit).then(|| {
            Response::no(
                tag,
                "LIMIT",
                &format!("Too many subscriptions: this account may have {limit}"),
            )
        })
    }

    /// The quota check every IMAP writer makes before it writes (APPEND, COPY, MOVE), with
    /// the rules SMTP and `postlab deliver` follow (`mailbox::quota::fits`, all folders
    /// counted): `NO [OVERQUOTA]` (RFC 9208 §5) when `added` octets would not fit. A write that
    /// adds nothing (a MOVE inside the account) always fits, so a full mailbox can still be
    /// tidied into Trash, just as reading and deleting never depend on the quota.
    pub(super) fn over_quota(&self, tag: &str, added: u64) -> Option<Response> {
        use crate::mailbox::quota::{self, Fit};
        let account = self.account.as_deref()?;
        let user = self.directory.users.get(account)?;
        if added == 0 {
            return None;
        }
        let root = crate::mda::maildir_path(&self.mail_root, account);
        match quota::fits(user, &root, added) {
            Ok(Fit::Fits) => None,
            Ok(Fit::Full { usage, limit }) => Some(Response::no(
                tag,
                "OVERQUOTA",
                &format!("Over quota: {usage} + {added} octets would pass the limit of {limit}"),
            )),
            Ok(Fit::TooBig { limit }) => Some(Response::no(
                tag,
                "OVERQUOTA",
                &format!("{added} octets are more than the whole quota of {limit}"),
            )),
            Err(e) => Some(r::disk_error(tag, &e)),
        }
    }

    /// RFC 3501 §6.3.11 APPEND, answered with RFC 4315's `[APPENDUID validity uid]`.
    fn append(
        &self,
        tag: &str,
        mailbox: &str,
        flag_names: &[String],
        date: Option<i64>,
        message: &[u8],
    ) -> Result<Vec<Response>, FolderError> {
        let (_, maildir) = match self.folders().maildir(mailbox) {
            // §6.3.11: TRYCREATE tells the client that CREATE would help.
            Err(FolderError::NotFound) => return Ok(vec![r::try_create(tag)]),
            other => other?,
        };
        // RFC 3516 §4.4: octets with NUL (sent in a literal8) are stored re-encoded, or refused.
        let message = match super::append_binary::textual(message) {
            Ok(message) => message,
            Err(super::append_binary::Refused(why)) => {
                let text = format!("Cannot store this message without losing data: {why}");
                return Ok(vec![Response::no(tag, "UNKNOWN-CTE", &text)]);
            }
        };
        if let Some(refusal) = self.over_quota(tag, message.len() as u64) {
            return Ok(vec![refusal]);
        }
        let (validity, uids) = store_copies(
            &maildir,
            &[NewMessage {
                content: message.into_owned(),
                flags: Flags::from_names(flag_names),
                keywords: flag_names
                    .iter()
                    .filter(|n| !n.starts_with('\\'))
                    .cloned()
                    .collect(),
                date,
            }],
            &self.config.hostname,
        )?;
        Ok(vec![Response::status(
            tag,
            super::response::Status::Ok,
            Some(&format!("APPENDUID {validity} {}", uids[0])),
            "APPEND completed",
        )])
    }
}

/// A message to write into a folder (APPEND, COPY, MOVE).
pub(super) struct NewMessage {
    pub content: Vec<u8>,
    pub flags: Flags,
    /// Keyword names; the target folder gives them its own letters.
    pub keywords: Vec<String>,
    /// The internal date, seconds since 1970.
    pub date: Option<i64>,
}

/// Writes messages into `maildir` with their flags, keywords and internal dates (seconds since 1970),
/// and returns the folder's UIDVALIDITY and the UIDs they got. Used by APPEND, COPY and MOVE.
pub(super) fn store_copies(
    maildir: &Maildir,
    messages: &[NewMessage],
    hostname: &str,
) -> std::io::Result<(u32, Vec<u32>)> {
    // Every message is written and synced in tmp/ first, so a disk error leaves the folder
    // as it was (RFC 3501 §6.4.7: a failed COPY must not leave part of the copy behind).
    let mut staged = Vec::new();
    for message in messages {
        match stage_one(maildir, message, hostname) {
            Ok(one) => staged.push(one),
            Err(e) => {
                staged.into_iter().for_each(|(s, _)| Staged::abort(s));
                return Err(e);
            }
        }
    }
    // One session at a time changes the folder: the UIDs read back below are ours.
    let _turn = lock::folder(maildir.root());
    let mut uniques = Vec::new();
    let mut committed = Vec::new();
    let mut staged = staged.into_iter();
    for (one, letters) in staged.by_ref() {
        uniques.push(one.unique());
        let done = one.commit_with_flags(&letters);
        // New names in cur/: the cached listing would not show them (`uids`).
        uids::forget(maildir.root());
        match done {
            Ok(path) => committed.push(path),
            Err(e) => {
                staged.for_each(|(s, _)| Staged::abort(s));
                committed.iter().for_each(|p| drop(fs::remove_file(p)));
                return Err(e);
            }
        }
    }
    let numbered = uids::scan(maildir)?;
    let mut uids = Vec::new();
    for unique in &uniques {
        match numbered.messages.iter().find(|(_, e)| &e.unique == unique) {
            Some((uid, _)) => uids.push(*uid),
            // Only a program outside postlab could have removed it under our lock.
            None => return Err(std::io::Error::other("a stored message vanished at once")),
        }
    }
    Ok((numbered.validity, uids))
}

/// Writes one message into `tmp/` with its internal date; returns it and its flag letters.
fn stage_one(
    maildir: &Maildir,
    message: &NewMessage,
    hostname: &str,
) -> std::io::Result<(Staged, String)> {
    let keyword_letters = keywords::letters_for(maildir.root(), &message.keywords, true)?;
    let letters = flags::combine(message.flags, &keyword_letters, "");
    let staged = maildir.stage(&[&message.content], hostname)?;
    if let Some(seconds) = message.date {
        let time = UNIX_EPOCH + Duration::from_secs(seconds.max(0) as u64);
        if let Err(e) = staged.set_time(time) {
            staged.abort();
            return Err(e);
        }
    }
    Ok((staged, letters))
}

/// LIST pattern matching: `*` any run of characters, `%` any run without the delimiter.
pub(super) fn matches(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| matches(rest, &name[i..])),
        Some((b'%', rest)) => (0..=name.len())
            .take_while(|&i| i == 0 || name[i - 1] != DELIMITER as u8)
            .any(|i| matches(rest, &name[i..])),
        Some((&c, rest)) => name.first() == Some(&c) && matches(rest, &name[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn list_patterns() {
        assert!(matches(b"*", b"Work.Reports"));
        assert!(matches(b"%", b"Sent"));
        assert!(!matches(b"%", b"Work.Reports"));
        assert!(matches(b"Work.%", b"Work.Reports"));
        assert!(matches(b"S*", b"Sent"));
        assert!(!matches(b"T%", b"Sent"));
    }
}
