//! The files behind a folder's UIDs and mod-sequences: the uidlist and its journal.
//!
//! `uids` decides what the numbers are; this module only reads and writes them. Two files sit
//! beside the messages:
//!
//! ```text
//! mail/bob/postlab-uidlist                     the whole list, rewritten atomically
//! 1795012345 4 3 9 0                           ← UIDVALIDITY, next UID, first recent UID,
//!                                                 HIGHESTMODSEQ, expunge floor
//! 1 5 1795012350.M1P7Q0.mx.test,S=312:2,S      ← UID, MODSEQ, unique name and the flags
//! 3 9 1795012399.M5P7Q1.mx.test,S=907:2,        ← last seen (after `:2,`)
//! - 2 7                                        ← UID 2 was expunged at MODSEQ 7
//!
//! mail/bob/postlab-uidlist.log                 the changes since, appended one line each
//! v 1795012345                                 ← the UIDVALIDITY they belong to
//! 3 10 1795012399.M5P7Q1.mx.test,S=907:2,F     ← UID 3 got MODSEQ 10 and now has `F`
//! - 1 11                                       ← UID 1 was expunged at MODSEQ 11
//! ```
//!
//! # Why a journal
//!
//! A flag change gives its message a new MODSEQ, and a MODSEQ a client has heard must survive
//! a crash (RFC 7162 §3.1: they only grow; a client that saved 105 and later hears 101 misses
//! changes). Rewriting a list of 10,000 messages (half a megabyte) for every STORE made each
//! change cost milliseconds under the folder's lock, and every other session waited for it.
//! So a change is appended to the journal — one `write` of one line — and the journal is
//! flushed with `fdatasync` before any session hands out the new listing ([`sync_journal`]);
//! many changes between two hand-outs share one flush. Dovecot's `dovecot.index.log` is the
//! same idea: a log of changes beside a snapshot, folded into the snapshot now and then.
//!
//! When the journal is long ([`compact_at`] lines), the list is written whole from the
//! listing in memory and the journal removed ([`write()`]). Reading a list replays its journal
//! on top. Every line can be replayed twice without harm, so the order "new list written and
//! synced, then the journal removed" needs no care for a crash in between: a flag line is
//! applied only when its MODSEQ is above the one the list has for that UID, an expunge line
//! only when the UID is still listed. A line whose end was lost in a crash (a torn last line,
//! never flushed, so never told) ends the replay. A journal of another UIDVALIDITY (the list
//! was replaced after damage) is ignored.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::durable;

/// The list's name inside each folder's Maildir.
pub const FILE: &str = "postlab-uidlist";

/// The journal's name beside it.
pub const JOURNAL: &str = "postlab-uidlist.log";

/// At most this many expunged UIDs are remembered per folder for QRESYNC (`uids`).
/// Ten thousand lines of `- UID MODSEQ` at most (runs of UIDs share a line): small beside a
/// big folder's own list, and more expunges than a phone misses in months.
pub const MAX_EXPUNGED: usize = 10_000;

/// The largest MODSEQ (RFC 7162 §3.1.1: a 63-bit value).
pub const MAX_MODSEQ: u64 = i64::MAX as u64;

/// One message as the list remembers it.
pub struct Known {
    pub uid: u32,
    pub modseq: u64,
    /// The flag letters last seen; `None` in a list from before mod-sequences.
    pub flags: Option<String>,
    pub unique: String,
}

/// The list as stored (see the module comment for the file).
pub struct List {
    pub validity: u32,
    pub next: u32,
    pub first_recent: u32,
    pub highest: u64,
    pub floor: u64,
    pub known: Vec<Known>,
    pub expunged: Vec<(u32, u64)>,
}

/// A list read from disk, with what its journal added.
pub struct Read {
    pub list: List,
    /// Lines of the journal replayed on top of the list.
    pub journal_lines: usize,
    /// The journal held something that does not belong to this list (another UIDVALIDITY,
    /// a line that does not fit): it should be folded away by writing the list.
    pub journal_stale: bool,
}

/// The journal is folded into the list once it has this many lines: a quarter of the
/// folder's messages, at least 1,024. Replaying it costs at most that much beside reading
/// the list; writing the list costs one full write per that many changes.
pub fn compact_at(messages: usize) -> usize {
    (messages / 4).max(1024)
}

fn journal_path(root: &Path) -> PathBuf {
    root.join(JOURNAL)
}

/// The journal line for a flag change: `UID MODSEQ UNIQUE:2,FLAGS`.
pub fn flags_line(uid: u32, modseq: u64, unique: &str, flags: &str) -> String {
    format!("{uid} {modseq} {unique}:2,{flags}\n")
}

