//! The selected folder as one session sees it: messages numbered 1…n (sequence numbers) with
//! their UIDs and flags, and how that view catches up with the disk.
//!
//! Other sessions, SMTP deliveries and POP3 change the Maildir at any time (`mailbox/mod.rs`
//! says how they share it). RFC 3501 §5.2 asks the server to tell the client about such changes
//! with untagged responses, and never to renumber messages behind its back.
//! [`Selected::sync`] compares the disk with the view and produces, in this order:
//!
//! - `* FLAGS` and `* OK [PERMANENTFLAGS …]` when a session added a keyword to the folder
//!   (RFC 3501 §7.2.6: the client must learn the new set before it sees the keyword used);
//! - `* n EXPUNGE` for each message gone, highest number first, so that each number is still
//!   right when the client reads it (§7.4.1: every EXPUNGE shifts the numbers above it down);
//! - `* n FETCH (FLAGS …)` for flags another session changed;
//! - `* n EXISTS` (and `* n RECENT`) when new mail arrived.
//!
//! During FETCH, STORE and SEARCH an EXPUNGE must not be sent (§7.4.1), because the client
//! may be using the numbers; the gone messages then stay in the view, marked, until a later
//! command may report them.
//!
//! The view remembers each message's file, but the file name changes whenever anyone changes
//! the flags. [`Selected::current`] finds the file again by the message's unique name when the
//! remembered one is gone, and only a message that cannot be found at all is expunged.

use std::fs;
use std::time::{Duration, SystemTime};

use super::condstore_args::{self as condstore, Tracking};
use super::flags::{self, Flags};
use super::response::Response;
use crate::clock::Civil;
use crate::mailbox::maildir::Entry;
use crate::mailbox::{keywords, lock, uids, Maildir};

/// One message of the view.
#[derive(Debug, Clone)]
pub struct Message {
    pub uid: u32,
    pub entry: Entry,
    pub flags: Flags,
    /// First seen by this session while in `new/` (RFC 3501 §2.3.2 `\Recent`).
    pub recent: bool,
    /// Removed from disk, not yet reported with EXPUNGE.
    pub gone: bool,
    /// Its MODSEQ as this session last told it (RFC 7162; `mailbox::uids`).
    pub modseq: u64,
}

