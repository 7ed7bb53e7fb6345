//! IMAP unique identifiers for the messages of one Maildir folder, kept in a small file.
//!
//! RFC 3501 §2.3.1.1: every message has a UID that never changes and is never reused in the
//! folder, and UIDs grow in the order messages were added. Together with the folder's
//! UIDVALIDITY they let a client cache what it has seen across sessions, so both must survive
//! a restart. Maildir itself has no such numbers, so postlab keeps them beside the messages:
//!
//! ```text
//! mail/bob/postlab-uidlist
//! 1795012345 4 3                       ← UIDVALIDITY, the next UID to give, the first recent UID
//! 1 1795012350.M1P7Q0.mx.test,S=312    ← UID and the message's unique name
//! 3 1795012399.M5P7Q1.mx.test,S=907
//! ```
//!
//! The list is written when the folder is first looked at, empty or not (and when it is
//! created), so a folder's UIDVALIDITY is handed out once and never again (§2.3.1.1).
//!
//! The third number says which messages are still `\Recent` (RFC 3501 §2.3.2): those with a
//! UID from it up. The first read-write session that looks at the folder after they arrive
//! *claims* them ([`claim_recent`]): it moves the number up to the next UID, under the lock,
//! so exactly one session reports each message as recent, however it arrived (delivery,
//! APPEND, COPY). STATUS and EXAMINE count the unclaimed ones without claiming them. Dovecot
//! keeps the same number in its `dovecot-uidlist`.
//!
//! The file is rewritten whole with `durable::write_atomically`, so a crash leaves the old list
//! or the new, never a mixture. All sessions of the server go through one lock while they read
//! and update a list, so two of them cannot give the same UID to different messages, and a
//! folder is listed under its folder lock (`lock::folder`), so no rename by this server can
//! hide a message from the listing and make it lose its UID.
//!
//! Reading a folder of 10,000 messages means listing `cur/` and matching every name to its UID:
//! tens of milliseconds. So the last scan of each folder is kept in memory, shared by every
//! session, and reused while `new/`, `cur/` and the list file are unchanged (their modification
//! times). Changes too recent to be told apart from a second change in the same clock tick are
//! never trusted to the cache, the same caution git takes with "racy" files.
//!
//! Except this server's own changes to `cur/`: a flag change or an expunge by a session of this
//! process happens under the folder's lock and goes through [`set_flags`] and [`remove`] here,
//! which edit the cached listing in place instead of throwing it
//! away. While sessions keep changing flags, `cur/` never settles, and without this every
//! command would read the whole folder again. Such an edited listing is *provisional*: it is
//! trusted only while its `cur/` time is the one recorded right after the edit, and once that
//! time has settled it is read from disk once more, which catches a rename by another program
//! made in the same clock tick as ours. Any other change to `cur/` by this process (a message
//! added by APPEND or COPY, a removal by POP3) drops the listing ([`forget`]).
//!
//! What can go wrong: a damaged file. It is then replaced by a fresh list with a new
//! UIDVALIDITY, which is exactly what the RFC asks when UIDs cannot be kept: clients see the
//! new value and forget their cache.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use super::durable;
use super::maildir::Entry;
use super::Maildir;

/// The file's name inside each folder's Maildir.
pub const FILE: &str = "postlab-uidlist";

/// One lock for every list: updates are short, and sessions are few.
static LOCK: Mutex<()> = Mutex::new(());

/// The last scan of each folder, with the modification times it was made from.
static CACHE: Mutex<Option<HashMap<std::path::PathBuf, Cached>>> = Mutex::new(None);

/// One folder's listing in the cache.
struct Cached {
    stamps: Stamps,
    listing: Arc<Listing>,
    /// Made or edited while `cur/` was not settled: see the module comment.
    provisional: bool,
}

/// At most this many folders are remembered; past it the cache starts again.
const CACHE_FOLDERS: usize = 256;

/// Modification times of `new/`, `cur/` and the list file.
type Stamps = [Option<SystemTime>; 3];

fn stamps(maildir: &Maildir) -> Stamps {
    let mtime = |p: std::path::PathBuf| fs::metadata(p).and_then(|m| m.modified()).ok();
    let root = maildir.root();
    [
        mtime(root.join("new")),
        mtime(root.join("cur")),
        mtime(root.join(FILE)),
    ]
}

