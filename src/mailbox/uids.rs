//! IMAP unique identifiers for the messages of one Maildir folder, kept in a small file.
//!
//! RFC 3501 §2.3.1.1: every message has a UID that never changes and is never reused in the
//! folder, and UIDs grow in the order messages were added. Together with the folder's
//! UIDVALIDITY they let a client cache what it has seen across sessions, so both must survive
//! a restart. Maildir itself has no such numbers, so postlab keeps them beside the messages:
//!
//! The numbers live in `postlab-uidlist` beside the messages, with a journal of the changes
//! since it was last written whole (`uidlist` shows both files and says why the journal).
//!
//! # Mod-sequences (RFC 7162, CONDSTORE and QRESYNC)
//!
//! Every message has a MODSEQ and the folder a HIGHESTMODSEQ, which only grow. They are
//! given **when a folder is listed** (under its lock), from what the listing finds changed
//! since the list was written: a message seen for the first time (however it came: SMTP
//! delivery into `new/` takes no lock and needs none), a message whose flags after `:2,` are
//! not the ones recorded (a STORE of this server, POP3, or another program renaming the file
//! outside postlab's locks), and a message that is gone (expunged by anyone). One listing
//! that finds changes takes HIGHESTMODSEQ + 1 and gives it to all of them: RFC 7162 §3.1
//! asks a new value per STORE, which a STORE gets because it lists the folder after its
//! renames, under the lock. This server's own changes that edit the cached listing in place
//! (below: [`set_flags`] with new flags, [`remove`]) take HIGHESTMODSEQ + 1 each, at once, in
//! the listing, and one line goes to the uidlist's journal. The journal is flushed before the
//! edited listing is handed to anyone (`hand_out`), so every MODSEQ a client hears is on
//! disk. An edit whose line could not be written drops the listing, which costs nothing: the
//! next listing from disk finds the same change against the file and numbers it, and the
//! lost number was never told. A flag set twice between two listings counts once; a flag set
//! and cleared again between two listings is not seen at all (the file name is what it was):
//! only another program can do that, since every session of this server lists after it
//! changes anything.
//!
//! Expunged UIDs are remembered with their MODSEQ, so that QRESYNC can answer "what vanished
//! since n" (`VANISHED (EARLIER)`, RFC 7162 §3.2.5.1, §3.2.6). At most [`MAX_EXPUNGED`] are
//! kept, the newest; the MODSEQ of the newest one forgotten is the *expunge floor*. A client
//! asking about changes since a MODSEQ below the floor gets every UID of its set that is no
//! longer in the folder, as §3.2.6 asks of a server that has forgotten ("MUST behave as if it
//! was requested to report all expunged messages"), which is also right for a client that
//! missed a change.
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
//! The list is rewritten whole with `durable::write_atomically`, so a crash leaves the old list
//! or the new, never a mixture; the journal is only appended to (`uidlist`). All sessions of the server go through one lock while they read
//! and update a list, so two of them cannot give the same UID to different messages, and a
//! folder is listed under its folder lock (`lock::folder`), so no rename by this server can
//! hide a message from the listing and make it lose its UID.
//!
//! Reading a folder of 10,000 messages means listing `cur/` and matching every name to its UID:
//! tens of milliseconds. So the last scan of each folder is kept in memory, shared by every
//! session, and reused while `new/`, `cur/` and the list file are unchanged (their modification
//! times). A time too recent to be told apart from a second change in the same clock tick is
//! not trusted for good, the same caution git takes with "racy" files: a listing made while
//! `new/` was that recent (deliveries arriving) serves only until `new/` has settled, and is
//! then read again, so a message delivered in the same tick as the listing is seen tens of
//! milliseconds later, while every look meanwhile does not read the whole folder again.
//! When only `new/` changed (mail arrived), only `new/` is read and the arrivals are added to
//! the cached listing (`arrivals`); a session moving them on to `cur/` edits it as a flag
//! change does. With mail arriving every 50 ms, each look used to read all of `cur/` again.
//!
//! Except this server's own changes to `cur/`: a flag change or an expunge by a session of this
//! process happens under the folder's lock and goes through [`set_flags`] and [`remove`] here,
//! which edit the cached listing in place (with its new MODSEQ, above) instead of throwing it
//! away. While sessions keep changing flags, `cur/` never settles, and without this every
//! command would read the whole folder again. Such an edited listing is *provisional*: it is
//! trusted only while its `cur/` time is the one recorded right after the edit, and once that
//! time has settled it is read from disk once more, which catches a rename by another program
//! made in the same clock tick as ours. Not more often than every `RECHECK`: with a few
//! flag changes a second, `cur/` settles between most of them, and reading 10,000 names again
//! after each one cost more than the changes (so such a rename may go unseen for that long,
//! once). Any other change to `cur/` by this process (a message
//! added by APPEND or COPY, a removal by POP3) drops the listing ([`forget`]).
//!
//! What can go wrong: a damaged file. It is then replaced by a fresh list with a new
//! UIDVALIDITY, which is exactly what the RFC asks when UIDs cannot be kept: clients see the
//! new value and forget their cache.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use super::chunked::Chunked;
use super::maildir::Entry;
use super::uidlist::{self, List};
use super::Maildir;

pub use super::uidlist::{FILE, MAX_EXPUNGED, MAX_MODSEQ};

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
    /// When it was last read from disk.
    read_at: std::time::Instant,
    /// Read while `new/` was not settled: see [`cached_hit`].
    new_racy: bool,
    /// Journal lines appended for its edits, and how many of them are known flushed: the
    /// journal is flushed before the listing is handed to anyone ([`hand_out`]), so no
    /// MODSEQ is told that a crash could lose.
    appended: u64,
    synced: u64,
    /// Lines in the journal now, replayed or appended: at [`uidlist::compact_at`] the list
    /// is written whole and the journal starts again.
    journal_lines: usize,
}

