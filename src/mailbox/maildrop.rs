//! A maildrop: the fixed list of messages a POP3 session works on (RFC 1939 §3, §8).
//!
//! At login the session takes a *snapshot* of the Maildir: every message in `new/` and `cur/`,
//! oldest first, numbered from 1. Messages found in `new/` are moved to `cur/` right away, the
//! Maildir way of saying "a mail client has these now". Mail that arrives during the session
//! lands in `new/` and is not in the snapshot: RFC 1939 §8 wants message numbers and sizes
//! that do not change under the client's feet, so it waits for the next session.
//!
//! Each message's unique id (UIDL, RFC 1939 §7) is the Maildir unique name, which never changes
//! while the file moves between `new/` and `cur/` or gains flags, so it is the same in every
//! session and across server restarts. RFC 1939 allows 1 to 70 characters from `!` to `~`; a
//! name outside that (a very long hostname) is replaced by the MD5 of the name in hex, which is
//! just as stable.
//!
//! IMAP sessions may change a message's flags while the maildrop is open, which renames its
//! file; reading and removing therefore find the file again by its unique name
//! ([`Maildir::find`]) when the remembered one is gone, and the moves and removals take the
//! folder's lock like every other change (`mailbox/mod.rs`).
//!
//! What can go wrong: a file vanishing between the scan and the move (someone else removed it:
//! it is left out), a disk error while scanning (the login fails with `[SYS/TEMP]`), a message
//! an IMAP session expunged meanwhile (RETR answers `-ERR`, DELE's removal finds it gone), and a
//! file that cannot be removed at QUIT (reported, the others are removed anyway).

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use super::durable;
use super::maildir::Maildir;
use crate::ids::QueueId;

/// One message of the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The file, in `cur/`.
    pub path: PathBuf,
    /// The UIDL: the Maildir unique name (or its MD5 when that is not a valid unique-id).
    pub uid: String,
    /// Octets as POP3 counts them: the file, whose lines already end in CRLF.
    pub size: u64,
}