/// Stamps that are safe to cache on: all known, and none so recent that a second change could
/// still get the same time. Linux stamps files with a clock that ticks every few milliseconds,
/// so 50 ms is plenty where times carry fractions of a second; a file system that keeps whole
/// seconds only needs a full second.
fn settled(stamps: &Stamps) -> bool {
    stamps[..2].iter().all(|s| settled_one(*s))
}

fn settled_one(stamp: Option<SystemTime>) -> bool {
    stamp.is_some_and(|t| {
        let fine = t
            .duration_since(UNIX_EPOCH)
            .is_ok_and(|d| d.subsec_nanos() != 0);
        let quiet = if fine {
            std::time::Duration::from_millis(50)
        } else {
            std::time::Duration::from_secs(1)
        };
        SystemTime::now()
            .duration_since(t)
            .is_ok_and(|age| age >= quiet)
    })
}

/// The modification time of a folder's `cur/`, for [`renamed`] and [`removed`].
pub fn cur_stamp(root: &Path) -> Option<SystemTime> {
    fs::metadata(root.join("cur"))
        .and_then(|m| m.modified())
        .ok()
}

/// Edits the cached listing of the folder at `root` after this process changed `cur/` under
/// the folder's lock: `before` is `cur/`'s time just before the change. If the listing was
/// not current then, or `edit` cannot apply the change, it is dropped instead.
fn edit_cached(
    root: &Path,
    before: Option<SystemTime>,
    edit: impl FnOnce(&mut Listing) -> Option<u32>,
) {
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(map) = cache.as_mut() else {
        return;
    };
    let Some(cached) = map.get_mut(root) else {
        return;
    };
    let after = cur_stamp(root);
    if before.is_none() || cached.stamps[1] != before || after.is_none() {
        map.remove(root);
        return;
    }
    // Shared with sessions that are reading it: they keep their copy, the cache gets a new one
    // (a copy of the pointers to the entries, not of the entries).
    let listing = Arc::make_mut(&mut cached.listing);
    let Some(uid) = edit(listing) else {
        map.remove(root);
        return;
    };
    listing.note_edit(uid);
    cached.stamps[1] = after;
    cached.provisional = true;
}

/// [`Maildir::set_flags`], and the cached listing follows: a rename within `cur/` edits it, a
/// move out of `new/` changes `new/`, which drops it. The caller holds the folder's lock.
pub fn set_flags(maildir: &Maildir, entry: &Entry, flags: &str) -> io::Result<std::path::PathBuf> {
    let before = cur_stamp(maildir.root());
    let target = maildir.set_flags(entry, flags)?;
    if target != entry.path {
        if entry.path.parent() == target.parent() {
            let letters = target
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.split_once(":2,"))
                .map_or(String::new(), |(_, letters)| letters.to_string());
            renamed(maildir.root(), before, &entry.unique, &target, &letters);
        } else {
            forget(maildir.root());
        }
    }
    Ok(target)
}

/// Removes a message's file (an expunge; the caller holds the folder's lock), and the cached
/// listing follows.
pub fn remove(maildir: &Maildir, entry: &Entry) -> io::Result<()> {
    let before = cur_stamp(maildir.root());
    fs::remove_file(&entry.path)?;
    removed(maildir.root(), before, &entry.unique);
    Ok(())
}

/// This process renamed message `unique` to `path` (in `cur/`, flags `flags`).
fn renamed(root: &Path, before: Option<SystemTime>, unique: &str, path: &Path, flags: &str) {
    edit_cached(root, before, |listing| {
        let (uid, entry) = listing
            .messages
            .iter_mut()
            .find(|(_, e)| e.unique == unique)?;
        *entry = Arc::new(Entry {
            path: path.to_path_buf(),
            flags: flags.to_string(),
            is_new: false,
            ..(**entry).clone()
        });
        Some(*uid)
    });
}

/// This process removed message `unique` from `cur/` (an expunge). The list file keeps its
/// line until the next full scan, which drops the lines of files that are gone.
fn removed(root: &Path, before: Option<SystemTime>, unique: &str) {
    edit_cached(root, before, |listing| {
        let i = listing
            .messages
            .iter()
            .position(|(_, e)| e.unique == unique)?;
        Some(listing.messages.remove(i).0)
    });
}

/// Drops the cached listing of the folder at `root`: this process changed it in a way the
/// cache does not follow (a message added to `cur/`, a removal outside IMAP).
pub fn forget(root: &Path) {
    if let Some(map) = CACHE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        map.remove(root);
    }
}