/// A provisional listing is read again from disk once `cur/` has settled, but not sooner
/// than this after its last reading (module comment).
const RECHECK: std::time::Duration = std::time::Duration::from_secs(2);

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

/// A stamp that is safe to cache on: known, and not so recent that a second change could
/// still get the same time. Linux stamps files with a clock that ticks every few milliseconds,
/// so 50 ms is plenty where times carry fractions of a second; a file system that keeps whole
/// seconds only needs a full second.
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

/// The modification time of a folder's `cur/`.
pub fn cur_stamp(root: &Path) -> Option<SystemTime> {
    fs::metadata(root.join("cur"))
        .and_then(|m| m.modified())
        .ok()
}

/// What a change of this process did to the cached listing ([`edit_cached`]).
enum Edit {
    /// Nothing the listing records changed (a rename to the name it had).
    Same,
    /// Message `uid` changed (or was removed); the line records it in the journal. No line:
    /// only where its file is changed (out of `new/`), which the list does not record.
    Changed(u32, Option<String>),
    /// The listing cannot follow this change: it is dropped, and read again from disk.
    Unknown,
}

/// Makes `change` to `cur/` (a rename or a removal; the caller holds the folder's lock) and
/// has the cached listing of the folder at `root` follow it: `edit` applies the change to a
/// copy of the listing and returns the journal line that records it; the line is appended
/// (flushed later, [`hand_out`]) and the copy takes the listing's place. If the listing was
/// not current, `edit` cannot apply the change or the line cannot be written, the listing
/// is dropped instead (module comment).
///
/// The copy is made before the change and the line appended after it, outside the cache's
/// lock: a session that looks meanwhile sees `cur/`'s new time beside the old listing, and
/// looks again ([`current`]), so the time between the two is kept short.
///
/// `from_new`: the change moves a message out of `new/`, which changes `new/`'s time too.
/// Deliveries change it without any lock, so one could land between the two looks at that
/// time and be missing from the edited listing: such a listing is *racy* for `new/`
/// ([`cached_hit`]) and `new/` is read again once it has settled.
fn edit_cached<T>(
    root: &Path,
    from_new: bool,
    change: impl FnOnce() -> io::Result<T>,
    edit: impl FnOnce(&mut Listing, &T) -> Edit,
) -> io::Result<T> {
    let before = cur_stamp(root);
    let new_dir = || {
        fs::metadata(root.join("new"))
            .and_then(|m| m.modified())
            .ok()
    };
    let before_new = if from_new { new_dir() } else { None };
    let shared = {
        let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .as_ref()
            .and_then(|map| map.get(root))
            .filter(|cached| before.is_some() && cached.stamps[1] == before)
            .filter(|cached| !from_new || (before_new.is_some() && cached.stamps[0] == before_new))
            .map(|cached| cached.listing.clone())
    };
    // Sessions may be reading the shared listing: the edit goes to a copy (of the pointers
    // to the entries, not of the entries).
    let mut copy = shared.as_deref().cloned();
    let done = change()?;
    let after = cur_stamp(root);
    let after_new = if from_new { new_dir() } else { None };
    let (edited, journaled) = match copy.as_mut().map(|listing| edit(listing, &done)) {
        None | Some(Edit::Same) => return Ok(done),
        Some(Edit::Unknown) => (None, false),
        Some(Edit::Changed(uid, line)) => (
            copy.filter(|listing| match &line {
                Some(line) => uidlist::append(root, listing.validity, line).is_ok(),
                None => true,
            })
            .map(|mut listing| {
                listing.note_edit(uid);
                Arc::new(listing)
            }),
            line.is_some(),
        ),
    };
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(map) = cache.as_mut() else {
        return Ok(done);
    };
    let current = map.get_mut(root).filter(|cached| {
        shared
            .as_ref()
            .is_some_and(|shared| Arc::ptr_eq(&cached.listing, shared))
    });
    let (Some(cached), Some(listing), Some(after)) = (current, edited, after) else {
        map.remove(root);
        return Ok(done);
    };
    cached.listing = listing.clone();
    cached.stamps[1] = Some(after);
    cached.provisional = true;
    if from_new {
        cached.stamps[0] = after_new;
        cached.new_racy = true;
    }
    if journaled {
        cached.appended += 1;
        cached.journal_lines += 1;
    }
    if cached.journal_lines < uidlist::compact_at(listing.messages.len()) {
        return Ok(done);
    }
    // Folded into a list written whole (and synced): every line so far is on disk. Written
    // outside the cache's lock; only this thread edits the folder (it holds its lock).
    let appended = cached.appended;
    drop(cache);
    let written = uidlist::write(root, &listing.list())
        .and_then(|()| fs::metadata(root.join(FILE))?.modified());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(map) = cache.as_mut() else {
        return Ok(done);
    };
    match (written, map.get_mut(root)) {
        (Ok(time), Some(cached)) if Arc::ptr_eq(&cached.listing, &listing) => {
            cached.journal_lines = 0;
            cached.synced = cached.synced.max(appended);
            cached.stamps[2] = Some(time);
        }
        _ => {
            map.remove(root);
        }
    }
    Ok(done)
}

