//! The outbound queue: messages for other domains wait here between step 3 and step 5.
//!
//! Each message is two files in `DIR/queue/active/` (or `DIR/queue/hold/` while held):
//!
//! ```text
//! 19A3C4F2B8D10.msg   the content: our Received: header, then the client's bytes
//! 19A3C4F2B8D10.env   the envelope, as text a student can read (format: envelope_file.rs):
//!
//!     from: <alice@a.test>
//!     rcpt: <bob@b.test>
//!     status: pending 421 4.4.0 mx.b.test did not answer
//! ```
//!
//! Durability (DESIGN.md, "nothing acknowledged is lost"): both files are written under
//! temporary names and fsynced, then renamed — `.msg` first, `.env` last — and the folder is
//! fsynced, all before the client hears 250. A `.env` file is therefore the mark of a complete
//! message; a `.msg` without one is a crash before the 250, and start-up removes it
//! ([`Queue::recover`]). Every later change to an envelope replaces the `.env` atomically.
//! Before anything is written, the envelope's text is read back: one that could not be read
//! later is refused now (451), never acknowledged and then lost.
//!
//! An envelope that cannot be read all the same (edited by hand, damaged on disk) is never just
//! skipped: like Postfix's `corrupt` queue, both files move to `DIR/queue/corrupt/`, a warning
//! is logged once, and `postlab queue list` and `postlab check` show it until an administrator
//! repairs it (and moves it back to `active/`) or deletes it.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::ids::QueueId;
use crate::mailbox::durable;

/// Which folder of the queue a message is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    /// Waiting for delivery; the queue manager works on these.
    Active,
    /// Stopped by `postlab queue hold`; nothing happens until `release`.
    Hold,
    /// Envelopes that could not be read, set aside for an administrator.
    Corrupt,
}

impl Folder {
    fn name(self) -> &'static str {
        match self {
            Folder::Active => "active",
            Folder::Hold => "hold",
            Folder::Corrupt => "corrupt",
        }
    }
}

pub use super::envelope_file::{Entry, QueuedRecipient, Status};

/// A message written and synced under temporary names, not yet in the queue.
pub struct Staged {
    tmp_msg: PathBuf,
    tmp_env: PathBuf,
    msg: PathBuf,
    env: PathBuf,
    dir: PathBuf,
}

impl Staged {
    /// Renames `.msg`, then `.env` (the mark of a complete message), then syncs the folder.
    pub fn commit(self) -> io::Result<()> {
        fs::rename(&self.tmp_msg, &self.msg)?;
        fs::rename(&self.tmp_env, &self.env)?;
        durable::sync_dir(&self.dir)
    }

    pub fn abort(self) {
        let _ = fs::remove_file(&self.tmp_msg);
        let _ = fs::remove_file(&self.tmp_env);
    }
}

/// The queue folder, `DIR/queue/`.
#[derive(Debug, Clone)]
pub struct Queue {
    root: PathBuf,
}

impl Queue {
    pub fn open(root: &Path) -> io::Result<Queue> {
        for folder in [Folder::Active, Folder::Hold, Folder::Corrupt] {
            durable::create_dir_all_durably(&root.join(folder.name()))?;
        }
        Ok(Queue {
            root: root.to_path_buf(),
        })
    }

    fn dir(&self, folder: Folder) -> PathBuf {
        self.root.join(folder.name())
    }

    pub fn content_path(&self, id: &QueueId, folder: Folder) -> PathBuf {
        self.dir(folder).join(format!("{id}.msg"))
    }

    fn envelope_path(&self, id: &QueueId, folder: Folder) -> PathBuf {
        self.dir(folder).join(format!("{id}.env"))
    }