/// A folder's messages with their UIDs, in UID order.
#[derive(Debug, Clone)]
pub struct Numbered {
    pub validity: u32,
    /// The UID the next new message will get (RFC 3501 UIDNEXT).
    pub next: u32,
    /// Messages from this UID up are recent: no read-write session has claimed them yet.
    pub first_recent: u32,
    pub messages: Vec<(u32, Entry)>,
}

/// [`Numbered`] as the cache keeps and shares it: each entry behind its own pointer, so that
/// the cache's edit of one message while sessions read the listing copies pointers only.
#[derive(Debug, Clone)]
pub struct Listing {
    pub validity: u32,
    pub next: u32,
    pub first_recent: u32,
    /// In UID order.
    pub messages: Vec<(u32, Arc<Entry>)>,
    /// Names this state of the listing: no other state of any listing has the same number,
    /// and every edit gives it a greater one.
    pub generation: u64,
    /// The edits since generation `base`: the generation each made and the UID it changed
    /// (or removed), oldest first. A session that compared its view with the listing at a
    /// generation from `base` on only needs to look at these UIDs ([`Listing::edited_since`]).
    edits: Vec<(u64, u32)>,
    base: u64,
}

/// Where generations come from.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// At most this many edits are kept per listing; a session further behind compares all.
const EDITS_KEPT: usize = 1024;

impl Listing {
    fn from(numbered: Numbered) -> Listing {
        let generation = GENERATIONS.fetch_add(1, Ordering::Relaxed);
        Listing {
            generation,
            edits: Vec::new(),
            base: generation,
            validity: numbered.validity,
            next: numbered.next,
            first_recent: numbered.first_recent,
            messages: numbered
                .messages
                .into_iter()
                .map(|(uid, entry)| (uid, Arc::new(entry)))
                .collect(),
        }
    }

    fn note_edit(&mut self, uid: u32) {
        self.generation = GENERATIONS.fetch_add(1, Ordering::Relaxed);
        if self.edits.len() >= EDITS_KEPT {
            let dropped = self.edits.drain(..EDITS_KEPT / 2).next_back();
            self.base = dropped.map_or(self.base, |(generation, _)| generation);
        }
        self.edits.push((self.generation, uid));
    }

    /// The UIDs edited since this listing was at `generation` (some perhaps more than once),
    /// or `None` when that is not known: another listing, or further back than the edits kept.
    pub fn edited_since(&self, generation: u64) -> Option<Vec<u32>> {
        if generation < self.base || generation > self.generation {
            return None;
        }
        Some(
            self.edits
                .iter()
                .filter(|(g, _)| *g > generation)
                .map(|(_, uid)| *uid)
                .collect(),
        )
    }

    /// A copy of its own.
    pub fn numbered(&self) -> Numbered {
        Numbered {
            validity: self.validity,
            next: self.next,
            first_recent: self.first_recent,
            messages: self
                .messages
                .iter()
                .map(|(uid, entry)| (*uid, (**entry).clone()))
                .collect(),
        }
    }
}

/// The list as stored: validity, next UID, and UID per unique name.
struct List {
    validity: u32,
    next: u32,
    first_recent: u32,
    uids: Vec<(u32, String)>,
}

/// Scans `maildir`, gives UIDs to messages that have none, forgets the ones that are gone,
/// and saves the list if anything changed.
pub fn scan(maildir: &Maildir) -> io::Result<Numbered> {
    scan_shared(maildir).map(|listing| listing.numbered())
}

/// [`scan`] without a copy: the listing as the cache holds it, shared.
pub fn scan_shared(maildir: &Maildir) -> io::Result<Arc<Listing>> {
    // The folder's lock first: no session of this server renames a file while the directory
    // is listed, so a listing never misses a message being renamed (a readdir running beside a
    // rename may see neither name), which would forget its UID.
    let _turn = super::lock::folder(maildir.root());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    scan_locked(maildir)
}

/// Gives a folder its UIDVALIDITY now, if it has none yet: called when a folder is created
/// and at login for INBOX and the special folders (RFC 3501 §2.3.1.1).
pub fn ensure(maildir: &Maildir) -> io::Result<()> {
    if maildir.root().join(FILE).exists() {
        return Ok(());
    }
    scan(maildir).map(|_| ())
}