/// [`Maildir::set_flags`], and the cached listing follows: a rename within `cur/` edits it, a
/// move out of `new/` changes `new/`, which drops it. The caller holds the folder's lock.
/// `uid` is the message's UID when the caller knows it: the listing finds it at once.
pub fn set_flags(
    maildir: &Maildir,
    uid: Option<u32>,
    entry: &Entry,
    flags: &str,
) -> io::Result<std::path::PathBuf> {
    let root = maildir.root();
    let rename = || maildir.set_flags(entry, flags);
    // Out of new/ (a session saw new mail): `new/` changes too. Anything else that changes
    // the folder of a file is not a rename the listing can follow.
    let from_new = entry.is_new && entry.path.parent() == Some(&root.join("new"));
    edit_cached(root, from_new, rename, |listing, target| {
        if *target == entry.path {
            return Edit::Same;
        }
        if entry.path.parent() != target.parent() && !from_new {
            return Edit::Unknown;
        }
        let letters = target
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split_once(":2,"))
            .map_or("", |(_, letters)| letters);
        renamed(listing, uid, &entry.unique, target, letters)
    })
}

/// Removes a message's file (an expunge; the caller holds the folder's lock), and the cached
/// listing follows. `uid` as for [`set_flags`].
pub fn remove(maildir: &Maildir, uid: Option<u32>, entry: &Entry) -> io::Result<()> {
    let remove = || fs::remove_file(&entry.path);
    let from_new = entry.path.parent() == Some(&maildir.root().join("new"));
    if from_new {
        // Removing from new/ (an expunge of a message no session moved yet) is rare: the
        // listing is read again.
        let removed = remove();
        forget(maildir.root());
        return removed;
    }
    edit_cached(maildir.root(), false, remove, |listing, ()| {
        removed(listing, uid, &entry.unique)
    })
}

/// This process renamed message `unique` to `path` (in `cur/`, flags `flags`). New flags give
/// the message a new MODSEQ, HIGHESTMODSEQ + 1 (RFC 7162 §3.1), as a listing would.
fn renamed(
    listing: &mut Listing,
    uid: Option<u32>,
    unique: &str,
    path: &Path,
    flags: &str,
) -> Edit {
    // The MODSEQs run beside the messages, index for index.
    let Some(i) = listing
        .position(uid, unique)
        .filter(|&i| i < listing.modseqs.len())
    else {
        return Edit::Unknown;
    };
    let Some((uid, entry)) = listing.messages.get_mut(i) else {
        return Edit::Unknown;
    };
    let (uid, changed) = (*uid, entry.flags != flags);
    *entry = Arc::new(Entry {
        path: path.to_path_buf(),
        flags: flags.to_string(),
        is_new: false,
        ..(**entry).clone()
    });
    // The same flags: moved out of new/ only, which the list does not record.
    if !changed {
        return Edit::Changed(uid, None);
    }
    let Some(modseq) = listing.highest_modseq.checked_add(1) else {
        return Edit::Unknown;
    };
    listing.highest_modseq = modseq;
    if let Some(slot) = listing.modseqs.get_mut(i) {
        *slot = modseq;
    }
    Edit::Changed(uid, Some(uidlist::flags_line(uid, modseq, unique, flags)))
}

/// This process removed message `unique` from `cur/` (an expunge): its UID is remembered as
/// expunged at a new MODSEQ, HIGHESTMODSEQ + 1 (RFC 7162 §3.2), as a listing would.
fn removed(listing: &mut Listing, uid: Option<u32>, unique: &str) -> Edit {
    let Some(i) = listing
        .position(uid, unique)
        .filter(|&i| i < listing.modseqs.len())
    else {
        return Edit::Unknown;
    };
    let Some(modseq) = listing.highest_modseq.checked_add(1) else {
        return Edit::Unknown;
    };
    listing.highest_modseq = modseq;
    let (Some((uid, _)), Some(_)) = (listing.messages.remove(i), listing.modseqs.remove(i)) else {
        return Edit::Unknown;
    };
    let expunged = Arc::make_mut(&mut listing.expunged);
    uidlist::remember_expunged(expunged, &mut listing.expunge_floor, &[uid], modseq);
    Edit::Changed(uid, Some(uidlist::expunge_line(uid, modseq)))
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
    /// The MODSEQ of each message of `messages`, at the same index (RFC 7162 §3.1).
    pub modseqs: Vec<u64>,
    /// The folder's HIGHESTMODSEQ: the largest MODSEQ given, to a message or an expunge.
    pub highest_modseq: u64,
    /// Expunged UIDs with the MODSEQ of their expunge, oldest first (module comment).
    pub expunged: Arc<Vec<(u32, u64)>>,
    /// Expunges with a MODSEQ up to this one may have been forgotten; 0: none was.
    pub expunge_floor: u64,
}