/// The journal line for an expunge: `- UID MODSEQ`.
pub fn expunge_line(uid: u32, modseq: u64) -> String {
    format!("- {uid} {modseq}\n")
}

/// Appends `line` to the folder's journal, starting the journal with its UIDVALIDITY if it
/// is new. Not flushed: [`sync_journal`] does that before anyone hears of the change.
pub fn append(root: &Path, validity: u32, line: &str) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(durable::FILE_MODE)
        .open(journal_path(root))?;
    // One write per call, so a crash tears at most the last line (O_APPEND keeps every
    // write whole at the end of the file).
    let text = if file.metadata()?.len() == 0 {
        format!("v {validity}\n{line}")
    } else {
        line.to_string()
    };
    file.write_all(text.as_bytes())
}

/// Flushes the folder's journal to disk. A journal that is gone was folded into the list,
/// which was synced when it was written.
pub fn sync_journal(root: &Path) -> io::Result<()> {
    match fs::File::open(journal_path(root)) {
        Ok(file) => file.sync_data(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

static LAST_VALIDITY: AtomicU32 = AtomicU32::new(0);

/// A new, empty list with a UIDVALIDITY this process has not given before.
pub fn fresh() -> List {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1);
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
        highest: 1,
        floor: 0,
        known: Vec::new(),
        expunged: Vec::new(),
    }
}

/// Adds `gone` (expunged at `modseq`) to the expunges remembered, forgetting the oldest past
/// [`MAX_EXPUNGED`] and raising the floor to the newest forgotten MODSEQ.
pub fn remember_expunged(
    expunged: &mut Vec<(u32, u64)>,
    floor: &mut u64,
    gone: &[u32],
    modseq: u64,
) {
    expunged.extend(gone.iter().map(|uid| (*uid, modseq)));
    if expunged.len() > MAX_EXPUNGED {
        let forget = expunged.len() - MAX_EXPUNGED;
        *floor = expunged[..forget]
            .iter()
            .map(|(_, m)| *m)
            .fold(*floor, u64::max);
        expunged.drain(..forget);
    }
}

/// Reads the folder's list and replays its journal. `None` when the list is missing or
/// damaged (the caller starts a fresh one).
pub fn read(root: &Path) -> Option<Read> {
    let mut list = read_list(&root.join(FILE)).ok()?;
    let (journal_lines, journal_stale) = match fs::read_to_string(journal_path(root)) {
        Ok(text) => replay(&mut list, &text),
        Err(_) => (0, false),
    };
    Some(Read {
        list,
        journal_lines,
        journal_stale,
    })
}

/// Applies the journal `text` to `list` (module comment: every line may already be in it).
/// Returns the lines applied and whether anything did not fit.
fn replay(list: &mut List, text: &str) -> (usize, bool) {
    let mut lines = text.split_inclusive('\n');
    match lines.next().and_then(|l| l.strip_prefix("v ")) {
        Some(v) if v.trim_end().parse::<u32>() == Ok(list.validity) => {}
        None if text.is_empty() => return (0, false),
        _ => return (0, true),
    }
    let mut at: HashMap<u32, usize> = list
        .known
        .iter()
        .enumerate()
        .map(|(i, k)| (k.uid, i))
        .collect();
    let mut gone = vec![false; list.known.len()];
    let mut applied = 0;
    let mut stale = false;
    for line in lines {
        // A line without its end was torn by a crash: never flushed, never told.
        let Some(line) = line.strip_suffix('\n') else {
            stale = true;
            break;
        };
        if !apply(list, &mut at, &mut gone, line) {
            stale = true;
            break;
        }
        applied += 1;
    }
    if gone.iter().any(|g| *g) {
        let mut i = 0;
        list.known.retain(|_| {
            i += 1;
            !gone[i - 1]
        });
    }
    (applied, stale)
}

/// One journal line; `false` when it does not fit the list.
fn apply(list: &mut List, at: &mut HashMap<u32, usize>, gone: &mut [bool], line: &str) -> bool {
    let number = |s: &str| {
        s.parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_MODSEQ).contains(n))
    };
    if let Some(rest) = line.strip_prefix("- ") {
        let Some((uid, modseq)) = rest.split_once(' ') else {
            return false;
        };
        let (Ok(uid), Some(modseq)) = (uid.parse::<u32>(), number(modseq)) else {
            return false;
        };
        if uid == 0 || uid >= list.next {
            return false;
        }
        list.highest = list.highest.max(modseq);
        if let Some(i) = at.remove(&uid) {
            gone[i] = true;
            remember_expunged(&mut list.expunged, &mut list.floor, &[uid], modseq);
        }
        return true;
    }
    let mut parts = line.splitn(3, ' ');
    let (Some(uid), Some(modseq), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(uid), Some(modseq), Some((unique, flags))) =
        (uid.parse::<u32>(), number(modseq), name.split_once(":2,"))
    else {
        return false;
    };
    if uid == 0 || uid >= list.next {
        return false;
    }
    list.highest = list.highest.max(modseq);
    let Some(&i) = at.get(&uid) else {
        // Expunged since, and that is in the list already.
        return true;
    };
    let known = &mut list.known[i];
    if known.unique != unique {
        return false;
    }
    if modseq > known.modseq {
        known.modseq = modseq;
        known.flags = Some(flags.to_string());
    }
    true
}