/// Like [`scan`], and claims the recent messages for the caller (see the module comment).
/// Returns the folder and the first UID of the caller's claim: messages from it up are
/// `\Recent` in the caller's session and in no other read-write session.
pub fn claim_recent(maildir: &Maildir) -> io::Result<(Arc<Listing>, u32)> {
    let _turn = super::lock::folder(maildir.root());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let numbered = scan_locked(maildir)?;
    if numbered.first_recent >= numbered.next {
        let next = numbered.next;
        return Ok((numbered, next));
    }
    // Read the list again from disk (not the cache) before changing it.
    let path = maildir.root().join(FILE);
    let mut numbered = scan_now(maildir)?;
    let from = numbered.first_recent;
    numbered.first_recent = numbered.next;
    save(maildir, &path, &list_of(&numbered))?;
    Ok((Arc::new(Listing::from(numbered)), from))
}

/// The list as it is saved, from a folder's numbered messages.
fn list_of(numbered: &Numbered) -> List {
    List {
        validity: numbered.validity,
        next: numbered.next,
        first_recent: numbered.first_recent,
        uids: numbered
            .messages
            .iter()
            .map(|(uid, e)| (*uid, e.unique.clone()))
            .collect(),
    }
}

/// [`scan`] for a caller that holds [`LOCK`].
fn scan_locked(maildir: &Maildir) -> io::Result<Arc<Listing>> {
    let before = stamps(maildir);
    // `new/` must always be settled: deliveries add to it without the folder's lock. A
    // provisional listing is good while `cur/` is still busy, and is read again once it is not.
    if settled_one(before[0]) {
        let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cached) = cache.as_ref().and_then(|c| c.get(maildir.root())) {
            let trusted = if cached.provisional {
                !settled_one(before[1])
            } else {
                settled(&before)
            };
            if cached.stamps == before && trusted {
                return Ok(cached.listing.clone());
            }
        }
    }
    let listing = Arc::new(Listing::from(scan_now(maildir)?));
    let after = stamps(maildir);
    // Listed under the folder's lock, so no change by this process ran beside the listing;
    // with `cur/` not yet settled the listing is provisional.
    if settled_one(after[0]) && after[..2] == before[..2] && after[1].is_some() {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        let map = cache.get_or_insert_with(HashMap::new);
        if map.len() >= CACHE_FOLDERS {
            map.clear();
        }
        let cached = Cached {
            stamps: after,
            listing: listing.clone(),
            provisional: !settled(&after),
        };
        map.insert(maildir.root().to_path_buf(), cached);
    }
    Ok(listing)
}

/// The scan itself (the caller holds [`LOCK`]).
fn scan_now(maildir: &Maildir) -> io::Result<Numbered> {
    let entries = maildir.scan()?;
    let path = maildir.root().join(FILE);
    // A missing or damaged list is saved at once, even for an empty folder: otherwise every
    // look would hand out another UIDVALIDITY (RFC 3501 §2.3.1.1).
    let (mut list, mut changed) = match read(&path) {
        Ok(list) => (list, false),
        Err(()) => (fresh(()), true),
    };
    let known: HashMap<&str, u32> = list.uids.iter().map(|(u, n)| (n.as_str(), *u)).collect();
    let mut messages = Vec::with_capacity(entries.len());
    let mut fresh_ones = Vec::new();
    for entry in entries {
        match known.get(entry.unique.as_str()) {
            Some(&uid) => messages.push((uid, entry)),
            None => fresh_ones.push(entry),
        }
    }
    if messages.len() != list.uids.len() {
        changed = true;
    }
    // New arrivals get UIDs in scan order, which is delivery order (oldest first).
    for entry in fresh_ones {
        messages.push((list.next, entry));
        list.next += 1;
        changed = true;
    }
    messages.sort_by_key(|(uid, _)| *uid);
    if changed {
        list.uids = messages
            .iter()
            .map(|(uid, e)| (*uid, e.unique.clone()))
            .collect();
        save(maildir, &path, &list)?;
    }
    Ok(Numbered {
        validity: list.validity,
        next: list.next,
        first_recent: list.first_recent,
        messages,
    })
}

/// The last UIDVALIDITY handed out by this process.
static LAST_VALIDITY: AtomicU32 = AtomicU32::new(0);

fn fresh(_: ()) -> List {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1);
    // Seconds since 1970 fit in 32 bits until 2106; never 0 (RFC 3501 §9: nz-number). A
    // folder deleted and created again within one second must still get a new value
    // (RFC 3501 §2.3.1.1), so values from this process only ever grow.
    let now = u32::try_from(now).unwrap_or(u32::MAX).max(1);
    let previous = LAST_VALIDITY
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or(0);
    List {
        validity: now.max(previous + 1),
        next: 1,
        first_recent: 1,
        uids: Vec::new(),
    }
}

