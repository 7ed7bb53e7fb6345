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
//! What can go wrong: a damaged file. It is then replaced by a fresh list with a new
//! UIDVALIDITY, which is exactly what the RFC asks when UIDs cannot be kept: clients see the
//! new value and forget their cache.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::durable;
use super::maildir::Entry;
use super::Maildir;

/// The file's name inside each folder's Maildir.
pub const FILE: &str = "postlab-uidlist";

/// One lock for every list: updates are short, and sessions are few.
static LOCK: Mutex<()> = Mutex::new(());

/// The last scan of each folder, with the modification times it was made from.
static CACHE: Mutex<Option<HashMap<std::path::PathBuf, (Stamps, Numbered)>>> = Mutex::new(None);

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
    let now = SystemTime::now();
    stamps[..2].iter().all(|s| {
        s.is_some_and(|t| {
            let fine = t
                .duration_since(UNIX_EPOCH)
                .is_ok_and(|d| d.subsec_nanos() != 0);
            let quiet = if fine {
                std::time::Duration::from_millis(50)
            } else {
                std::time::Duration::from_secs(1)
            };
            now.duration_since(t).is_ok_and(|age| age >= quiet)
        })
    })
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
pub fn claim_recent(maildir: &Maildir) -> io::Result<(Numbered, u32)> {
    let _turn = super::lock::folder(maildir.root());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let numbered = scan_locked(maildir)?;
    if numbered.first_recent >= numbered.next {
        return Ok((numbered.clone(), numbered.next));
    }
    // Read the list again from disk (not the cache) before changing it.
    let path = maildir.root().join(FILE);
    let mut numbered = scan_now(maildir)?;
    let from = numbered.first_recent;
    numbered.first_recent = numbered.next;
    save(maildir, &path, &list_of(&numbered))?;
    Ok((numbered, from))
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
fn scan_locked(maildir: &Maildir) -> io::Result<Numbered> {
    let before = stamps(maildir);
    if settled(&before) {
        let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((stamps, numbered)) = cache.as_ref().and_then(|c| c.get(maildir.root())) {
            if *stamps == before {
                return Ok(numbered.clone());
            }
        }
    }
    let numbered = scan_now(maildir)?;
    let after = stamps(maildir);
    if settled(&after) && after[..2] == before[..2] {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        let map = cache.get_or_insert_with(HashMap::new);
        if map.len() >= CACHE_FOLDERS {
            map.clear();
        }
        map.insert(maildir.root().to_path_buf(), (after, numbered.clone()));
    }
    Ok(numbered)
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
    if let Some(map) = CACHE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        map.remove(maildir.root());
    }
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
        maildir.set_flags(&entry, "S").unwrap();
        let after = scan(&maildir).unwrap();
        assert_eq!(after.messages[0].1.flags, "S");
        fs::remove_dir_all(&dir).unwrap();
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
