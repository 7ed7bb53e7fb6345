//! The outbound queue: messages for other domains wait here between step 3 and step 5.
//!
//! Each message is two files in `DIR/queue/active/` (or `DIR/queue/hold/` while held):
//!
//! ```text
//! 19A3C4F2B8D10.msg   the content: our Received: header, then the client's bytes
//! 19A3C4F2B8D10.env   the envelope, as text a student can read:
//!
//!     # postlab queue file: the envelope of 19A3C4F2B8D10 (content in 19A3C4F2B8D10.msg)
//!     from: <alice@a.test>
//!     arrived: 1795707025
//!     attempts: 1
//!     next-attempt: 1795707325
//!     rcpt: <bob@b.test> pending 421 4.4.0 mx.b.test did not answer
//!     rcpt: <carol@c.test> delivered 250 2.0.0 Ok: queued as 6612F9F5EE851
//!     rcpt: <dan@d.test> failed 5.1.1 550 5.1.1 no such user
//! ```
//!
//! Durability (DESIGN.md, "nothing acknowledged is lost"): both files are written under
//! temporary names and fsynced, then renamed — `.msg` first, `.env` last — and the folder is
//! fsynced, all before the client hears 250. A `.env` file is therefore the mark of a complete
//! message; a `.msg` without one is a crash before the 250, and start-up removes it
//! ([`Queue::recover`]). Every later change to an envelope replaces the `.env` atomically.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ids::QueueId;
use crate::mailbox::durable;
use crate::smtp::address::{self, Address, ReversePath};

/// Which folder of the queue a message is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    /// Waiting for delivery; the queue manager works on these.
    Active,
    /// Stopped by `postlab queue hold`; nothing happens until `release`.
    Hold,
}

impl Folder {
    fn name(self) -> &'static str {
        match self {
            Folder::Active => "active",
            Folder::Hold => "hold",
        }
    }
}

/// Where one recipient stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not delivered yet; the last temporary error, if any.
    Pending(String),
    /// Accepted by the receiving server, with its reply.
    Delivered(String),
    /// Failed for good: enhanced status code and the reason. The sender gets a bounce.
    Failed { status: String, diagnostic: String },
}

/// One recipient in a queue file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRecipient {
    pub address: Address,
    pub status: Status,
}

/// A queue file's envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: QueueId,
    pub from: ReversePath,
    /// Seconds since 1970 when the message arrived.
    pub arrived: u64,
    pub attempts: u32,
    /// Seconds since 1970 of the next delivery attempt.
    pub next_attempt: u64,
    pub recipients: Vec<QueuedRecipient>,
}

impl Entry {
    pub fn new(id: QueueId, from: ReversePath, recipients: Vec<Address>) -> Entry {
        let now = unix_now();
        Entry {
            id,
            from,
            arrived: now,
            attempts: 0,
            next_attempt: now,
            recipients: recipients
                .into_iter()
                .map(|address| QueuedRecipient {
                    address,
                    status: Status::Pending(String::new()),
                })
                .collect(),
        }
    }

    pub fn pending(&self) -> impl Iterator<Item = &QueuedRecipient> {
        self.recipients
            .iter()
            .filter(|r| matches!(r.status, Status::Pending(_)))
    }