/// [`Numbered`] as the cache keeps and shares it: each entry behind its own pointer, so that
/// the cache's edit of one message while sessions read the listing copies pointers only.
#[derive(Debug, Clone)]
pub struct Listing {
    pub validity: u32,
    pub next: u32,
    pub first_recent: u32,
    /// In UID order, in shared chunks (`chunked`): an edit copies one chunk, not the list.
    pub messages: Chunked<(u32, Arc<Entry>)>,
    /// As in [`Numbered`]: the MODSEQ of each message, HIGHESTMODSEQ, expunges remembered.
    pub modseqs: Chunked<u64>,
    pub highest_modseq: u64,
    pub expunged: Arc<Vec<(u32, u64)>>,
    pub expunge_floor: u64,
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
            messages: Chunked::from_vec(
                numbered
                    .messages
                    .into_iter()
                    .map(|(uid, entry)| (uid, Arc::new(entry)))
                    .collect(),
            ),
            modseqs: Chunked::from_vec(numbered.modseqs),
            highest_modseq: numbered.highest_modseq,
            expunged: numbered.expunged,
            expunge_floor: numbered.expunge_floor,
        }
    }

    /// The index of the message with `uid`, if it is in the folder.
    pub fn index_of(&self, uid: u32) -> Option<usize> {
        let at = self.messages.partition_point(|(u, _)| *u < uid);
        self.messages
            .get(at)
            .is_some_and(|(u, _)| *u == uid)
            .then_some(at)
    }

    /// The MODSEQ of the message with `uid`, if it is in the folder.
    pub fn modseq_of(&self, uid: u32) -> Option<u64> {
        self.modseqs.get(self.index_of(uid)?).copied()
    }

    /// Where message `unique` is in the listing: found by its UID when given (a binary
    /// search, checked against the name), else by walking the list.
    fn position(&self, uid: Option<u32>, unique: &str) -> Option<usize> {
        if let Some(at) = uid.and_then(|uid| self.index_of(uid)) {
            if self
                .messages
                .get(at)
                .is_some_and(|(_, e)| e.unique == unique)
            {
                return Some(at);
            }
        }
        self.messages.iter().position(|(_, e)| e.unique == unique)
    }

    /// The list as it is saved (see [`list_of`]).
    fn list(&self) -> List {
        List {
            validity: self.validity,
            next: self.next,
            first_recent: self.first_recent,
            highest: self.highest_modseq,
            floor: self.expunge_floor,
            known: self
                .messages
                .iter()
                .zip(self.modseqs.iter())
                .map(|((uid, e), modseq)| uidlist::Known {
                    uid: *uid,
                    modseq: *modseq,
                    flags: Some(e.flags.clone()),
                    unique: e.unique.clone(),
                })
                .collect(),
            expunged: self.expunged.to_vec(),
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
            modseqs: self.modseqs.iter().copied().collect(),
            highest_modseq: self.highest_modseq,
            expunged: self.expunged.clone(),
            expunge_floor: self.expunge_floor,
        }
    }
}

impl Numbered {
    /// The MODSEQ of the message with `uid`, if it is in the folder.
    pub fn modseq_of(&self, uid: u32) -> Option<u64> {
        let at = self.messages.binary_search_by_key(&uid, |(u, _)| *u).ok()?;
        self.modseqs.get(at).copied()
    }
}

/// Scans `maildir`, gives UIDs to messages that have none, forgets the ones that are gone,
/// and saves the list if anything changed.
pub fn scan(maildir: &Maildir) -> io::Result<Numbered> {
    scan_shared(maildir).map(|listing| listing.numbered())
}

/// [`scan`] without a copy: the listing as the cache holds it, shared.
pub fn scan_shared(maildir: &Maildir) -> io::Result<Arc<Listing>> {
    // A current listing in the cache needs no lock: see [`current`].
    if let Some(listing) = current(maildir)? {
        return Ok(listing);
    }
    // The folder's lock first: no session of this server renames a file while the directory
    // is listed, so a listing never misses a message being renamed (a readdir running beside a
    // rename may see neither name), which would forget its UID.
    let _turn = super::lock::folder(maildir.root());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    scan_locked(maildir)
}

/// The cached listing of `maildir` if it is current, without taking the folder's lock: a
/// session that only looks (every command ends with a look for other sessions' changes)
/// never waits behind one that changes the folder. That is safe because the cache is only
/// written under the folder's lock, and this server's own renames change `cur/`'s time
/// before they edit the listing: a look in between sees times that differ from the cached
/// ones, and takes the slow way, which waits for the lock.
///
/// A look between a rename and the edit that follows it ([`edit_cached`]) sees `cur/` newer
/// than the cached listing: it looks again a few times, letting the other thread finish the
/// edit, before it takes the slow way (which would wait for the whole command that renames).
fn current(maildir: &Maildir) -> io::Result<Option<Arc<Listing>>> {
    for _ in 0..LOOKS {
        let now = stamps(maildir);
        if let Some(hit) = cached_hit(maildir.root(), &now) {
            return hand_out(maildir.root(), hit).map(Some);
        }
        if !editing(maildir.root(), &now) {
            break;
        }
        std::thread::yield_now();
    }
    Ok(None)
}

/// How many times [`current`] looks while an edit may be under way.
const LOOKS: usize = 4;

/// Does the cache hold a listing of `root` that differs from the times `now` in `cur/` alone,
/// as it does between one of this server's renames and the edit that follows?
fn editing(root: &Path, now: &Stamps) -> bool {
    let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .as_ref()
        .and_then(|c| c.get(root))
        .is_some_and(|cached| cached.stamps[0] == now[0] && cached.stamps[2] == now[2])
}

/// A cached listing that may be used with the times `now`, and how many journal lines its
/// edits appended and how many of those are known flushed.
fn cached_hit(root: &Path, now: &Stamps) -> Option<(Arc<Listing>, u64, u64)> {
    let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let cached = cache.as_ref().and_then(|c| c.get(root))?;
    // Listed while `new/` was busy: good while it still is, read again once it has settled
    // (a delivery in the same clock tick as the listing may be missing from it). Deliveries
    // add to `new/` without the folder's lock, so this is read again without delay.
    if cached.new_racy && settled_one(now[0]) {
        return None;
    }
    // A provisional listing is good while `cur/` is still busy, and is read again once it
    // is not (at most every RECHECK).
    let trusted = if cached.provisional {
        !settled_one(now[1]) || cached.read_at.elapsed() < RECHECK
    } else {
        settled_one(now[1])
    };
    (cached.stamps == *now && trusted)
        .then(|| (cached.listing.clone(), cached.appended, cached.synced))
}

