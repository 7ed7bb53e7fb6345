//! One Maildir: how a message is put into it safely.
//!
//! The delivery protocol (from the Maildir description by D. J. Bernstein, which Dovecot and
//! Postfix's `local/maildir.c` also follow):
//!
//! 1. create a file in `tmp/` under a name no other delivery can be using;
//! 2. write the message and `fsync` it;
//! 3. `rename` it into `new/` — the moment the message exists for readers;
//! 4. `fsync` `new/` so the rename itself is on disk before we report success.
//!
//! The unique name is `SECONDS.MmicrosPpidQcounter.HOST` (Dovecot's spelling of the classic
//! `time.pid.host`), and in `new/` it gains `,S=SIZE`, the file's size, so a reader knows it
//! without a `stat`. In the host part `/` and `:` are written `\057` and `\072`, as the Maildir
//! description asks, because `:` separates the flags in `cur/`.
//!
//! Delivery is split in two ([`Maildir::stage`], then [`Staged::commit`]) so that a message for
//! several recipients can be written and synced everywhere before it appears anywhere: if the
//! disk fills up on the third copy, the first two are dropped from `tmp/` and the client gets a
//! 452 to retry, with no recipient getting a duplicate later.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::durable;

static DELIVERIES: AtomicU64 = AtomicU64::new(0);

/// A Maildir on disk: a folder with `tmp/`, `new/` and `cur/`.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
}

/// One message in a Maildir, as [`Maildir::scan`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where the file is now.
    pub path: PathBuf,
    /// The unique part of the name, without `:2,FLAGS`: stable for the message's whole life,
    /// whichever folder it is in (POP3 uses it as the UIDL).
    pub unique: String,
    /// The flag letters after `:2,` (`S` seen, `R` replied, `F` flagged, `T` trashed,
    /// `D` draft), in ASCII order; empty in `new/`.
    pub flags: String,
    /// Still in `new/` (no mail client has seen it yet).
    pub is_new: bool,
    /// File size in octets (from `,S=` in the name when present, else from the file).
    pub size: u64,
}

/// A message written and synced in `tmp/`, not yet visible in `new/`.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    new: PathBuf,
    new_dir: PathBuf,
}