    /// Writes a new message's content and envelope, synced, under temporary names.
    pub fn stage(&self, entry: &Entry, content: &[&[u8]]) -> io::Result<Staged> {
        let envelope = checked_text(entry)?;
        let dir = self.dir(Folder::Active);
        let tmp_msg = dir.join(format!(".{}.msg.tmp", entry.id));
        let tmp_env = dir.join(format!(".{}.env.tmp", entry.id));
        let write = |path: &Path, parts: &[&[u8]]| -> io::Result<()> {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(crate::datadir::FILE_MODE)
                .open(path)?;
            for part in parts {
                file.write_all(part)?;
            }
            file.sync_all()
        };
        let result =
            write(&tmp_msg, content).and_then(|()| write(&tmp_env, &[envelope.as_bytes()]));
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp_msg);
            let _ = fs::remove_file(&tmp_env);
            return Err(e);
        }
        Ok(Staged {
            tmp_msg,
            tmp_env,
            msg: self.content_path(&entry.id, Folder::Active),
            env: self.envelope_path(&entry.id, Folder::Active),
            dir,
        })
    }

    /// Replaces an envelope after a delivery attempt (atomically).
    pub fn save(&self, entry: &Entry, folder: Folder) -> io::Result<()> {
        // A message held or deleted (`postlab queue`) while a delivery attempt ran must not come
        // back: only an envelope that is still there is replaced. (The check and the rename are
        // two steps; a change between them is the administrator's, milliseconds wide.)
        let path = self.envelope_path(&entry.id, folder);
        if !path.exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} is gone", path.display()),
            ));
        }
        durable::write_atomically(&path, checked_text(entry)?.as_bytes())
    }

    /// The messages in a folder, oldest first. An envelope that cannot be read is moved to
    /// `corrupt/` (and logged, once), so it is neither lost nor retried forever.
    pub fn list(&self, folder: Folder) -> io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for item in fs::read_dir(self.dir(folder))? {
            let name = item?.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".env").and_then(QueueId::parse) else {
                continue;
            };
            match self.load_from(&id, folder) {
                Ok(entry) => entries.push(entry),
                Err(e) if e.kind() == io::ErrorKind::InvalidData => match self.set_aside(&id, folder) {
                    Ok(()) => log::warn!(
                        "queue: {name} cannot be read ({e}); moved to {}/ (see `postlab queue list`)",
                        self.dir(Folder::Corrupt).display()
                    ),
                    Err(move_error) => {
                        log::warn!("queue: {name} cannot be read ({e}) nor moved aside: {move_error}")
                    }
                },
                // Gone between listing and reading (delivered, deleted): nothing to say.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => log::warn!("queue: cannot read {name}: {e}"),
            }
        }
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(entries)
    }

    fn load_from(&self, id: &QueueId, folder: Folder) -> io::Result<Entry> {
        let text = fs::read_to_string(self.envelope_path(id, folder))?;
        Entry::parse(id.clone(), &text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Moves an unreadable message to `corrupt/`: content first, the envelope last, as
    /// everywhere in the queue (an envelope is the mark of a whole message).
    fn set_aside(&self, id: &QueueId, from: Folder) -> io::Result<()> {
        let msg = self.content_path(id, from);
        if msg.exists() {
            fs::rename(&msg, self.content_path(id, Folder::Corrupt))?;
        }
        fs::rename(
            self.envelope_path(id, from),
            self.envelope_path(id, Folder::Corrupt),
        )?;
        durable::sync_dir(&self.dir(from))?;
        durable::sync_dir(&self.dir(Folder::Corrupt))
    }

    /// The messages set aside in `corrupt/`: each id and why its envelope cannot be read.
    pub fn corrupt(&self) -> io::Result<Vec<(QueueId, String)>> {
        let mut found = Vec::new();
        for item in fs::read_dir(self.dir(Folder::Corrupt))? {
            let name = item?.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".env").and_then(QueueId::parse) else {
                continue;
            };
            let why = match self.load_from(&id, Folder::Corrupt) {
                Ok(_) => "it reads correctly now: move it back to active/".to_string(),
                Err(e) => e.to_string(),
            };
            found.push((id, why));
        }
        found.sort();
        Ok(found)
    }

    /// The raw envelope text of a message set aside in `corrupt/`, if there is one.
    pub fn corrupt_text(&self, id: &QueueId) -> Option<String> {
        fs::read(self.envelope_path(id, Folder::Corrupt))
            .ok()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Finds a message in either folder.
    pub fn find(&self, id: &QueueId) -> io::Result<(Entry, Folder)> {
        for folder in [Folder::Active, Folder::Hold] {
            match self.load_from(id, folder) {
                Ok(entry) => return Ok((entry, folder)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no message {id} in the queue"),
        ))
    }

    /// Moves a message between folders (hold / release); the envelope moves last.
    pub fn move_to(&self, id: &QueueId, from: Folder, to: Folder) -> io::Result<()> {
        fs::rename(self.content_path(id, from), self.content_path(id, to))?;
        fs::rename(self.envelope_path(id, from), self.envelope_path(id, to))?;
        durable::sync_dir(&self.dir(from))?;
        durable::sync_dir(&self.dir(to))
    }

    /// Removes a message (delivered, bounced, or deleted by the administrator). The envelope
    /// goes first, so a crash in between leaves an orphan `.msg` for `recover`, never an
    /// envelope without content.
    pub fn remove(&self, id: &QueueId, folder: Folder) -> io::Result<()> {
        fs::remove_file(self.envelope_path(id, folder))?;
        let _ = fs::remove_file(self.content_path(id, folder));
        durable::sync_dir(&self.dir(folder))
    }

    /// At start-up: removes temporary files and contents without an envelope (a crash before
    /// the 250, so never acknowledged). Returns how many files went.
    pub fn recover(&self) -> io::Result<usize> {
        let mut removed = 0;
        for folder in [Folder::Active, Folder::Hold] {
            let dir = self.dir(folder);
            for item in fs::read_dir(&dir)? {
                let path = item?.path();
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let orphan = match name.strip_suffix(".msg") {
                    Some(id) => !dir.join(format!("{id}.env")).exists(),
                    None => name.ends_with(".tmp"),
                };
                if orphan {
                    fs::remove_file(&path)?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// The envelope's text, after checking that it reads back with the same sender, recipients
/// and times. (Status texts may differ: a remote server's line breaks become spaces.)
fn checked_text(entry: &Entry) -> io::Result<String> {
    let text = entry.to_text();
    let addresses = |e: &Entry| {
        e.recipients
            .iter()
            .map(|r| r.address.clone())
            .collect::<Vec<_>>()
    };
    let times = |e: &Entry| (e.arrived, e.attempts, e.next_attempt);
    match Entry::parse(entry.id.clone(), &text) {
        Ok(back)
            if back.from == entry.from
                && addresses(&back) == addresses(entry)
                && times(&back) == times(entry) =>
        {
            Ok(text)
        }
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the envelope of {} would not read back the same", entry.id),
        )),
        Err(e) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the envelope of {} would not read back: {e}", entry.id),
        )),
    }
}

/// Seconds since 1970, the clock queue files count retries in (`src/clock.rs`).
pub use crate::clock::unix_now;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::{self, Address, ReversePath};

    fn addr(text: &str) -> Address {
        address::parse_path(&format!("<{text}>"), true).unwrap()
    }

    #[test]
    fn stage_commit_hold_release_remove_and_recover() {
        let dir = std::env::temp_dir().join(format!("postlab-queue-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let queue = Queue::open(&dir).unwrap();
        let entry = Entry::new(QueueId::new(), ReversePath::Null, vec![addr("bob@b.test")]);
        let staged = queue
            .stage(&entry, &[b"Subject: x\r\n\r\nbody\r\n"])
            .unwrap();
        assert!(
            queue.list(Folder::Active).unwrap().is_empty(),
            "invisible until committed"
        );
        staged.commit().unwrap();
        assert_eq!(queue.list(Folder::Active).unwrap(), vec![entry.clone()]);
        queue
            .move_to(&entry.id, Folder::Active, Folder::Hold)
            .unwrap();
        assert_eq!(queue.find(&entry.id).unwrap().1, Folder::Hold);
        queue
            .move_to(&entry.id, Folder::Hold, Folder::Active)
            .unwrap();
        // A crash between writing content and envelope leaves an orphan that recovery removes.
        fs::write(dir.join("active/AAAAAAAAAAAAA.msg"), "half").unwrap();
        fs::write(dir.join("active/.BBBBBBBBBBBBB.env.tmp"), "half").unwrap();
        assert_eq!(queue.recover().unwrap(), 2);
        assert_eq!(queue.list(Folder::Active).unwrap().len(), 1);
        queue.remove(&entry.id, Folder::Active).unwrap();
        assert!(queue.list(Folder::Active).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