/// Hands out a cached listing, first flushing the journal lines of its edits if they are not
/// known flushed yet: no MODSEQ is told before it is on disk. One flush covers every line
/// appended before it, so the sessions that look after a burst of changes share it.
fn hand_out(
    root: &Path,
    (listing, appended, synced): (Arc<Listing>, u64, u64),
) -> io::Result<Arc<Listing>> {
    if appended > synced {
        uidlist::sync_journal(root)?;
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cached) = cache.as_mut().and_then(|c| c.get_mut(root)) {
            cached.synced = cached.synced.max(appended);
        }
    }
    Ok(listing)
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
    // Nothing to claim in a current listing: no lock needed (see [`current`]).
    if let Some(listing) = current(maildir)? {
        if listing.first_recent >= listing.next {
            let next = listing.next;
            return Ok((listing, next));
        }
    }
    let _turn = super::lock::folder(maildir.root());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let numbered = scan_locked(maildir)?;
    if numbered.first_recent >= numbered.next {
        let next = numbered.next;
        return Ok((numbered, next));
    }
    // The claim is written with the whole list (which folds the journal in), and the cached
    // listing, if it is this one, follows: the next look need not read the folder again.
    let from = numbered.first_recent;
    let mut claimed = (*numbered).clone();
    claimed.first_recent = claimed.next;
    let root = maildir.root();
    if let Err(e) = uidlist::write(root, &claimed.list()) {
        forget(root);
        return Err(e);
    }
    let claimed = Arc::new(claimed);
    let written = fs::metadata(root.join(FILE))
        .and_then(|m| m.modified())
        .ok();
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(map) = cache.as_mut() {
        match map.get_mut(root) {
            Some(cached) if Arc::ptr_eq(&cached.listing, &numbered) && written.is_some() => {
                cached.listing = claimed.clone();
                cached.stamps[2] = written;
                cached.journal_lines = 0;
                cached.synced = cached.appended;
            }
            _ => {
                map.remove(root);
            }
        }
    }
    Ok((claimed, from))
}

/// The list as it is saved, from a folder's numbered messages.
fn list_of(numbered: &Numbered) -> List {
    List {
        validity: numbered.validity,
        next: numbered.next,
        first_recent: numbered.first_recent,
        highest: numbered.highest_modseq,
        floor: numbered.expunge_floor,
        known: numbered
            .messages
            .iter()
            .zip(&numbered.modseqs)
            .map(|((uid, e), modseq)| uidlist::Known {
                uid: *uid,
                modseq: *modseq,
                flags: Some(e.flags.clone()),
                unique: e.unique.clone(),
            })
            .collect(),
        expunged: numbered.expunged.to_vec(),
    }
}

/// [`scan`] for a caller that holds [`LOCK`].
fn scan_locked(maildir: &Maildir) -> io::Result<Arc<Listing>> {
    let before = stamps(maildir);
    if let Some(hit) = cached_hit(maildir.root(), &before) {
        return hand_out(maildir.root(), hit);
    }
    if let Some(listing) = arrivals(maildir, &before)? {
        return Ok(listing);
    }
    let (numbered, journal_lines) = scan_now(maildir)?;
    let listing = Arc::new(Listing::from(numbered));
    let after = stamps(maildir);
    // Listed under the folder's lock, so no change by this process ran beside the listing;
    // with `cur/` not yet settled the listing is provisional, with `new/` not yet settled it
    // is read again once `new/` has (`cached_hit`).
    if after[..2] == before[..2] && after[0].is_some() && after[1].is_some() {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        let map = cache.get_or_insert_with(HashMap::new);
        if map.len() >= CACHE_FOLDERS {
            map.clear();
        }
        let cached = Cached {
            stamps: after,
            listing: listing.clone(),
            provisional: !settled_one(after[1]),
            read_at: std::time::Instant::now(),
            new_racy: !settled_one(after[0]),
            appended: 0,
            synced: 0,
            journal_lines,
        };
        map.insert(maildir.root().to_path_buf(), cached);
    }
    Ok(listing)
}

/// New mail, when only `new/` changed since the cached listing (the caller holds the folder's
/// lock and [`LOCK`]): `new/` alone is read, and the messages that are new to the listing are
/// added to a copy of it with the next UIDs and one new MODSEQ, the list written whole (UIDs
/// handed out must survive a crash), and the copy cached. A delivery then costs reading
/// `new/`, not the 10,000 names of `cur/`. `None`: anything else changed, or something left
/// `new/`; the caller reads the whole folder.
fn arrivals(maildir: &Maildir, before: &Stamps) -> io::Result<Option<Arc<Listing>>> {
    let root = maildir.root();
    let listing = {
        let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        let usable = |c: &&Cached| {
            let cur_trusted =
                !c.provisional || !settled_one(before[1]) || c.read_at.elapsed() < RECHECK;
            let new_changed = c.stamps[0] != before[0] || c.new_racy;
            c.stamps[1..] == before[1..] && new_changed && cur_trusted
        };
        match cache.as_ref().and_then(|c| c.get(root)).filter(usable) {
            Some(cached) => cached.listing.clone(),
            None => return Ok(None),
        }
    };
    let in_new = maildir.scan_new()?;
    let after = stamps(maildir);
    if after != *before || after[0].is_none() {
        return Ok(None);
    }
    let listed: HashSet<&str> = listing
        .messages
        .iter()
        .filter(|(_, e)| e.is_new)
        .map(|(_, e)| e.unique.as_str())
        .collect();
    let present: HashSet<&str> = in_new.iter().map(|e| e.unique.as_str()).collect();
    if !listed.is_subset(&present) {
        return Ok(None);
    }
    let fresh: Vec<Entry> = in_new
        .iter()
        .filter(|e| !listed.contains(e.unique.as_str()))
        .cloned()
        .collect();
    // A name the listing has in `cur/` as well (a file put back by hand): the full scan
    // decides which of the two keeps the UID.
    if !fresh.is_empty() {
        let all: HashSet<&str> = listing
            .messages
            .iter()
            .map(|(_, e)| e.unique.as_str())
            .collect();
        if fresh.iter().any(|e| all.contains(e.unique.as_str())) {
            return Ok(None);
        }
    }
    let mut copy = (*listing).clone();
    // RFC 7162 §3.1: one new MODSEQ, above every other, for what this look found.
    let Some(modseq) = copy.highest_modseq.checked_add(1) else {
        return Ok(None);
    };
    if !fresh.is_empty() {
        copy.highest_modseq = modseq;
    }
    for entry in fresh {
        let uid = copy.next;
        let Some(next) = uid.checked_add(1) else {
            return Ok(None);
        };
        copy.messages.push((uid, Arc::new(entry)));
        copy.modseqs.push(modseq);
        copy.note_edit(uid);
        copy.next = next;
    }
    if copy.next != listing.next {
        if let Err(e) = uidlist::write(root, &copy.list()) {
            forget(root);
            return Err(e);
        }
    }
    let written = fs::metadata(root.join(FILE))
        .and_then(|m| m.modified())
        .ok();
    let copy = Arc::new(copy);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(cached) = cache.as_mut().and_then(|c| c.get_mut(root)) else {
        return Ok(Some(copy));
    };
    if !Arc::ptr_eq(&cached.listing, &listing) || written.is_none() {
        if let Some(map) = cache.as_mut() {
            map.remove(root);
        }
        return Ok(Some(copy));
    }
    cached.listing = copy.clone();
    cached.stamps = [after[0], after[1], written];
    cached.new_racy = !settled_one(after[0]);
    if copy.next != listing.next {
        cached.journal_lines = 0;
        cached.synced = cached.appended;
    }
    Ok(Some(copy))
}