/// Takes the snapshot of the Maildir at `root` (creating it if the account has had no mail yet)
/// and moves what is in `new/` to `cur/`.
pub fn open(root: &Path) -> io::Result<Vec<Message>> {
    let maildir = Maildir::create(root)?;
    let _turn = super::lock::folder(maildir.root());
    let mut messages = Vec::new();
    let mut moved = false;
    for entry in maildir.scan()? {
        let path = if entry.is_new {
            match super::uids::set_flags(&maildir, None, &entry, &entry.flags) {
                Ok(path) => {
                    moved = true;
                    path
                }
                // Gone since the scan: another reader took it.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        } else {
            entry.path.clone()
        };
        messages.push(Message {
            path,
            uid: uid(&entry.unique),
            size: entry.size,
        });
    }
    if moved {
        // The moves are renames: make them durable, as delivery does.
        durable::sync_dir(&root.join("cur"))?;
        durable::sync_dir(&root.join("new"))?;
    }
    Ok(messages)
}

/// The UIDL for a Maildir unique name (RFC 1939 §7: `unique-id = 1*70 0x21-0x7E`).
pub fn uid(unique: &str) -> String {
    let valid =
        (1..=70).contains(&unique.len()) && unique.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if valid {
        unique.to_string()
    } else {
        Md5::digest(unique.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The Maildir and unique name of a maildrop message, from its path (`ROOT/cur/UNIQUE:2,…`).
fn home(message: &Message) -> Option<(Maildir, String)> {
    let root = message.path.parent()?.parent()?;
    let name = message.path.file_name()?.to_string_lossy().into_owned();
    let unique = name.split_once(":2,").map_or(name.as_str(), |(u, _)| u);
    Some((Maildir::create(root).ok()?, unique.to_string()))
}

/// Where a maildrop message is now: its path, or where another session's flag change moved it.
fn locate(message: &Message) -> io::Result<Option<PathBuf>> {
    if message.path.exists() {
        return Ok(Some(message.path.clone()));
    }
    match home(message) {
        Some((maildir, unique)) => Ok(maildir.find(&unique)?.map(|e| e.path)),
        None => Ok(None),
    }
}

/// Opens one message for reading, wherever another session's flag change has moved it (NotFound:
/// an IMAP session expunged it meanwhile). Once open, the file reads whole even if it is
/// renamed or removed while it is being sent.
pub fn open_file(message: &Message) -> io::Result<fs::File> {
    for _ in 0..4 {
        let Some(path) = locate(message)? else {
            break;
        };
        match fs::File::open(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            other => return other,
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "expunged by another session",
    ))
}

/// Reads one message whole (NotFound: an IMAP session expunged it meanwhile).
pub fn read(message: &Message) -> io::Result<Vec<u8>> {
    for _ in 0..4 {
        let Some(path) = locate(message)? else {
            break;
        };
        match fs::read(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            other => return other,
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "expunged by another session",
    ))
}

/// Removes the given messages (the UPDATE state, RFC 1939 §6) and syncs `cur/`. Returns the
/// messages that could not be removed, with the reason; a file already gone counts as removed.
pub fn remove(root: &Path, messages: &[&Message]) -> Vec<(PathBuf, io::Error)> {
    let mut failed = Vec::new();
    let _turn = super::lock::folder(root);
    for message in messages {
        // Under the lock no session of this server renames it between the look and the removal.
        let removed = locate(message).and_then(|path| match path {
            Some(path) => fs::remove_file(path),
            None => Ok(()),
        });
        match removed {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => failed.push((message.path.clone(), e)),
        }
    }
    // Removals the cached listing of `uids` does not follow: it is read again.
    super::uids::forget(root);
    if let Err(e) = durable::sync_dir(&root.join("cur")) {
        failed.push((root.join("cur"), e));
    }
    failed
}

/// The queue id postlab gave a message, from its own `Received:` header
/// (`… by mx.test (postlab) with ESMTP id 19A3C4F2B8D10 …`), so step 7 joins the message's
/// journey in `postlab trace`. Only the header section is looked at.
pub fn queue_id(content: &[u8]) -> Option<QueueId> {
    let end = find(content, b"\r\n\r\n").unwrap_or(content.len());
    let header = String::from_utf8_lossy(&content[..end]);
    let words: Vec<&str> = header.split_whitespace().collect();
    words.windows(4).find_map(|w| {
        (w[0] == "with" && w[2] == "id")
            .then(|| QueueId::parse(w[3].trim_end_matches(';')))
            .flatten()
    })
}

/// The queue id of a message on disk, reading only its first 16 KiB (for deletions, where the
/// message itself is not needed).
pub fn queue_id_of(message: &Message) -> Option<QueueId> {
    let mut start = Vec::with_capacity(16 * 1024);
    fs::File::open(locate(message).ok()??)
        .ok()?
        .take(16 * 1024)
        .read_to_end(&mut start)
        .ok()?;
    queue_id(&start)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_moves_new_to_cur_and_keeps_the_uid() {
        let dir = std::env::temp_dir().join(format!("postlab-maildrop-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let maildir = Maildir::create(&dir).unwrap();
        let path = maildir
            .deliver(&[b"Subject: a\r\n\r\nx\r\n"], "mx.test")
            .unwrap();
        let unique = path.file_name().unwrap().to_string_lossy().into_owned();
        let first = open(&dir).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].uid, unique);
        assert_eq!(first[0].size, 17);
        assert!(first[0].path.starts_with(dir.join("cur")));
        assert_eq!(
            open(&dir).unwrap(),
            first,
            "a second snapshot sees the same"
        );
        // An IMAP session changes the flags (renames the file): still read, still removed.
        let entry = maildir.scan().unwrap().remove(0);
        maildir.set_flags(&entry, "S").unwrap();
        assert_eq!(read(&first[0]).unwrap(), b"Subject: a\r\n\r\nx\r\n");
        assert!(remove(&dir, &[&first[0]]).is_empty());
        assert!(open(&dir).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn uids_are_printable_and_short() {
        assert_eq!(uid("1795.M1P2Q3.mx.test,S=10"), "1795.M1P2Q3.mx.test,S=10");
        let long = uid(&"x".repeat(80));
        assert_eq!(long.len(), 32);
        assert_eq!(long, uid(&"x".repeat(80)), "stable");
        assert_eq!(uid("a b").len(), 32);
    }

    #[test]
    fn queue_id_comes_from_our_received_header() {
        let content = b"Return-Path: <a@b>\r\nReceived: from laptop ([127.0.0.1])\r\n\tby mx.test (postlab) with ESMTP id 19A3C4F2B8D10\r\n\tfor <bob@localhost>; Thu, 26 Nov 2026\r\n\r\nwith x id 19A3C4F2B8D11\r\n";
        assert_eq!(
            queue_id(content).map(|id| id.to_string()),
            Some("19A3C4F2B8D10".into())
        );
        assert_eq!(
            queue_id(b"Subject: x\r\n\r\nwith ESMTP id 19A3C4F2B8D10\r\n"),
            None
        );
    }
}