/// `26-Nov-2026 15:20:55 +0000` (RFC 3501 `date-time`, without quotes).
pub fn internal_date(time: SystemTime) -> String {
    let c = Civil::from_system_time(time);
    format!(
        "{:02}-{}-{} {:02}:{:02}:{:02} +0000",
        c.day,
        super::syntax::MONTHS[c.month as usize - 1],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// A message's file as it is on disk right now: its content and INTERNALDATE (the file's
/// modification time, which delivery and APPEND set). `None` when the message is gone.
/// Without `with_content` only the time is read (the content comes back empty).
pub fn read_now(
    maildir: &Maildir,
    entry: &Entry,
    with_content: bool,
) -> std::io::Result<Option<(Vec<u8>, SystemTime)>> {
    let mut path = entry.path.clone();
    // Each try that fails with "not found" looks the file up again by its unique name: a flag
    // change elsewhere renames it. A few tries, because it can be renamed again meanwhile.
    for _ in 0..4 {
        let read = fs::File::open(&path).and_then(|mut file| {
            let time = file.metadata()?.modified()?;
            let mut content = Vec::new();
            if with_content {
                std::io::Read::read_to_end(&mut file, &mut content)?;
            }
            Ok((content, time))
        });
        match read {
            Ok(found) => return Ok(Some(found)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        match maildir.find(&entry.unique)? {
            Some(now) => path = now.path,
            None => return Ok(None),
        }
    }
    Err(std::io::Error::other(
        "the message's file keeps being renamed",
    ))
}

/// The FLAGS and PERMANENTFLAGS responses for a folder's keyword table (RFC 3501 §7.2.6,
/// §7.1: `\*` means clients may create keywords, up to 26 per folder).
pub fn flag_announcements(keywords: &[String], read_only: bool) -> Vec<Response> {
    let mut all = flags::SYSTEM_FLAGS.to_string();
    for keyword in keywords.iter().filter(|k| !k.is_empty()) {
        all.push(' ');
        all.push_str(keyword);
    }
    let permanent = if read_only {
        String::new()
    } else {
        format!("{all} \\*")
    };
    vec![
        Response::data(format!("FLAGS ({all})")),
        Response::data(format!(
            "OK [PERMANENTFLAGS ({permanent})] Flags kept in the Maildir file names"
        )),
    ]
}

pub struct Selected {
    pub name: String,
    pub maildir: Maildir,
    pub read_only: bool,
    pub validity: u32,
    pub next_uid: u32,
    pub messages: Vec<Message>,
    /// The folder's keyword table (`mailbox::keywords`): index 0 is letter `a`.
    pub keywords: Vec<String>,
    /// What the session turned on of CONDSTORE/QRESYNC (`condstore.rs`).
    pub tracking: Tracking,
    /// The folder's HIGHESTMODSEQ, expunges remembered and their floor, at the last sync.
    pub highest_modseq: u64,
    pub expunged: std::sync::Arc<Vec<(u32, u64)>>,
    pub expunge_floor: u64,
    /// The modification times of `new/` and `cur/` at the last full scan, when they were old
    /// enough to be trusted: see [`Selected::sync`].
    trusted_dirs: Option<(SystemTime, SystemTime)>,
    /// The generation of the shared listing (`uids::Listing`) the view was last compared with.
    synced: Option<u64>,
    /// Some message may be marked `gone` (set with every mark, cleared when the marked ones
    /// are reported): spares every command a walk over the whole view to find out.
    maybe_gone: bool,
    /// RFC 5182: the saved result of the last `SEARCH RETURN (SAVE)` in this folder, for `$`.
    /// It lives and dies with the view, so SELECT, EXAMINE, CLOSE and UNSELECT reset it.
    pub saved: super::searchres::SavedResult,
    /// IMAP4rev2 rules (`rev2.rs`): no \Recent, and UID in every unsolicited FETCH.
    pub(super) rev2: bool,
}

impl Selected {
    /// Opens the view. In read-write mode messages in `new/` move to `cur/`: this session is
    /// the one that reports them as \Recent.
    pub fn open(name: String, maildir: Maildir, read_only: bool) -> std::io::Result<Selected> {
        let mut selected = Selected {
            name,
            maildir,
            read_only,
            validity: 0,
            next_uid: 1,
            messages: Vec::new(),
            keywords: Vec::new(),
            tracking: Tracking::Off,
            highest_modseq: 0,
            expunged: Default::default(),
            expunge_floor: 0,
            trusted_dirs: None,
            synced: None,
            maybe_gone: false,
            saved: super::searchres::SavedResult::default(),
            rev2: false,
        };
        selected.sync(true)?;
        Ok(selected)
    }

    /// Brings the view up to date with the disk; returns the untagged responses that tell the
    /// client what changed (see the module comment).
    pub fn sync(&mut self, may_expunge: bool) -> std::io::Result<Vec<Response>> {
        // Every change to a Maildir (delivery, flag change, expunge) adds, renames or removes
        // a name in `new/` or `cur/`, which updates that directory's modification time. If
        // neither changed, the last scan still holds and a large folder is not read again
        // (IDLE asks twice a second). A scan is trusted only if, when it ran, both times were
        // over a second old: a change in the same clock tick as a recent one could leave the
        // time as it was, so the next change is sure to show as a new time.
        let dirs = self.dir_times();
        if let (Some(now), Some(before)) = (dirs, self.trusted_dirs) {
            if now == before && !self.maybe_gone {
                return Ok(Vec::new());
            }
        }
        let settled = |t: SystemTime| t.elapsed().is_ok_and(|age| age > Duration::from_secs(1));
        self.trusted_dirs = dirs.filter(|(new, cur)| settled(*new) && settled(*cur));
        // A read-write session claims the recent messages (`mailbox::uids`); a read-only one
        // shows the unclaimed ones as recent and leaves them for the next SELECT.
        let (numbered, recent_from) = if self.read_only {
            let numbered = uids::scan_shared(&self.maildir)?;
            let from = numbered.first_recent;
            (numbered, from)
        } else {
            uids::claim_recent(&self.maildir)?
        };
        let mut out = Vec::new();
        let keywords = keywords::load(self.maildir.root());
        if keywords.len() > self.keywords.len() && self.validity != 0 {
            out.extend(flag_announcements(&keywords, self.read_only));
        }
        self.keywords = keywords;
        self.validity = numbered.validity;
        self.next_uid = numbered.next;
        self.highest_modseq = numbered.highest_modseq;
        self.expunged = numbered.expunged.clone();
        self.expunge_floor = numbered.expunge_floor;
        // The view and the listing are both in UID order. If the view was last compared with
        // this listing a few edits ago, only the messages those edits touched are looked at;
        // otherwise one walk over the two side by side pairs every message with its file.
        let on_disk = &numbered.messages;
        let edited = self.synced.and_then(|g| numbered.edited_since(g));
        self.synced = Some(numbered.generation);
        let find = |uid: u32| numbered.index_of(uid);
        match &edited {
            Some(uids) => {
                for uid in uids {
                    if let Some(i) = self.index_of(*uid) {
                        let gone = find(*uid).is_none();
                        self.messages[i].gone = gone;
                        self.maybe_gone |= gone;
                    }
                }
            }
            None => {
                let mut disk = on_disk.iter().map(|(uid, _)| *uid).peekable();
                let mut any = false;
                for message in &mut self.messages {
                    while disk.next_if(|uid| *uid < message.uid).is_some() {}
                    message.gone = disk.peek() != Some(&message.uid);
                    any |= message.gone;
                }
                self.maybe_gone |= any;
            }
        }
        if may_expunge && self.maybe_gone {
            // RFC 7162 §3.2.10.2: after ENABLE QRESYNC, one `* VANISHED uids` instead.
            self.maybe_gone = false;
            let mut vanished = Vec::new();
            for i in (0..self.messages.len()).rev() {
                if self.messages[i].gone {
                    let gone = self.messages.remove(i);
                    if self.tracking == Tracking::Qresync {
                        vanished.push(gone.uid);
                    } else {
                        out.push(Response::data(format!("{} EXPUNGE", i + 1)));
                    }
                }
            }
            if !vanished.is_empty() {
                vanished.reverse();
                let set = condstore::set_text(&condstore::ranges_of(vanished));
                out.push(Response::data(format!("VANISHED {set}")));
            }
        }
        let to_compare: Vec<(usize, usize)> = match &edited {
            Some(uids) => {
                let mut pairs: Vec<(usize, usize)> = uids
                    .iter()
                    .filter_map(|uid| Some((self.index_of(*uid)?, find(*uid)?)))
                    .collect();
                pairs.sort_unstable();
                pairs.dedup();
                pairs
            }
            None => {
                let mut pairs = Vec::with_capacity(self.messages.len());
                let mut disk = on_disk.iter().map(|(uid, _)| *uid).enumerate().peekable();
                for (i, message) in self.messages.iter().enumerate() {
                    while disk.next_if(|(_, uid)| *uid < message.uid).is_some() {}
                    if let Some(&(j, uid)) = disk.peek() {
                        if uid == message.uid {
                            pairs.push((i, j));
                        }
                    }
                }
                pairs
            }
        };
        let tracking = self.tracking != Tracking::Off;
        for (i, j) in to_compare {
            let message = &mut self.messages[i];
            let Some((_, entry)) = on_disk.get(j) else {
                continue;
            };
            let modseq = numbered.modseqs.get(j).copied().unwrap_or(message.modseq);
            if entry.flags != message.entry.flags || (tracking && modseq != message.modseq) {
                message.flags = Flags::from_maildir(&entry.flags);
                let flag_list = flags::flag_list(&entry.flags, &self.keywords, message.recent);
                // RFC 7162 §3.2.4: a CONDSTORE-aware client hears UID and MODSEQ too;
                // RFC 9051 §7.5.2: under rev2 an unsolicited FETCH carries the UID.
                out.push(Response::data(if tracking {
                    format!(
                        "{} FETCH (UID {} FLAGS {flag_list} MODSEQ ({modseq}))",
                        i + 1,
                        message.uid
                    )
                } else if self.rev2 {
                    format!("{} FETCH (FLAGS {flag_list} UID {})", i + 1, message.uid)
                } else {
                    format!("{} FETCH (FLAGS {flag_list})", i + 1)
                }));
            }
            message.modseq = modseq;
            // The same UID is the same unique name, so the path differs only with the flags,
            // the folder (new/ or cur/), or a name in cur/ that lacked its `:2,`.
            if entry.flags != message.entry.flags
                || entry.is_new != message.entry.is_new
                || entry.path.as_os_str().len() != message.entry.path.as_os_str().len()
            {
                message.entry = (**entry).clone();
            }
        }
        let last_uid = self.messages.last().map(|m| m.uid).unwrap_or(0);
        let first_arrived = on_disk.partition_point(|(uid, _)| *uid <= last_uid);
        let mut arrived: Vec<(u32, Entry, u64)> = on_disk
            .iter_from(first_arrived)
            .zip(numbered.modseqs.iter_from(first_arrived))
            .map(|((uid, entry), modseq)| (*uid, (**entry).clone(), *modseq))
            .collect();
        let count_before = self.messages.len();
        let mut recent = 0;
        if !self.read_only && arrived.iter().any(|(_, e, _)| e.is_new) {
            // The Maildir way of saying "a mail client has seen these": new/ → cur/. Another
            // session may have moved one first; then it is in cur/ already, which is the point.
            let _turn = lock::folder(self.maildir.root());
            for (uid, entry, _) in arrived.iter_mut().filter(|(_, e, _)| e.is_new) {
                if let Ok(path) = uids::set_flags(&self.maildir, Some(*uid), entry, &entry.flags) {
                    entry.path = path;
                    entry.is_new = false;
                }
            }
        }
        for (uid, entry, modseq) in arrived {
            // IMAP4rev2 has no \Recent (RFC 9051 Appendix E, 12).
            let is_recent = uid >= recent_from && !self.rev2;
            recent += usize::from(is_recent);
            self.messages.push(Message {
                uid,
                flags: Flags::from_maildir(&entry.flags),
                entry,
                recent: is_recent,
                gone: false,
                modseq,
            });
        }
        if self.messages.len() > count_before {
            out.push(Response::data(format!("{} EXISTS", self.messages.len())));
            if recent > 0 {
                let total_recent = self.messages.iter().filter(|m| m.recent).count();
                out.push(Response::data(format!("{total_recent} RECENT")));
            }
        }
        Ok(out)
    }

    /// Marks the message at `index` as gone from disk (or not), to be reported.
    pub fn mark_gone(&mut self, index: usize, gone: bool) {
        self.messages[index].gone = gone;
        self.maybe_gone |= gone;
    }

    /// The index of the message with `uid` in the view.
    fn index_of(&self, uid: u32) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    /// Has nothing been added, renamed or removed in `new/` or `cur/` since the last full
    /// scan, one old enough to be trusted (see [`Selected::sync`])? Then every message of the
    /// view is on disk where the view says, and a command over the whole folder (SORT,
    /// THREAD) need not look each one up: two `stat` calls instead of one per message.
    pub fn unchanged_on_disk(&self) -> bool {
        self.trusted_dirs
            .is_some_and(|t| self.dir_times() == Some(t))
            && !self.maybe_gone
    }

    fn dir_times(&self) -> Option<(SystemTime, SystemTime)> {
        let time =
            |sub: &str| fs::metadata(self.maildir.root().join(sub)).and_then(|m| m.modified());
        Some((time("new").ok()?, time("cur").ok()?))
    }

    /// The message at `index` as it is on disk now, found by its unique name if its file was
    /// renamed; the view keeps the new path. `None`: it is gone (marked, to be reported).
    /// The view's flags are not updated here: the caller shows the new ones to the client.
    pub fn current(&mut self, index: usize) -> std::io::Result<Option<Entry>> {
        let message = &mut self.messages[index];
        if message.gone {
            return Ok(None);
        }
        if message.entry.path.exists() {
            // The name holds the flags: a command that followed a rename here (SEARCH,
            // EXPUNGE) kept the new path without taking its flags into the view, so the
            // flags are read from the name, never from the view's copy.
            let mut entry = message.entry.clone();
            let name = entry
                .path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("");
            entry.flags = name.split_once(":2,").map_or("", |(_, f)| f).to_string();
            return Ok(Some(entry));
        }
        match self.maildir.find(&message.entry.unique)? {
            Some(entry) => {
                message.entry.path = entry.path.clone();
                Ok(Some(entry))
            }
            None => {
                message.gone = true;
                self.maybe_gone = true;
                Ok(None)
            }
        }
    }

    /// Sets a message's flag letters on disk (renaming its file) and in the view. The caller
    /// holds the folder's lock (`mailbox::lock::folder`) and computed `letters` from the flags
    /// on disk, so no other session's change is lost. `Ok(false)`: the message is gone.
    pub fn store_letters(&mut self, index: usize, letters: String) -> std::io::Result<bool> {
        // In ASCII order, once each, as `Maildir::set_flags` writes them.
        let mut sorted: Vec<char> = letters.chars().collect();
        sorted.sort_unstable();
        sorted.dedup();
        let letters: String = sorted.into_iter().collect();
        let Some(entry) = self.current(index)? else {
            return Ok(false);
        };
        let uid = self.messages[index].uid;
        let path = match uids::set_flags(&self.maildir, Some(uid), &entry, &letters) {
            Ok(path) => path,
            // Only a program outside this server can rename it while we hold the lock.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let gone = self.maildir.find(&entry.unique)?.is_none();
                self.mark_gone(index, gone);
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        let message = &mut self.messages[index];
        message.entry.path = path;
        message.flags = Flags::from_maildir(&letters);
        message.entry.flags = letters;
        message.entry.is_new = false;
        Ok(true)
    }

    /// A message's FLAGS value, keywords included.
    pub fn flag_list(&self, index: usize) -> String {
        let m = &self.messages[index];
        flags::flag_list(&m.entry.flags, &self.keywords, m.recent)
    }

    /// Sequence numbers (1-based) and indexes of the messages a set names.
    pub fn resolve(&self, set: &super::syntax::SequenceSet, by_uid: bool) -> Vec<usize> {
        if set.is_saved_result() {
            // RFC 5182 `$`: the same messages whether the command counts UIDs or not.
            let uids = self.messages.iter().map(|m| m.uid);
            return self.saved.indexes(self.validity, uids);
        }
        // Walk the set's ranges, not the folder: `UID FETCH 4711` in a folder of 10,000
        // messages is one binary search, not 10,000 comparisons. The ranges are sorted and
        // disjoint, so the indexes come out in order, each once.
        let count = self.messages.len();
        let largest = match by_uid {
            true => self.messages.last().map_or(0, |m| m.uid),
            false => u32::try_from(count).unwrap_or(u32::MAX),
        };
        let mut chosen = Vec::new();
        for (low, high) in set.resolved(largest) {
            let (from, to) = if by_uid {
                let from = self.messages.partition_point(|m| m.uid < low);
                let to = self.messages.partition_point(|m| m.uid <= high);
                (from, to)
            } else {
                // Sequence numbers are 1-based; 0 is never a message.
                let from = (low.max(1) as usize - 1).min(count);
                (from, (high as usize).min(count))
            };
            chosen.extend(from..to.max(from));
        }
        chosen
    }

    /// The HIGHESTMODSEQ this session may tell: below the MODSEQ of an expunge it has not
    /// reported yet (RFC 7162 §3.2), so a client that saves it misses nothing.
    pub fn reportable_highest(&self) -> u64 {
        if !self.maybe_gone {
            return self.highest_modseq;
        }
        let pending = self
            .messages
            .iter()
            .filter(|m| m.gone)
            .map(|m| {
                self.expunged
                    .iter()
                    .find(|(uid, _)| *uid == m.uid)
                    .map_or(self.expunge_floor, |(_, modseq)| *modseq)
            })
            .min();
        match pending {
            Some(modseq) => self.highest_modseq.min(modseq.saturating_sub(1)).max(1),
            None => self.highest_modseq,
        }
    }

    /// Learns the MODSEQs of the messages at `indexes` (which this session just changed
    /// under the folder's lock), so they are told once, in the command's own answer; the
    /// others are left for the next sync to report.
    pub fn learn_modseqs(&mut self, numbered: &uids::Listing, indexes: &[usize]) {
        for &i in indexes {
            let message = &mut self.messages[i];
            if let Some(modseq) = numbered.modseq_of(message.uid) {
                message.modseq = modseq;
            }
        }
    }

    /// The first message without \Seen, for `* OK [UNSEEN n]`.
    pub fn first_unseen(&self) -> Option<usize> {
        self.messages
            .iter()
            .position(|m| !m.flags.has(flags::SEEN))
            .map(|i| i + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Sets the modification time of `new/` and `cur/` to one fixed time in the past.
    fn age_dirs(root: &std::path::Path) {
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for sub in ["new", "cur"] {
            fs::File::open(root.join(sub))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
    }

    #[test]
    fn an_unchanged_folder_is_not_rescanned_and_a_change_is_seen() {
        let root = std::env::temp_dir().join(format!("postlab-selected-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let maildir = Maildir::create(&root).unwrap();
        maildir
            .deliver(&[b"Subject: x\r\n\r\nx\r\n"], "mx.test")
            .unwrap();
        age_dirs(&root);
        let mut view = Selected::open("INBOX".into(), maildir.clone(), false).unwrap();
        // Claiming the message (new/ → cur/) changed the directories: one more full scan.
        age_dirs(&root);
        assert!(view.sync(true).unwrap().is_empty());
        // A flag change behind the view's back, with the times put back: the cache holds, so
        // the change is not seen (this is what proves the scan was skipped)…
        let entry = view.messages[0].entry.clone();
        maildir.set_flags(&entry, "S").unwrap();
        age_dirs(&root);
        assert!(view.sync(true).unwrap().is_empty());
        // … and with the real modification time it is.
        fs::File::open(root.join("cur"))
            .unwrap()
            .set_modified(SystemTime::now())
            .unwrap();
        let news: Vec<String> = view
            .sync(true)
            .unwrap()
            .iter()
            .map(|r| r.log_line())
            .collect();
        assert_eq!(news, ["* 1 FETCH (FLAGS (\\Seen \\Recent))"]);
        fs::remove_dir_all(&root).unwrap();
    }
}