/// The scan itself (the caller holds [`LOCK`]): UIDs for new messages, and a new MODSEQ for
/// everything changed since the list was written (module comment).
/// Also returns the lines of the journal the list still has beside it.
fn scan_now(maildir: &Maildir) -> io::Result<(Numbered, usize)> {
    let entries = maildir.scan()?;
    // A missing or damaged list is saved at once, even for an empty folder: otherwise every
    // look would hand out another UIDVALIDITY (RFC 3501 §2.3.1.1). So is one whose journal
    // held something that does not fit (`uidlist`): writing the list clears it.
    let (mut list, mut changed, journal_lines) = match uidlist::read(maildir.root()) {
        Some(read) => (read.list, read.journal_stale, read.journal_lines),
        None => (uidlist::fresh(), true, 0),
    };
    // The one new MODSEQ of this listing, used only if something changed.
    let modseq = list.highest + 1;
    let mut bumped = false;
    let mut known: HashMap<&str, &uidlist::Known> =
        list.known.iter().map(|k| (k.unique.as_str(), k)).collect();
    let mut messages = Vec::with_capacity(entries.len());
    let mut modseqs = Vec::with_capacity(entries.len());
    let mut fresh_ones = Vec::new();
    for entry in entries {
        match known.remove(entry.unique.as_str()) {
            Some(k) => {
                let seq = match &k.flags {
                    Some(flags) if *flags == entry.flags => k.modseq,
                    // Flags changed since the last listing, by anyone: a new MODSEQ.
                    Some(_) => {
                        bumped = true;
                        modseq
                    }
                    // A list from before mod-sequences: the flags are recorded as they are.
                    None => {
                        changed = true;
                        k.modseq
                    }
                };
                messages.push((k.uid, entry));
                modseqs.push(seq);
            }
            None => fresh_ones.push(entry),
        }
    }
    // What the list knew and the folder no longer has was expunged (RFC 7162 §3.2).
    let mut gone: Vec<u32> = known.values().map(|k| k.uid).collect();
    gone.sort_unstable();
    if !gone.is_empty() {
        bumped = true;
        uidlist::remember_expunged(&mut list.expunged, &mut list.floor, &gone, modseq);
    }
    // New arrivals get UIDs in scan order, which is delivery order (oldest first), and the
    // new MODSEQ (RFC 7162 §3.1: higher than every other in the folder).
    for entry in fresh_ones {
        messages.push((list.next, entry));
        modseqs.push(modseq);
        list.next += 1;
        bumped = true;
    }
    let mut order: Vec<usize> = (0..messages.len()).collect();
    order.sort_by_key(|&i| messages[i].0);
    let (messages, modseqs): (Vec<_>, Vec<_>) = order
        .into_iter()
        .map(|i| (messages[i].clone(), modseqs[i]))
        .unzip();
    if bumped {
        list.highest = modseq;
    }
    let numbered = Numbered {
        validity: list.validity,
        next: list.next,
        first_recent: list.first_recent,
        messages,
        modseqs,
        highest_modseq: list.highest,
        expunged: Arc::new(list.expunged),
        expunge_floor: list.floor,
    };
    if changed || bumped {
        save(maildir, &list_of(&numbered))?;
        return Ok((numbered, 0));
    }
    // Lines of the journal replayed here may not have been flushed yet (a crash of the
    // process right after it appended them): flushed before the listing is handed out.
    if journal_lines > 0 {
        uidlist::sync_journal(maildir.root())?;
    }
    Ok((numbered, journal_lines))
}