    /// The envelope file's text.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "# postlab queue file: the envelope of {id} (content in {id}.msg)\nfrom: {}\narrived: {}\nattempts: {}\nnext-attempt: {}\n",
            self.from,
            self.arrived,
            self.attempts,
            self.next_attempt,
            id = self.id
        );
        for r in &self.recipients {
            let status = match &r.status {
                Status::Pending(why) => format!("pending {why}"),
                Status::Delivered(reply) => format!("delivered {reply}"),
                Status::Failed { status, diagnostic } => format!("failed {status} {diagnostic}"),
            };
            // Reasons come from remote servers: keep them on one line, printable.
            let status: String = status
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            text.push_str(&format!("rcpt: <{}> {}\n", r.address, status.trim_end()));
        }
        text
    }

    pub fn parse(id: QueueId, text: &str) -> Result<Entry, String> {
        let mut entry = Entry {
            id,
            from: ReversePath::Null,
            arrived: 0,
            attempts: 0,
            next_attempt: 0,
            recipients: Vec::new(),
        };
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let (key, value) = line
                .split_once(": ")
                .ok_or_else(|| format!("bad line {line:?}"))?;
            let number = || {
                value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| format!("bad number in {line:?}"))
            };
            match key {
                "from" if value == "<>" => entry.from = ReversePath::Null,
                "from" => {
                    entry.from = ReversePath::Mailbox(
                        address::parse_path(value, true)
                            .map_err(|e| format!("{e:?} in {line:?}"))?,
                    )
                }
                "arrived" => entry.arrived = number()?,
                "attempts" => entry.attempts = number()? as u32,
                "next-attempt" => entry.next_attempt = number()?,
                "rcpt" => {
                    let end = value.find("> ").map(|i| i + 1).unwrap_or(value.len());
                    let address = address::parse_path(&value[..end], true)
                        .map_err(|e| format!("{e:?} in {line:?}"))?;
                    let rest = value[end..].trim();
                    let (word, detail) = rest.split_once(' ').unwrap_or((rest, ""));
                    let status = match word {
                        "pending" => Status::Pending(detail.to_string()),
                        "delivered" => Status::Delivered(detail.to_string()),
                        "failed" => {
                            let (status, diagnostic) =
                                detail.split_once(' ').unwrap_or((detail, ""));
                            Status::Failed {
                                status: status.to_string(),
                                diagnostic: diagnostic.to_string(),
                            }
                        }
                        _ => return Err(format!("bad status in {line:?}")),
                    };
                    entry.recipients.push(QueuedRecipient { address, status });
                }
                _ => return Err(format!("unknown field in {line:?}")),
            }
        }
        if entry.recipients.is_empty() {
            return Err("no recipients".into());
        }
        Ok(entry)
    }
}

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
        for folder in [Folder::Active, Folder::Hold] {
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
            write(&tmp_msg, content).and_then(|()| write(&tmp_env, &[entry.to_text().as_bytes()]));
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
        durable::write_atomically(&path, entry.to_text().as_bytes())
    }

    /// The messages in a folder, oldest first. Unreadable envelopes are reported, not fatal.
    pub fn list(&self, folder: Folder) -> io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for item in fs::read_dir(self.dir(folder))? {
            let name = item?.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".env").and_then(QueueId::parse) else {
                continue;
            };
            match self.load_from(&id, folder) {
                Ok(entry) => entries.push(entry),
                Err(e) => log::warn!("queue: skipping {name}: {e}"),
            }
        }
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(entries)
    }

    fn load_from(&self, id: &QueueId, folder: Folder) -> io::Result<Entry> {
        let text = fs::read_to_string(self.envelope_path(id, folder))?;
        Entry::parse(id.clone(), &text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
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

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Address {
        address::parse_path(&format!("<{text}>"), true).unwrap()
    }

    #[test]
    fn envelope_text_round_trips() {
        let mut entry = Entry::new(
            QueueId::new(),
            ReversePath::Mailbox(addr("alice@a.test")),
            vec![addr("bob@b.test"), addr("c@c.test"), addr("d@d.test")],
        );
        entry.recipients[1].status = Status::Delivered("250 2.0.0 Ok".into());
        entry.recipients[2].status = Status::Failed {
            status: "5.1.1".into(),
            diagnostic: "550 5.1.1 no\r\nsuch user".into(),
        };
        let text = entry.to_text();
        assert!(
            text.contains("rcpt: <d@d.test> failed 5.1.1 550 5.1.1 no  such user\n"),
            "{text}"
        );
        let back = Entry::parse(entry.id.clone(), &text).unwrap();
        assert_eq!(back.recipients[0], entry.recipients[0]);
        assert_eq!(back.recipients[1], entry.recipients[1]);
        assert_eq!(back.from, entry.from);
        let bounce = Entry::new(QueueId::new(), ReversePath::Null, vec![addr("x@y.test")]);
        assert_eq!(
            Entry::parse(bounce.id.clone(), &bounce.to_text())
                .unwrap()
                .from,
            ReversePath::Null
        );
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