fn read_list(path: &Path) -> Result<List, ()> {
    let text = fs::read_to_string(path).map_err(|_| ())?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or(())?.split(' ').collect();
    let number = |i: usize| -> Result<u64, ()> { header.get(i).ok_or(())?.parse().map_err(|_| ()) };
    let validity = u32::try_from(number(0)?).map_err(|_| ())?;
    let next = u32::try_from(number(1)?).map_err(|_| ())?;
    let first_recent = number(2)
        .ok()
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(next)
        .min(next);
    let with_modseqs = header.len() >= 5;
    let (highest, floor) = if with_modseqs {
        (number(3)?, number(4)?)
    } else {
        (1, 0)
    };
    if validity == 0 || next == 0 || highest == 0 || highest > MAX_MODSEQ || floor > highest {
        return Err(());
    }
    let (mut known, mut expunged) = (Vec::new(), Vec::new());
    for line in lines {
        if let Some(rest) = line.strip_prefix("- ") {
            let (uids, modseq) = rest.split_once(' ').ok_or(())?;
            let modseq: u64 = modseq.parse().map_err(|_| ())?;
            let (low, high) = uids.split_once(':').unwrap_or((uids, uids));
            let (low, high): (u32, u32) =
                (low.parse().map_err(|_| ())?, high.parse().map_err(|_| ())?);
            if low == 0 || low > high || high >= next || modseq > highest {
                return Err(());
            }
            if expunged.len() + (high - low) as usize >= MAX_EXPUNGED {
                return Err(());
            }
            expunged.extend((low..=high).map(|uid| (uid, modseq)));
            continue;
        }
        let (uid, rest) = line.split_once(' ').ok_or(())?;
        let uid: u32 = uid.parse().map_err(|_| ())?;
        if uid == 0 || uid >= next {
            return Err(());
        }
        let (modseq, name) = if with_modseqs {
            let (modseq, name) = rest.split_once(' ').ok_or(())?;
            (modseq.parse::<u64>().map_err(|_| ())?, name)
        } else {
            (1, rest)
        };
        if modseq == 0 || modseq > highest {
            return Err(());
        }
        let (unique, flags) = match (with_modseqs, name.split_once(":2,")) {
            (true, Some((unique, flags))) => (unique, Some(flags.to_string())),
            (true, None) => return Err(()),
            (false, _) => (name, None),
        };
        known.push(Known {
            uid,
            modseq,
            flags,
            unique: unique.to_string(),
        });
    }
    if expunged.len() > MAX_EXPUNGED {
        return Err(());
    }
    Ok(List {
        validity,
        next,
        first_recent,
        highest,
        floor,
        known,
        expunged,
    })
}