/// Writes the whole list (and so clears the journal), dropping the cached listing first.
fn save(maildir: &Maildir, list: &List) -> io::Result<()> {
    forget(maildir.root());
    uidlist::write(maildir.root(), list)
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
        set_flags(&maildir, None, &entry, "S").unwrap();
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

    /// A fresh Maildir under the temporary folder with two messages, both moved to `cur/`.
    fn two_messages_in_cur(name: &str) -> (std::path::PathBuf, Maildir) {
        let dir = std::env::temp_dir().join(format!("postlab-uids-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let maildir = Maildir::create(&dir).unwrap();
        maildir.deliver(&[b"one\r\n"], "mx.test").unwrap();
        maildir.deliver(&[b"two\r\n"], "mx.test").unwrap();
        for (_, entry) in scan(&maildir).unwrap().messages {
            maildir.set_flags(&entry, "").unwrap();
        }
        (dir, maildir)
    }

    #[test]
    fn an_own_flag_change_edits_the_cached_listing_and_a_settled_one_is_read_again() {
        let (dir, maildir) = two_messages_in_cur("edit");
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
        let moved = set_flags(&maildir, None, first, "S").unwrap();
        cached(&|c| {
            assert_eq!(c.stamps[1], cur_stamp(&dir));
            assert_eq!(c.listing.messages.get(0).unwrap().1.path, moved);
            assert_eq!(c.listing.messages.get(0).unwrap().1.flags, "S");
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
        // … nor once the time has settled, while the listing was read from disk less than
        // RECHECK ago …
        touch(&dir, "cur", past);
        cached(&|c| c.stamps[1] = Some(past));
        assert_eq!(scan(&maildir).unwrap().messages[1].1.flags, "");
        // … and after that it is read again from disk.
        cached(&|c| c.read_at -= RECHECK);
        assert_eq!(scan(&maildir).unwrap().messages[1].1.flags, "F");
        cached(&|c| assert!(!c.provisional));
        // An expunge by this process takes the message out of the listing.
        let entry = scan(&maildir).unwrap().messages[1].1.clone();
        remove(&maildir, None, &entry).unwrap();
        cached(&|c| assert_eq!(c.listing.messages.len(), 1));
        assert_eq!(scan(&maildir).unwrap().messages.len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_own_flag_change_or_expunge_gets_a_new_modseq_on_disk_before_it_is_handed_out() {
        let (dir, maildir) = two_messages_in_cur("own");
        let past = SystemTime::now() - std::time::Duration::from_secs(10);
        let busy = SystemTime::now() + std::time::Duration::from_secs(3600);
        touch(&dir, "new", past);
        touch(&dir, "cur", past);
        let listed = scan(&maildir).unwrap();
        let highest = listed.highest_modseq;
        let cached = |f: &dyn Fn(&mut Cached)| {
            let mut cache = CACHE.lock().unwrap();
            f(cache.as_mut().unwrap().get_mut(maildir.root()).unwrap())
        };
        // A flag change by this process: HIGHESTMODSEQ + 1 for the message, in the cached
        // listing at once, and one line in the journal, not yet flushed; the list itself
        // is not rewritten.
        let list_before = fs::read_to_string(dir.join(FILE)).unwrap();
        set_flags(
            &maildir,
            Some(listed.messages[0].0),
            &listed.messages[0].1,
            "S",
        )
        .unwrap();
        cached(&|c| {
            assert_eq!((c.appended, c.synced), (1, 0));
            assert_eq!(
                c.listing.modseqs.iter().copied().collect::<Vec<_>>(),
                [highest + 1, listed.modseqs[1]]
            );
            assert_eq!(c.listing.highest_modseq, highest + 1);
        });
        assert_eq!(fs::read_to_string(dir.join(FILE)).unwrap(), list_before);
        let journal = fs::read_to_string(dir.join(uidlist::JOURNAL)).unwrap();
        let unique = &listed.messages[0].1.unique;
        assert!(
            journal.ends_with(&format!(
                "\n{} {} {unique}:2,S\n",
                listed.messages[0].0,
                highest + 1
            )),
            "{journal}"
        );
        // Served from the cache (cur/ still busy): the journal is flushed first.
        touch(&dir, "cur", busy);
        cached(&|c| c.stamps[1] = Some(busy));
        let now = scan(&maildir).unwrap();
        assert_eq!(
            (now.modseqs[0], now.highest_modseq),
            (highest + 1, highest + 1)
        );
        cached(&|c| assert_eq!((c.appended, c.synced), (1, 1)));
        assert_eq!(uidlist::read(&dir).unwrap().list.highest, highest + 1);
        // An expunge by this process: remembered at the next MODSEQ, in the file too.
        let gone = now.messages[1].0;
        remove(&maildir, None, &now.messages[1].1).unwrap();
        touch(&dir, "cur", busy);
        cached(&|c| c.stamps[1] = Some(busy));
        let after = scan(&maildir).unwrap();
        assert_eq!(after.highest_modseq, highest + 2);
        assert_eq!(*after.expunged, vec![(gone, highest + 2)]);
        let file = uidlist::read(&dir).unwrap().list;
        assert_eq!(
            (file.highest, file.expunged),
            (highest + 2, vec![(gone, highest + 2)])
        );
        // A listing from disk agrees: nothing new to number.
        forget(maildir.root());
        let fresh = scan(&maildir).unwrap();
        assert_eq!(fresh.modseqs, [highest + 1]);
        assert_eq!(fresh.highest_modseq, highest + 2);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_listing_names_the_uids_edited_since_a_generation_while_it_kept_them() {
        let mut listing = Listing::from(Numbered {
            validity: 1,
            next: 1,
            first_recent: 1,
            messages: Vec::new(),
            modseqs: Vec::new(),
            highest_modseq: 1,
            expunged: Arc::new(Vec::new()),
            expunge_floor: 0,
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

    #[test]
    fn modseqs_grow_with_arrivals_flag_changes_and_expunges_and_old_lists_load() {
        let dir = std::env::temp_dir().join(format!("postlab-uids-modseq-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let maildir = Maildir::create(&dir).unwrap();
        // A list from before mod-sequences, naming one message.
        let first = maildir.deliver(&[b"one\r\n"], "mx.test").unwrap();
        let unique = first.file_name().unwrap().to_str().unwrap().to_string();
        fs::write(dir.join(FILE), format!("1700000000 2 2\n1 {unique}\n")).unwrap();
        let a = scan(&maildir).unwrap();
        assert_eq!(a.validity, 1_700_000_000, "the old list is kept");
        assert_eq!((a.modseqs.clone(), a.highest_modseq), (vec![1], 1));
        // An arrival: a new MODSEQ for it only.
        maildir.deliver(&[b"two\r\n"], "mx.test").unwrap();
        let b = scan(&maildir).unwrap();
        assert_eq!((b.modseqs.clone(), b.highest_modseq), (vec![1, 2], 2));
        // A flag change by anyone (here straight on disk): a new MODSEQ for that message.
        let entry = b.messages[0].1.clone();
        maildir.set_flags(&entry, "S").unwrap();
        let c = scan(&maildir).unwrap();
        assert_eq!((c.modseqs.clone(), c.highest_modseq), (vec![3, 2], 3));
        // The same flags again change nothing; new/ to cur/ with no flags is no change either.
        let second = c.messages[1].1.clone();
        maildir.set_flags(&second, "").unwrap();
        assert_eq!(scan(&maildir).unwrap().highest_modseq, 3);
        // An expunge: remembered with its MODSEQ, across a fresh read of the file.
        fs::remove_file(c.messages[0].1.path.with_file_name(format!("{unique}:2,S"))).unwrap();
        let d = scan(&maildir).unwrap();
        assert_eq!(d.highest_modseq, 4);
        assert_eq!(*d.expunged, vec![(1, 4)]);
        let text = fs::read_to_string(dir.join(FILE)).unwrap();
        assert!(text.starts_with("1700000000 3 2 4 0\n"), "{text}");
        assert!(text.contains("\n- 1 4\n"), "{text}");
        let reread = uidlist::read(&dir).unwrap().list;
        assert_eq!((reread.highest, reread.expunged), (4, vec![(1, 4)]));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_long_journal_is_folded_into_the_list_and_a_restart_reads_the_same_numbers() {
        let (dir, maildir) = two_messages_in_cur("fold");
        let busy = SystemTime::now() + std::time::Duration::from_secs(3600);
        touch(
            &dir,
            "new",
            SystemTime::now() - std::time::Duration::from_secs(10),
        );
        touch(&dir, "cur", busy);
        let listed = scan(&maildir).unwrap();
        let (uid, mut entry) = (listed.messages[0].0, listed.messages[0].1.clone());
        let fold = uidlist::compact_at(2) as u64;
        for n in 1..=fold + 3 {
            let flags = if n % 2 == 1 { "S" } else { "" };
            entry.path = set_flags(&maildir, Some(uid), &entry, flags).unwrap();
            entry.flags = flags.to_string();
            touch(&dir, "cur", busy);
            CACHE
                .lock()
                .unwrap()
                .as_mut()
                .unwrap()
                .get_mut(maildir.root())
                .unwrap()
                .stamps[1] = Some(busy);
        }
        // Folded once, at `fold` lines: the list holds those, the journal the three since.
        let list = fs::read_to_string(dir.join(FILE)).unwrap();
        assert!(
            list.contains(&format!(" {} ", listed.highest_modseq + fold)),
            "{list}"
        );
        let journal = fs::read_to_string(dir.join(uidlist::JOURNAL)).unwrap();
        assert_eq!(journal.lines().count(), 1 + 3, "{journal}");
        let served = scan(&maildir).unwrap();
        assert_eq!(served.highest_modseq, listed.highest_modseq + fold + 3);
        // A new process (no cache) reads the same numbers from the list and its journal.
        forget(maildir.root());
        let reread = scan(&maildir).unwrap();
        assert_eq!(
            (reread.modseqs.clone(), reread.highest_modseq),
            (served.modseqs.clone(), served.highest_modseq)
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn new_mail_is_taken_from_new_alone_and_a_move_to_cur_edits_the_listing() {
        let (dir, maildir) = two_messages_in_cur("arrive");
        let past = SystemTime::now() - std::time::Duration::from_secs(10);
        touch(&dir, "new", past);
        touch(&dir, "cur", past);
        let first = scan_shared(&maildir).unwrap();
        // A delivery changes new/ only: the listing grows by one, its other entries are the
        // same ones (shared, not read again from cur/), and the new UID is on disk at once.
        maildir.deliver(&[b"three\r\n"], "mx.test").unwrap();
        let second = scan_shared(&maildir).unwrap();
        assert_eq!(second.messages.len(), 3);
        for i in 0..2 {
            let (a, b) = (
                first.messages.get(i).unwrap(),
                second.messages.get(i).unwrap(),
            );
            assert!(Arc::ptr_eq(&a.1, &b.1), "entry {i} was read again");
        }
        let (uid, arrived) = second.messages.get(2).unwrap().clone();
        assert_eq!((uid, arrived.is_new, second.next), (3, true, 4));
        assert_eq!(second.highest_modseq, first.highest_modseq + 1);
        let on_disk = uidlist::read(&dir).unwrap().list;
        assert_eq!((on_disk.next, on_disk.known.len()), (4, 3));
        // A session moves it to cur/: the listing follows, and is racy for new/.
        let moved = set_flags(&maildir, Some(uid), &arrived, "").unwrap();
        {
            let cache = CACHE.lock().unwrap();
            let cached = cache.as_ref().unwrap().get(maildir.root()).unwrap();
            let entry = &cached.listing.messages.get(2).unwrap().1;
            assert_eq!((entry.path.clone(), entry.is_new), (moved, false));
            assert!(cached.new_racy);
            assert_eq!(cached.stamps[0], stamps(&maildir)[0]);
        }
        // Read from disk, the numbers are the same.
        forget(maildir.root());
        let reread = scan(&maildir).unwrap();
        let uids: Vec<u32> = reread.messages.iter().map(|(uid, _)| *uid).collect();
        assert_eq!(uids, [1, 2, 3]);
        assert_eq!(reread.highest_modseq, second.highest_modseq);
        fs::remove_dir_all(&dir).unwrap();
    }
}