impl Maildir {
    /// Opens the Maildir at `root`, creating `tmp/`, `new/` and `cur/` (durably) if missing.
    pub fn create(root: &Path) -> io::Result<Maildir> {
        for sub in ["tmp", "new", "cur"] {
            durable::create_dir_all_durably(&root.join(sub))?;
        }
        Ok(Maildir {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Steps 1 and 2: writes `parts` (concatenated) into a new file in `tmp/` and syncs it.
    pub fn stage(&self, parts: &[&[u8]], hostname: &str) -> io::Result<Staged> {
        let base = unique_name(hostname);
        let tmp = self.root.join("tmp").join(&base);
        let size: usize = parts.iter().map(|p| p.len()).sum();
        // create_new: a leftover file of the same name is never overwritten.
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(crate::datadir::FILE_MODE)
                .open(&tmp)?;
            for part in parts {
                file.write_all(part)?;
            }
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        let new_dir = self.root.join("new");
        let new = new_dir.join(format!("{base},S={size}"));
        Ok(Staged { tmp, new, new_dir })
    }

    /// Every message in `new/` and `cur/`, oldest delivery first (names start with the
    /// delivery time in seconds, then microseconds, so sorting by the unique part sorts by age
    /// for postlab's own names). Files whose names start with a dot are skipped, as the Maildir
    /// description asks.
    pub fn scan(&self) -> io::Result<Vec<Entry>> {
        self.scan_in(&[("new", true), ("cur", false)])
    }

    /// [`Maildir::scan`] of `new/` alone: what deliveries added (`uids` takes new arrivals
    /// into its listing without reading all of `cur/` again).
    pub fn scan_new(&self) -> io::Result<Vec<Entry>> {
        self.scan_in(&[("new", true)])
    }

    fn scan_in(&self, subs: &[(&str, bool)]) -> io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for &(sub, is_new) in subs {
            let dir = self.root.join(sub);
            let listing = match fs::read_dir(&dir) {
                Ok(listing) => listing,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for item in listing {
                let item = item?;
                let name = item.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                let (unique, flags) = match name.split_once(":2,") {
                    Some((unique, flags)) => (unique.to_string(), flags.to_string()),
                    None => (name.clone(), String::new()),
                };
                let size = match size_from_name(&unique) {
                    Some(size) => size,
                    None => match item.metadata() {
                        Ok(m) => m.len(),
                        // Gone between listing and stat: another session moved or deleted it.
                        Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(e),
                    },
                };
                entries.push(Entry {
                    path: item.path(),
                    unique,
                    flags,
                    is_new,
                    size,
                });
            }
        }
        // Each name's time is read once, not at every comparison (10,000 messages take about
        // 140,000 comparisons).
        let mut keyed: Vec<((u64, u64), Entry)> = entries
            .into_iter()
            .map(|e| (delivery_time(&e.unique), e))
            .collect();
        keyed.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.unique.cmp(&y.unique)));
        Ok(keyed.into_iter().map(|(_, e)| e).collect())
    }

    /// Moves a message to `cur/` with the given flags (`cur/UNIQUE:2,FLAGS`), the way a mail
    /// client marks it as seen by the server. Returns the new path. The server's sessions call
    /// it through `uids::set_flags`, which keeps the cached listing in step.
    pub fn set_flags(&self, entry: &Entry, flags: &str) -> io::Result<PathBuf> {
        let mut letters: Vec<char> = flags.chars().collect();
        letters.sort_unstable();
        letters.dedup();
        let flags: String = letters.into_iter().collect();
        let target = self
            .root
            .join("cur")
            .join(format!("{}:2,{flags}", entry.unique));
        if target != entry.path {
            fs::rename(&entry.path, &target)?;
        }
        Ok(target)
    }

    /// Finds a message by its unique name wherever it is now: `new/UNIQUE`, or
    /// `cur/UNIQUE:2,FLAGS` with whatever flags another session gave it. `None` means it is
    /// really gone (expunged). RFC 2180 §4.1 and Dovecot do the same: the unique part of the
    /// name is the message's identity, the rest of the name is only its current state.
    pub fn locate(&self, unique: &str) -> io::Result<Option<Entry>> {
        let in_new = self.root.join("new").join(unique);
        match fs::symlink_metadata(&in_new) {
            Ok(meta) => return Ok(Some(entry_at(in_new, unique, "", true, &meta))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let prefix = format!("{unique}:2,");
        for item in fs::read_dir(self.root.join("cur"))? {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            let flags = if name == unique {
                ""
            } else if let Some(flags) = name.strip_prefix(&prefix) {
                flags
            } else {
                continue;
            };
            match item.metadata() {
                Ok(meta) => return Ok(Some(entry_at(item.path(), unique, flags, false, &meta))),
                // Renamed again between the listing and the stat: look once more.
                Err(e) if e.kind() == io::ErrorKind::NotFound => return self.locate(unique),
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// [`Maildir::locate`], sure of a `None`: a listing that runs beside a rename may see
    /// neither name, so "not found" is checked again under the folder's lock, where no
    /// session of this server renames anything.
    pub fn find(&self, unique: &str) -> io::Result<Option<Entry>> {
        if let Some(entry) = self.locate(unique)? {
            return Ok(Some(entry));
        }
        let _turn = super::lock::folder(&self.root);
        self.locate(unique)
    }

    /// Convenience: stage and commit one message.
    pub fn deliver(&self, parts: &[&[u8]], hostname: &str) -> io::Result<PathBuf> {
        self.stage(parts, hostname)?.commit()
    }
}

impl Staged {
    /// Steps 3 and 4: rename into `new/` and sync the directory. Returns the final path.
    pub fn commit(self) -> io::Result<PathBuf> {
        fs::rename(&self.tmp, &self.new)?;
        durable::sync_dir(&self.new_dir)?;
        Ok(self.new)
    }

    /// The unique name the message will have (`SECONDS.M…,S=SIZE`).
    pub fn unique(&self) -> String {
        self.new
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Sets the file's modification time (IMAP's INTERNALDATE) while it is still in `tmp/`.
    pub fn set_time(&self, time: SystemTime) -> io::Result<()> {
        fs::File::options()
            .write(true)
            .open(&self.tmp)?
            .set_modified(time)
    }

    /// Commits a message that already has flags (IMAP APPEND and COPY): straight from `tmp/`
    /// to `cur/UNIQUE:2,FLAGS`, in one rename. Putting it in `new/` and renaming it again to
    /// add the flags would race with any session that moves `new/` to `cur/` in between.
    /// Without flags it goes to `new/` like any delivery.
    pub fn commit_with_flags(self, letters: &str) -> io::Result<PathBuf> {
        if letters.is_empty() {
            return self.commit();
        }
        let cur_dir = self.new_dir.with_file_name("cur");
        let target = cur_dir.join(format!("{}:2,{letters}", self.unique()));
        fs::rename(&self.tmp, &target)?;
        durable::sync_dir(&cur_dir)?;
        Ok(target)
    }

    /// Gives up: removes the file from `tmp/`.
    pub fn abort(self) {
        let _ = fs::remove_file(&self.tmp);
    }
}

/// Removes what crashed deliveries left in `tmp/` of every Maildir under `mail_root` (the
/// accounts' INBOXes and their `.Folder/`s). A file there was never renamed into `new/`, so no
/// client was told it arrived. Only files whose writer is gone are removed: the unique name
/// carries the writing process's id (`…P1234Q…`), and a file of a live process may still be in
/// the making (the Maildir description's own rule is "untouched for 36 hours"; knowing the
/// writer lets us be exact). Returns how many files went.
pub fn clean_tmp(mail_root: &Path) -> io::Result<usize> {
    let mut removed = 0;
    let Ok(accounts) = fs::read_dir(mail_root) else {
        return Ok(0);
    };
    for account in accounts.flatten() {
        let mut maildirs = vec![account.path()];
        if let Ok(inside) = fs::read_dir(account.path()) {
            maildirs.extend(inside.flatten().map(|e| e.path()).filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                    && p.join("tmp").is_dir()
            }));
        }
        for maildir in maildirs {
            let Ok(files) = fs::read_dir(maildir.join("tmp")) else {
                continue;
            };
            for file in files.flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                let writer = name
                    .split('P')
                    .nth(1)
                    .and_then(|rest| rest.split('Q').next())
                    .and_then(|pid| pid.parse::<u32>().ok());
                let gone = writer.is_some_and(|pid| {
                    pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
                });
                if gone {
                    fs::remove_file(file.path())?;
                    removed += 1;
                }
            }
        }
    }
    Ok(removed)
}

/// The entry for a file found at `path`.
fn entry_at(path: PathBuf, unique: &str, flags: &str, is_new: bool, meta: &fs::Metadata) -> Entry {
    Entry {
        path,
        unique: unique.to_string(),
        flags: flags.to_string(),
        is_new,
        size: size_from_name(unique).unwrap_or(meta.len()),
    }
}

/// The `S=` field of a Maildir name (`…,S=1234`), if present.
fn size_from_name(unique: &str) -> Option<u64> {
    unique
        .split(',')
        .find_map(|field| field.strip_prefix("S="))
        .and_then(|s| s.parse().ok())
}

/// The delivery time in a name `SECONDS.MmicrosP…`: seconds, then microseconds (`scan` sorts
/// by it, and by the whole name where two are equal).
fn delivery_time(unique: &str) -> (u64, u64) {
    let mut parts = unique.splitn(2, '.');
    let secs = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX);
    let micros = parts
        .next()
        .and_then(|rest| rest.strip_prefix('M'))
        .map(|rest| {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0);
    (secs, micros)
}

/// `SECONDS.MmicrosPpidQcounter.HOST`, unique per delivery on this host.
fn unique_name(hostname: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let counter = DELIVERIES.fetch_add(1, Ordering::Relaxed);
    let host = hostname.replace('/', "\\057").replace(':', "\\072");
    format!(
        "{}.M{}P{}Q{}.{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        counter,
        host
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("postlab-maildir-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn delivery_lands_in_new_with_its_size() {
        let dir = temp_dir("deliver");
        let maildir = Maildir::create(&dir).unwrap();
        let path = maildir
            .deliver(&[b"Subject: hi\r\n", b"\r\nbody\r\n"], "mx.test")
            .unwrap();
        assert_eq!(path.parent().unwrap(), dir.join("new"));
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.ends_with(".mx.test,S=21"), "{name}");
        assert_eq!(fs::read(&path).unwrap(), b"Subject: hi\r\n\r\nbody\r\n");
        assert_eq!(fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn scan_lists_new_and_cur_oldest_first_and_set_flags_moves_to_cur() {
        let dir = temp_dir("scan");
        let maildir = Maildir::create(&dir).unwrap();
        let first = maildir.deliver(&[b"one\r\n"], "mx.test").unwrap();
        let second = maildir.deliver(&[b"two!\r\n"], "mx.test").unwrap();
        fs::write(dir.join("new/.hidden"), "x").unwrap();
        let entries = maildir.scan().unwrap();
        assert_eq!(
            entries.iter().map(|e| e.path.clone()).collect::<Vec<_>>(),
            [first, second]
        );
        assert_eq!((entries[0].size, entries[1].size), (5, 6));
        assert!(entries[0].is_new && entries[0].flags.is_empty());

        let moved = maildir.set_flags(&entries[0], "SF").unwrap();
        assert!(moved
            .to_string_lossy()
            .ends_with(&format!("cur/{}:2,FS", entries[0].unique)));
        let again = maildir.scan().unwrap();
        let seen = again
            .iter()
            .find(|e| e.unique == entries[0].unique)
            .unwrap();
        assert_eq!(
            (seen.is_new, seen.flags.as_str(), seen.size),
            (false, "FS", 5)
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn locate_finds_a_message_whatever_its_flags_and_none_once_gone() {
        let dir = temp_dir("locate");
        let maildir = Maildir::create(&dir).unwrap();
        maildir.deliver(&[b"one\r\n"], "mx.test").unwrap();
        let entry = maildir.scan().unwrap().remove(0);
        assert_eq!(maildir.locate(&entry.unique).unwrap(), Some(entry.clone()));
        let moved = maildir.set_flags(&entry, "ST").unwrap();
        let found = maildir.locate(&entry.unique).unwrap().unwrap();
        assert_eq!((found.path, found.flags.as_str()), (moved.clone(), "ST"));
        fs::remove_file(moved).unwrap();
        assert_eq!(maildir.locate(&entry.unique).unwrap(), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn staged_mail_is_invisible_until_committed() {
        let dir = temp_dir("stage");
        let maildir = Maildir::create(&dir).unwrap();
        let staged = maildir.stage(&[b"x\r\n"], "host:with/odd").unwrap();
        assert_eq!(fs::read_dir(dir.join("new")).unwrap().count(), 0);
        assert!(staged
            .tmp
            .to_string_lossy()
            .contains("host\\072with\\057odd"));
        staged.abort();
        assert_eq!(fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }
}