/// Writes the whole list (atomically, synced), then removes the journal it now holds.
pub fn write(root: &Path, list: &List) -> io::Result<()> {
    use std::fmt::Write as _;
    let mut text = format!(
        "{} {} {} {} {}\n",
        list.validity, list.next, list.first_recent, list.highest, list.floor
    );
    for k in &list.known {
        let flags = k.flags.as_deref().unwrap_or("");
        let _ = writeln!(text, "{} {} {}:2,{flags}", k.uid, k.modseq, k.unique);
    }
    let mut i = 0;
    while i < list.expunged.len() {
        let (low, modseq) = list.expunged[i];
        let mut high = low;
        while list
            .expunged
            .get(i + 1)
            .is_some_and(|&(u, m)| m == modseq && Some(u) == high.checked_add(1))
        {
            high += 1;
            i += 1;
        }
        let _ = if high == low {
            writeln!(text, "- {low} {modseq}")
        } else {
            writeln!(text, "- {low}:{high} {modseq}")
        };
        i += 1;
    }
    durable::write_atomically(&root.join(FILE), text.as_bytes())?;
    match fs::remove_file(journal_path(root)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("postlab-uidlist-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Two messages, UIDs 1 and 2, at MODSEQ 2 and 3, written whole.
    fn two_known(dir: &Path) -> List {
        let list = List {
            validity: 77,
            next: 3,
            first_recent: 3,
            highest: 3,
            floor: 0,
            known: vec![
                Known {
                    uid: 1,
                    modseq: 2,
                    flags: Some(String::new()),
                    unique: "a".into(),
                },
                Known {
                    uid: 2,
                    modseq: 3,
                    flags: Some("S".into()),
                    unique: "b".into(),
                },
            ],
            expunged: Vec::new(),
        };
        write(dir, &list).unwrap();
        list
    }

    /// HIGHESTMODSEQ, each known message's UID, MODSEQ and flags, and the expunges.
    type Summary = (u64, Vec<(u32, u64, String)>, Vec<(u32, u64)>);

    fn summary(list: &List) -> Summary {
        let known = list
            .known
            .iter()
            .map(|k| (k.uid, k.modseq, k.flags.clone().unwrap_or_default()))
            .collect();
        (list.highest, known, list.expunged.clone())
    }

    #[test]
    fn the_journal_is_replayed_on_the_list_and_twice_is_the_same_as_once() {
        let dir = folder("replay");
        two_known(&dir);
        append(&dir, 77, &flags_line(1, 4, "a", "F")).unwrap();
        append(&dir, 77, &expunge_line(2, 5)).unwrap();
        sync_journal(&dir).unwrap();
        let journal = fs::read_to_string(dir.join(JOURNAL)).unwrap();
        assert_eq!(journal, "v 77\n1 4 a:2,F\n- 2 5\n");
        let read1 = read(&dir).unwrap();
        assert_eq!((read1.journal_lines, read1.journal_stale), (2, false));
        let want = (5, vec![(1, 4, "F".to_string())], vec![(2, 5)]);
        assert_eq!(summary(&read1.list), want);
        // Folded into the list, the journal goes; a journal that came back (a crash between
        // writing the list and removing it) changes nothing when replayed again.
        write(&dir, &read1.list).unwrap();
        assert!(!dir.join(JOURNAL).exists());
        fs::write(dir.join(JOURNAL), &journal).unwrap();
        assert_eq!(summary(&read(&dir).unwrap().list), want);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_torn_line_another_validity_or_a_line_that_does_not_fit_ends_the_replay() {
        let dir = folder("torn");
        two_known(&dir);
        let cases = [
            // Torn by a crash: the last line has no end.
            ("v 77\n1 4 a:2,F\n2 5 b:2,", 1, (4, "F")),
            // The journal of a list this one replaced.
            ("v 78\n1 4 a:2,F\n", 0, (2, "")),
            // UID 1 under another name, a UID never given, a MODSEQ of 0, garbage.
            ("v 77\n1 4 z:2,F\n", 0, (2, "")),
            ("v 77\n9 4 a:2,F\n", 0, (2, "")),
            ("v 77\n1 0 a:2,F\n", 0, (2, "")),
            ("v 77\n1 4 a:2,F\nhello\n1 6 a:2,T\n", 1, (4, "F")),
            ("hello\n", 0, (2, "")),
        ];
        for (journal, applied, (modseq, flags)) in cases {
            fs::write(dir.join(JOURNAL), journal).unwrap();
            let read = read(&dir).unwrap();
            assert_eq!(
                (read.journal_lines, read.journal_stale),
                (applied, true),
                "{journal:?}"
            );
            let first = &read.list.known[0];
            assert_eq!(
                (first.modseq, first.flags.as_deref()),
                (modseq, Some(flags)),
                "{journal:?}"
            );
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_journal_is_folded_in_at_a_quarter_of_the_folder_and_never_below_1024_lines() {
        assert_eq!(compact_at(0), 1024);
        assert_eq!(compact_at(10_000), 2500);
    }

    #[test]
    fn damaged_modseq_lines_are_refused_and_runs_are_bounded() {
        let dir = folder("bad");
        let path = dir.join(FILE);
        for bad in [
            "1 5 5 3 0\n- 1:4294967294 2\n",
            "1 5 5 3 0\n1 4 x:2,\n",
            "1 5 5 9223372036854775808 0\n",
            "1 5 5 3 0\n1 3 x\n",
            "1 5 5 3 4\n",
        ] {
            fs::write(&path, bad).unwrap();
            assert!(read_list(&path).is_err(), "{bad:?}");
        }
        fs::write(&path, "1 9 5 3 0\n- 1:4 2\n").unwrap();
        assert_eq!(read_list(&path).unwrap().expunged.len(), 4);
        fs::remove_dir_all(&dir).unwrap();
    }
}