/// Reads a list; `Err(())` when it is missing or damaged.
fn read(path: &Path) -> Result<List, ()> {
    let text = fs::read_to_string(path).map_err(|_| ())?;
    let mut lines = text.lines();
    let mut header = lines.next().ok_or(())?.split(' ');
    let mut number = || -> Result<u32, ()> { header.next().ok_or(())?.parse().map_err(|_| ()) };
    let validity = number()?;
    let next = number()?;
    // Lists written before the recent number existed: nothing is recent.
    let first_recent = number().unwrap_or(next).min(next);
    let mut uids = Vec::new();
    for line in lines {
        let (uid, name) = line.split_once(' ').ok_or(())?;
        let uid: u32 = uid.parse().map_err(|_| ())?;
        if uid == 0 || uid >= next {
            return Err(());
        }
        uids.push((uid, name.to_string()));
    }
    if validity == 0 || next == 0 {
        return Err(());
    }
    Ok(List {
        validity,
        next,
        first_recent,
        uids,
    })
}

/// Writes the list and forgets the cached scan of its folder: the file's modification time
/// alone could miss a second write in the same clock tick.
fn save(maildir: &Maildir, path: &Path, list: &List) -> io::Result<()> {
    forget(maildir.root());
    let mut text = format!("{} {} {}\n", list.validity, list.next, list.first_recent);
    for (uid, name) in &list.uids {
        text.push_str(&format!("{uid} {name}\n"));
    }
    durable::write_atomically(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_serves_a_settled_folder_and_never_hides_a_change() {
        let dir = std::env::temp_dir().join(format!("postlab-uids-cache-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let maildir = Maildir::create(&dir).unwrap();
        maildir.deliver(&[b"one\r\n"], "mx.test").unwrap();
        assert_eq!(scan(&maildir).unwrap().messages.len(), 1);
        // Let the folder settle past the clock-tick window, so the next scan is cached.
        std::thread::sleep(std::time::Duration::from_millis(80));
        let cached = scan(&maildir).unwrap();
        assert!(CACHE
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .contains_key(maildir.root()));
        assert_eq!(cached.messages.len(), 1);
        // A delivery changes new/: the next scan sees it at once.
        maildir.deliver(&[b"two\r\n"], "mx.test").unwrap();
        assert_eq!(scan(&maildir).unwrap().messages.len(), 2);
        // A flag change renames in cur/: seen at once too.
        std::thread::sleep(std::time::Duration::from_millis(80));
        let entry = scan(&maildir).unwrap().messages[0].1.clone();
        set_flags(&maildir, &entry, "S").unwrap();
        let after = scan(&maildir).unwrap();
        assert_eq!(after.messages[0].1.flags, "S");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Sets the modification time of `root/sub`.
    fn touch(root: &Path, sub: &str, time: SystemTime) {
        fs::File::open(root.join(sub))
            .unwrap()
            .set_modified(time)
            .unwrap();
    }

    #[test]
    fn an_own_flag_change_edits_the_cached_listing_and_a_settled_one_is_read_again() {
        let dir = std::env::temp_dir().join(format!("postlab-uids-edit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let maildir = Maildir::create(&dir).unwrap();
        maildir.deliver(&[b"one\r\n"], "mx.test").unwrap();
        maildir.deliver(&[b"two\r\n"], "mx.test").unwrap();
        for (_, entry) in scan(&maildir).unwrap().messages {
            maildir.set_flags(&entry, "").unwrap();
        }
        // Times that are settled and not: long past, and one in the future.
        let past = SystemTime::now() - std::time::Duration::from_secs(10);
        let busy = SystemTime::now() + std::time::Duration::from_secs(3600);
        touch(&dir, "new", past);
        touch(&dir, "cur", busy);
        // Listed while cur/ is still busy: cached, provisional.
        let listed = scan(&maildir).unwrap();
        let cached = |f: &dyn Fn(&mut Cached)| {
            let mut cache = CACHE.lock().unwrap();
            f(cache.as_mut().unwrap().get_mut(maildir.root()).unwrap())
        };
        cached(&|c| assert!(c.provisional));
        // A flag change by this process edits the listing in place, with cur/'s new time.
        let first = &listed.messages[0].1;
        let moved = set_flags(&maildir, first, "S").unwrap();
        cached(&|c| {
            assert_eq!(c.stamps[1], cur_stamp(&dir));
            assert_eq!(c.listing.messages[0].1.path, moved);
            assert_eq!(c.listing.messages[0].1.flags, "S");
        });
        // While cur/ is busy (a time not yet settled, here one in the future) the listing is
        // served as it is: a rename behind its back, with the time put back, is not seen…
        touch(&dir, "cur", busy);
        cached(&|c| c.stamps[1] = Some(busy));
        let second = &listed.messages[1].1;
        let behind = dir.join("cur").join(format!("{}:2,F", second.unique));
        fs::rename(&second.path, &behind).unwrap();
        touch(&dir, "cur", busy);
        assert_eq!(scan(&maildir).unwrap().messages[1].1.flags, "");
        // … and once the time has settled it is read again from disk.
        touch(&dir, "cur", past);
        cached(&|c| c.stamps[1] = Some(past));
        assert_eq!(scan(&maildir).unwrap().messages[1].1.flags, "F");
        cached(&|c| assert!(!c.provisional));
        // An expunge by this process takes the message out of the listing.
        let entry = scan(&maildir).unwrap().messages[1].1.clone();
        remove(&maildir, &entry).unwrap();
        cached(&|c| assert_eq!(c.listing.messages.len(), 1));
        assert_eq!(scan(&maildir).unwrap().messages.len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_listing_names_the_uids_edited_since_a_generation_while_it_kept_them() {
        let mut listing = Listing::from(Numbered {
            validity: 1,
            next: 1,
            first_recent: 1,
            messages: Vec::new(),
        });
        let start = listing.generation;
        listing.note_edit(7);
        let after_first = listing.generation;
        listing.note_edit(9);
        assert_eq!(listing.edited_since(start), Some(vec![7, 9]));
        assert_eq!(listing.edited_since(after_first), Some(vec![9]));
        assert_eq!(listing.edited_since(listing.generation), Some(vec![]));
        // Another listing's generation, or one from before the edits kept: compare all.
        assert_eq!(listing.edited_since(start - 1), None);
        for uid in 0..EDITS_KEPT as u32 {
            listing.note_edit(uid);
        }
        assert_eq!(listing.edited_since(after_first), None);
        let recent = listing.generation;
        listing.note_edit(3);
        assert_eq!(listing.edited_since(recent), Some(vec![3]));
    }

    #[test]
    fn an_empty_folder_keeps_its_uidvalidity_and_recent_is_claimed_once() {
        let dir = std::env::temp_dir().join(format!("postlab-uids-empty-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let maildir = Maildir::create(&dir).unwrap();
        let first = scan(&maildir).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(scan(&maildir).unwrap().validity, first.validity);
        maildir.deliver(&[b"one\r\n"], "mx.test").unwrap();
        let (numbered, from) = claim_recent(&maildir).unwrap();
        assert_eq!((from, numbered.next, numbered.first_recent), (1, 2, 2));
        let (_, again) = claim_recent(&maildir).unwrap();
        assert_eq!(again, 2, "claimed once only");
        assert_eq!(scan(&maildir).unwrap().validity, first.validity);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn uids_grow_persist_and_are_not_reused() {
        let dir = std::env::temp_dir().join(format!("postlab-uids-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let maildir = Maildir::create(&dir).unwrap();
        let first = maildir.deliver(&[b"one\r\n"], "mx.test").unwrap();
        maildir.deliver(&[b"two\r\n"], "mx.test").unwrap();
        let a = scan(&maildir).unwrap();
        assert_eq!(a.messages.iter().map(|m| m.0).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(a.next, 3);
        fs::remove_file(first).unwrap();
        maildir.deliver(&[b"three\r\n"], "mx.test").unwrap();
        let b = scan(&maildir).unwrap();
        assert_eq!(b.validity, a.validity);
        assert_eq!(b.messages.iter().map(|m| m.0).collect::<Vec<_>>(), [2, 3]);
        fs::write(dir.join(FILE), "garbage").unwrap();
        let c = scan(&maildir).unwrap();
        assert!(
            c.validity > a.validity,
            "a damaged list gets a new UIDVALIDITY"
        );
        assert_eq!(c.messages.iter().map(|m| m.0).collect::<Vec<_>>(), [1, 2]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
